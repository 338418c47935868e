"""Twilio's doors: inbound messages (SMS and WhatsApp) and delivery status callbacks."""

import logging
from collections.abc import Mapping
from functools import partial
from typing import cast

import anyio
from fastapi import APIRouter, Request, Response

from app.api.deps import AssistantDep, EngineDep, SettingsDep
from app.channels.twilio import (
    BadRequest,
    parse_inbound,
    parse_status,
    signature_is_valid,
    status_rank,
    twiml,
)
from app.config import Settings
from app.conversation.pipeline import answer
from app.outbound import buttons
from app.outbound.delivery import record_callback
from app.storage import store

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks/twilio", tags=["twilio"])
FORM = "application/x-www-form-urlencoded"
# Twilio's largest form (4,096 characters of WhatsApp text, each percent-encoded up to 12 bytes, and its other
# fields) stays well under this; anything larger is not Twilio and is refused before it is parsed.
MAX_BODY_BYTES = 128 * 1024


def public_url(request: Request, settings: Settings) -> str:
    """The URL Twilio called, rebuilt from PUBLIC_BASE_URL: behind a proxy the internal one differs."""
    url = settings.public_base_url.rstrip("/") + request.url.path
    return f"{url}?{request.url.query}" if request.url.query else url


async def _verified_form(request: Request, settings: Settings) -> Mapping[str, str] | Response:
    """The form of a genuine Twilio request, or the 4xx response to give instead."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        return Response(f"expected {FORM}", status_code=400, media_type="text/plain")
    length = request.headers.get("content-length", "")
    if not length.isascii() or not length.isdigit():
        return Response("a Content-Length is needed", status_code=411, media_type="text/plain")
    if int(length) > MAX_BODY_BYTES:
        return Response(f"the body is larger than {MAX_BODY_BYTES} bytes", status_code=413, media_type="text/plain")
    try:
        # An urlencoded form holds only text (files come only in multipart bodies, refused above).
        form = cast(Mapping[str, str], await request.form())
    except Exception:  # the multipart/form parser raises several kinds of errors on broken bodies
        return Response("malformed form body", status_code=400, media_type="text/plain")
    if settings.signature_required:
        signature = request.headers.get("x-twilio-signature", "")
        if not signature_is_valid(token=settings.twilio_auth_token, url=public_url(request, settings),
                                  params=form, signature=signature):
            log.warning("rejected request with %s Twilio signature", "a wrong" if signature else "no")
            request.app.state.assistant.metrics.signature_failures.inc()
            return Response("invalid or missing X-Twilio-Signature", status_code=403, media_type="text/plain")
    return form


@router.post("")
async def inbound(request: Request, settings: SettingsDep, assistant: AssistantDep) -> Response:
    """Answer one SMS or WhatsApp message with TwiML, always with 200 once the request is genuine."""
    form = await _verified_form(request, settings)
    if isinstance(form, Response):
        return form
    try:
        msg = parse_inbound(form)
    except BadRequest as exc:
        return Response(str(exc), status_code=400, media_type="text/plain")
    try:
        outcome = await answer(assistant, msg, budget=settings.reply_budget_seconds)
        body = twiml(outcome.bodies)
        template = None if outcome.failed or outcome.duplicate else \
            buttons.template_for(settings, msg, outcome.understanding, outcome.bodies)
        if template:
            state = request.app.state
            if await anyio.to_thread.run_sync(partial(buttons.send, state.twilio, state.limits, msg,
                                                      outcome.bodies[0], template)):
                body = twiml([])  # the choices went with their buttons
    except Exception:  # handle() never raises; this is the last net, so Twilio never sees a 5xx
        log.exception("unexpected failure sid=%s", msg.sid)
        body = twiml([assistant.apology(msg)])
    return Response(body, media_type="application/xml")


@router.post("/status")
async def status(request: Request, settings: SettingsDep, engine: EngineDep) -> Response:
    """Record the delivery status of an outbound message."""
    form = await _verified_form(request, settings)
    if isinstance(form, Response):
        return form
    try:
        sid, state, error_code = parse_status(form)
    except BadRequest as exc:
        return Response(str(exc), status_code=400, media_type="text/plain")
    def record() -> None:
        store.record_status(engine, sid=sid, status=state, error_code=error_code, rank=status_rank)
        record_callback(engine, sid=sid, status=state, error_code=error_code)  # an alert's message, if it is one

    await anyio.to_thread.run_sync(record)
    if error_code:
        log.info("delivery %s sid=%s error=%s", state, sid, error_code)
    return Response(status_code=204)
