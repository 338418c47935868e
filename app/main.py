"""The FastAPI application: Twilio webhooks, the JSON API and health checks."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import admin, api, health, webhooks
from app.config import Settings, get_settings
from app.db import make_engine, upgrade
from app.knowledge.live import LiveKnowledge
from app.pipeline import Assistant

log = logging.getLogger("migrantinfo")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the database is migrated and the knowledge base loaded before it serves."""
    settings = settings or get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, timeout_seconds=settings.db_timeout_seconds)
        upgrade(engine)
        knowledge = LiveKnowledge(settings.content_dir, locales_dir=settings.locales_dir)
        knowledge.reload()
        if settings.content_watch_seconds > 0:
            knowledge.watch(every=settings.content_watch_seconds)
        if not settings.signature_required:
            log.warning("Twilio signatures are NOT checked: development mode with no TWILIO_AUTH_TOKEN")
        app.state.settings = settings
        app.state.engine = engine
        app.state.knowledge = knowledge
        app.state.assistant = Assistant(settings, engine, knowledge)
        yield
        knowledge.stop()
        engine.dispose()

    app = FastAPI(title="Migrantinfo", version="0.1.0", lifespan=lifespan)
    app.include_router(webhooks.router)
    app.include_router(api.router)
    app.include_router(health.router)
    app.include_router(admin.router)
    return app
