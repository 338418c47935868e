"""Types shared by the JSON models and routes: only what both databases (and a log line) can hold."""

from typing import Annotated

from fastapi import Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator

INT_MAX = 2**31 - 1  # PostgreSQL's integer, the narrower of the two databases: ids and error codes
SURROGATES = "lone surrogates are not allowed: the text is not valid Unicode"


def _storable(value: str) -> str:
    """PostgreSQL refuses NUL in text, and no database (nor a log line) can encode a lone surrogate."""
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(SURROGATES) from None
    return value


StorableStr = Annotated[str, AfterValidator(_storable)]
RowId = Annotated[int, Path(ge=1, le=INT_MAX, description="a row id")]


async def validation_failed(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with what was wrong where, without echoing the input: a lone surrogate in it cannot even be encoded."""
    detail = []
    for error in exc.errors():
        message = SURROGATES if error["type"] == "string_unicode" else error["msg"]  # pydantic's own, in JSON
        detail.append({"type": error["type"], "loc": [_printable(part) for part in error["loc"]], "msg": message})
    return JSONResponse({"detail": detail}, status_code=422)


def _printable(part: object) -> object:
    return part.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(part, str) else part
