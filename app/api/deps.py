"""Request-scoped access to the app's long-lived parts.

All async: FastAPI runs a sync dependency in a worker thread, a hand-off per dependency per request.
"""

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.engine import Engine

from app.config import Settings
from app.conversation.pipeline import Assistant
from app.knowledge.live import LiveKnowledge


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _assistant(request: Request) -> Assistant:
    return request.app.state.assistant


async def _engine(request: Request) -> Engine:
    return request.app.state.engine


async def _knowledge(request: Request) -> LiveKnowledge:
    return request.app.state.knowledge


SettingsDep = Annotated[Settings, Depends(_settings)]
AssistantDep = Annotated[Assistant, Depends(_assistant)]
EngineDep = Annotated[Engine, Depends(_engine)]
KnowledgeDep = Annotated[LiveKnowledge, Depends(_knowledge)]


async def require_token(settings: SettingsDep, authorization: str = Header(default="")) -> None:
    """A bearer token equal to API_TOKEN, when one is set."""
    if not settings.api_token:
        return
    if not hmac.compare_digest(authorization.encode(), f"Bearer {settings.api_token}".encode()):
        raise HTTPException(status_code=401, detail="missing or wrong bearer token",
                            headers={"WWW-Authenticate": "Bearer"})


async def require_admin_token(settings: SettingsDep, authorization: str = Header(default="")) -> None:
    """Admin actions always need API_TOKEN: refused outright when none is configured."""
    if not settings.api_token:
        raise HTTPException(status_code=403, detail="set API_TOKEN to use the admin endpoints")
    await require_token(settings, authorization)
