"""The FastAPI application: Twilio webhooks, the JSON API and health checks."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from app import admin, alerts_api, api, health, rasa_actions, webhooks
from app.config import Settings, get_settings
from app.console import content_pages, insights, operations, simulator
from app.console import views as console
from app.db import make_engine, upgrade
from app.knowledge.live import LiveKnowledge
from app.outbound import Twilio
from app.pipeline import Assistant
from app.queue import Queue
from app.ratelimit import SenderLimits

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
        app.state.assistant = assistant = Assistant(settings, engine, knowledge)
        app.state.queue = Queue(settings)  # the app only enqueues; `migrantinfo worker` sends
        app.state.twilio, app.state.limits = Twilio(settings), SenderLimits(settings)  # operators' replies
        if engine.dialect.name == "sqlite":  # one writer: hand messages to one thread at a time, in order
            assistant.limiter = anyio.CapacityLimiter(1)
            # With the embedded engine nothing leaves the process: a message costs ~1.5 ms of CPU, so it is
            # handled on the event loop, without thread hand-offs (SQLite's busy timeout still bounds waits).
            assistant.inline = settings.handle_inline and settings.engine == "embedded"
        yield
        assistant.understander.close()
        knowledge.stop()
        engine.dispose()

    app = FastAPI(title="Migrantinfo", version="0.1.0", lifespan=lifespan)
    app.include_router(webhooks.router)
    app.include_router(api.router)
    app.include_router(alerts_api.router)
    app.include_router(health.router)
    app.include_router(admin.router)
    app.include_router(rasa_actions.router)
    app.include_router(console.router)
    for page in (simulator, content_pages, insights, operations):
        app.include_router(page.router)

    @app.exception_handler(console.LoginRequired)
    async def to_login(_request: Request, _exc: console.LoginRequired) -> RedirectResponse:
        return RedirectResponse("/console/login", status_code=303)

    return app
