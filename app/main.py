"""The FastAPI application: Twilio webhooks, the JSON API and health checks."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException

from app import fields, logs
from app.api import admin, alerts, health, messages, rasa_actions, twilio
from app.config import Settings, get_settings
from app.console import content_pages, insights, operations, simulator
from app.console import views as console
from app.conversation.pipeline import Assistant
from app.conversation.replay import Replayer, twilio_sender
from app.knowledge import retrieval
from app.knowledge.live import LiveKnowledge
from app.outbound.ratelimit import SenderLimits
from app.outbound.twilio_rest import Twilio
from app.storage.db import make_engine, upgrade

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the database is migrated and the knowledge base loaded before it serves."""
    settings = settings or get_settings()
    logs.configure(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, timeout_seconds=settings.db_timeout_seconds)
        upgrade(engine)
        # Invalid files: the snapshot serves if there is one, and /readyz says which and why.
        knowledge = LiveKnowledge.start(settings.content_dir, locales_dir=settings.locales_dir,
                                        snapshot_dir=settings.content_snapshot_dir)
        if settings.content_watch_seconds > 0:
            knowledge.watch(every=settings.content_watch_seconds)
        if not settings.signature_required:
            log.warning("Twilio signatures are NOT checked: development mode with no TWILIO_AUTH_TOKEN")
        app.state.settings = settings
        app.state.engine = engine
        app.state.knowledge = knowledge
        app.state.assistant = assistant = Assistant(settings, engine, knowledge)
        retrieval.CACHE.apart = True  # a new content's index is built in a child process, not in this one
        if knowledge.ready:  # the entries' index, built (or loaded from ENGINE_CACHE_DIR) before the first message
            await anyio.to_thread.run_sync(knowledge.get().warm)
        app.state.queue = None  # built on first use (api.deps.queue_of): the app only enqueues, the worker sends
        app.state.twilio, app.state.limits = Twilio(settings), SenderLimits(settings)  # operators' replies
        if engine.dialect.name == "sqlite" and settings.engine == "embedded":
            # One writer and nothing that waits on the network: hand messages to one thread at a time, in order.
            # (With Rasa, threads must be free to wait on it while another one writes.)
            assistant.limiter = anyio.CapacityLimiter(1)
        replayer = Replayer(assistant, assistant.inbox, twilio_sender(app.state.twilio, app.state.limits),
                            every=settings.inbox_replay_seconds,
                            older_than=settings.inbox_replay_after_seconds).start()
        yield
        replayer.stop()
        assistant.inbox.close()
        assistant.understander.close()
        knowledge.stop()
        engine.dispose()

    hidden = settings.is_production  # the API's description helps no one in production but a prober
    app = FastAPI(title="Migrantinfo", version="0.1.0", lifespan=lifespan, docs_url=None if hidden else "/docs",
                  redoc_url=None if hidden else "/redoc", openapi_url=None if hidden else "/openapi.json")
    app.include_router(twilio.router)
    app.include_router(messages.router)
    app.include_router(alerts.router)
    app.include_router(health.router)
    app.include_router(admin.router)
    app.include_router(rasa_actions.router)
    app.include_router(console.router)
    for page in (simulator, content_pages, insights, operations):
        app.include_router(page.router)

    app.exception_handler(RequestValidationError)(fields.validation_failed)

    @app.exception_handler(console.LoginRequired)
    async def to_login(_request: Request, _exc: console.LoginRequired) -> RedirectResponse:
        return RedirectResponse("/console/login", status_code=303)

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Response:
        """A path no route knows: under /console it carries the console's headers too."""
        assert isinstance(exc, HTTPException)
        response = await http_exception_handler(request, exc)
        return console.secure(request, response) if request.url.path.startswith("/console") else response

    return app
