"""Request-scoped access to the app's long-lived parts."""

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from app.config import Settings
from app.knowledge.live import LiveKnowledge
from app.pipeline import Assistant


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _assistant(request: Request) -> Assistant:
    return request.app.state.assistant


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _knowledge(request: Request) -> LiveKnowledge:
    return request.app.state.knowledge


SettingsDep = Annotated[Settings, Depends(_settings)]
AssistantDep = Annotated[Assistant, Depends(_assistant)]
EngineDep = Annotated[Engine, Depends(_engine)]
KnowledgeDep = Annotated[LiveKnowledge, Depends(_knowledge)]
