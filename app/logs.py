"""Log lines that stay one line: control characters in values are escaped, so no value can forge a line."""

import logging
import re

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# C0 and C1 controls (CR, LF, ESC, ...), DEL, and the Unicode line and paragraph separators
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape(text: str) -> str:
    """'a\\nb' -> 'a\\\\nb': the character as its Python escape."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class OneLineFormatter(logging.Formatter):
    """Escapes the formatted message; a traceback (appended after it) keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        return escape(super().formatMessage(record))


def configure(level: str | int) -> None:
    """Like logging.basicConfig (nothing changes when the root logger already has a handler), one line a record.

    Every module logs to logging.getLogger(__name__), so the app's records (app.*) reach this root handler."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
