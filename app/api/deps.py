"""Request-scoped access to the app's long-lived parts.

All async: FastAPI runs a sync dependency in a worker thread, a hand-off per dependency per request.
"""

import hmac
import threading
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from sqlalchemy.engine import Engine

from app.config import Settings
from app.conversation.pipeline import Assistant
from app.knowledge.live import LiveKnowledge

if TYPE_CHECKING:
    from app.outbound.queue import Queue

_QUEUE = threading.Lock()


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _assistant(request: Request) -> Assistant:
    return request.app.state.assistant


async def _engine(request: Request) -> Engine:
    return request.app.state.engine


async def _knowledge(request: Request) -> LiveKnowledge:
    return request.app.state.knowledge


def queue_of(app: FastAPI) -> "Queue":
    """The job queue, built on first use: huey and Redis's client load only in a process that sends alerts."""
    with _QUEUE:
        if getattr(app.state, "queue", None) is None:
            from app.outbound.queue import Queue

            app.state.queue = Queue(app.state.settings)
        return app.state.queue


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
