"""The floors under the full path: what the webhook's guarantees cost before any understanding.

`FLOOR_STEPS` (1-4) adds them one by one to the bare endpoint, each with the app's own code:
1. verify: the request's checks and its Twilio signature, the message parsed (app.api.twilio, app.channels.twilio);
2. journal: the message written to the inbox journal before anything else, marked answered after
   (app.conversation.inbox: a crash never loses a message);
3. thread: the work handed to a thread, as the app does so that a locked database or a hanging engine never
   holds the event loop;
4. record: one transaction that claims the MessageSid (a redelivery is answered once) and stores the reply
   (app.storage.store), one writer at a time on SQLite.
The full path adds to step 4 the contact, the dialogue (keywords, understanding, retrieval), the rendering and
the conversation log.
"""

import os
import threading
from functools import partial
from types import SimpleNamespace

import anyio
from fastapi import FastAPI, Request, Response

from app.api.twilio import _verified_form
from app.channels.twilio import parse_inbound, twiml
from app.config import Settings
from app.conversation.inbox import Inbox
from app.crypto import box_for
from app.messages import Inbound
from app.metrics import Metrics
from app.storage import store
from app.storage.db import make_engine, upgrade

REPLY = "Hola. Escribe MENU."


def create_app() -> FastAPI:
    steps = int(os.environ.get("FLOOR_STEPS", "4"))
    settings = Settings()
    engine = make_engine(settings.database_url, timeout_seconds=settings.db_timeout_seconds)
    upgrade(engine)
    inbox = Inbox(settings.inbox_dir, box_for(settings.address_keys, settings.hash_secret))
    writer = threading.Lock()
    app = FastAPI()
    app.state.assistant = SimpleNamespace(metrics=Metrics())  # what _verified_form counts refusals on
    limiter = anyio.CapacityLimiter(1)  # as the app on SQLite with the embedded engine

    def record(msg: Inbound) -> None:
        with writer, engine.begin() as conn:
            store.claim(conn, sid=msg.sid, channel=msg.channel)
            store.finish(conn, sid=msg.sid, bodies=[REPLY], values={"intent": "floor", "answered": True})

    @app.post("/webhooks/twilio")
    async def webhook(request: Request) -> Response:
        form = await _verified_form(request, settings)
        if isinstance(form, Response):
            return form
        msg = parse_inbound(form)
        if steps >= 2:
            inbox.received(msg)
        if steps >= 4:
            await anyio.to_thread.run_sync(partial(record, msg), limiter=limiter)
        elif steps >= 3:
            await anyio.to_thread.run_sync(lambda: None, limiter=limiter)
        if steps >= 2:
            inbox.answered(msg.sid)
        return Response(twiml([REPLY]), media_type="application/xml")

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    return app
