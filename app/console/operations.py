"""Operators' pages: the hand-over queue (read, reply, close) and alerts (write, preview, send, follow)."""

import logging
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from app.api.deps import EngineDep, KnowledgeDep, SettingsDep, queue_of
from app.config import Settings
from app.console import auth
from app.console.views import ConsoleRoute, console_language, render, role
from app.crypto import box_for
from app.fields import RowId
from app.i18n import LANGUAGES, Refusal, Texts
from app.knowledge.live import LiveKnowledge
from app.outbound import alerts, handovers

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)
Operator = Annotated[auth.Account, Depends(role("operator", "admin"))]


def _explain(request: Request, refusal: Refusal) -> str:
    """A refusal's reason in the console's language."""
    return refusal.explain(Texts(console_language(request), request.app.state.settings.locales_dir))


# --- hand-overs ---

@router.get("/handovers")
async def handover_queue(request: Request, account: Operator, engine: EngineDep) -> HTMLResponse:
    rows = await anyio.to_thread.run_sync(handovers.queue, engine)
    for row in rows:
        row["age"] = handovers.age(row)
    return render(request, "handovers.html", account=account, handovers=rows)


@router.get("/handovers/{handover_id}")
async def handover_page(request: Request, handover_id: RowId, account: Operator, engine: EngineDep) -> HTMLResponse:
    return await _handover_view(request, handover_id, account, engine)


async def _handover_view(request: Request, handover_id: int, account: auth.Account, engine: Engine, *,
                         error: str | None = None, status: int = 200) -> HTMLResponse:
    handover = await anyio.to_thread.run_sync(handovers.get, engine, handover_id)
    if handover is None:
        return render(request, "handovers.html", status=404, account=account, handovers=[], missing=handover_id)
    messages = await anyio.to_thread.run_sync(handovers.conversation, engine, handover)
    window = await anyio.to_thread.run_sync(handovers.window_open, engine, handover) \
        if handover["status"] == "open" else False
    return render(request, "handover.html", status=status, account=account, handover=handover, messages=messages,
                  window=window, error=error)


@router.post("/handovers/{handover_id}/reply")
async def handover_reply(request: Request, handover_id: RowId, account: Operator, engine: EngineDep,
                         settings: SettingsDep, text: Annotated[str, Form()] = "") -> Response:
    try:
        await _send(request, handover_id, text, account, settings, engine)
    except handovers.HandoverError as exc:
        return await _handover_view(request, handover_id, account, engine, error=_explain(request, exc), status=409)
    log.info("hand-over %s: reply sent by %s", handover_id, account.name)
    return RedirectResponse(f"/console/handovers/{handover_id}", status_code=303)


async def _send(request: Request, handover_id: int, text: str, account: auth.Account, settings: Settings,
                engine: Engine) -> str:
    state = request.app.state
    box = box_for(settings.address_keys, settings.hash_secret)
    return await anyio.to_thread.run_sync(lambda: handovers.reply(
        engine, handover_id, text, by=account.name, twilio=state.twilio, limits=state.limits, box=box,
        settings=settings))


@router.post("/handovers/{handover_id}/close")
async def handover_close(request: Request, handover_id: RowId, account: Operator, engine: EngineDep,
                         settings: SettingsDep, tell: Annotated[str, Form()] = "") -> Response:
    handover = await anyio.to_thread.run_sync(handovers.get, engine, handover_id)
    if tell and handover is not None and handover["status"] == "open":
        text = handovers.farewell(handover, settings.locales_dir)
        try:
            await _send(request, handover_id, text, account, settings, engine)
            log.info("hand-over %s: farewell sent by %s", handover_id, account.name)
        except handovers.HandoverError as exc:  # closing must not depend on Twilio: say so, close anyway
            log.warning("hand-over %s: the farewell was not sent: %s", handover_id, exc)
    try:
        await anyio.to_thread.run_sync(lambda: handovers.close(engine, handover_id, by=account.name))
    except handovers.HandoverError as exc:
        return await _handover_view(request, handover_id, account, engine, error=_explain(request, exc), status=409)
    log.info("hand-over %s closed by %s", handover_id, account.name)
    return RedirectResponse("/console/handovers", status_code=303)


# --- alerts ---

@router.get("/alerts")
async def alerts_page(request: Request, account: Operator, engine: EngineDep, knowledge: KnowledgeDep) -> HTMLResponse:
    rows = await anyio.to_thread.run_sync(alerts.recent, engine)
    counts = await anyio.to_thread.run_sync(alerts.counts_of, engine, [row["id"] for row in rows])
    for row in rows:
        row["counts"] = counts[row["id"]]
    return render(request, "alerts.html", previews=None, error=None,
                  reach=await anyio.to_thread.run_sync(alerts.subscribers_per_country, engine),
                  **_form(request, account, knowledge, texts={}, country=None, sent=rows))


def _form(request: Request, account: auth.Account, knowledge: LiveKnowledge, *, texts: dict[str, str],
          country: str | None, sent: list[dict] | None = None) -> dict:
    """What the alert form shows: the countries by name in the console's language, the texts written so far."""
    language, kb = console_language(request), knowledge.get()
    countries = sorted(((code, kb.country_name(code, language)) for code in kb.countries), key=lambda c: c[1])
    return dict(account=account, alerts=sent or [], countries=countries, languages=LANGUAGES, texts=texts,
                country=country)


async def _form_texts(request: Request) -> dict[str, str]:
    form = await request.form()
    return {lang: str(form.get(f"text_{lang}") or "") for lang in LANGUAGES}


@router.post("/alerts/preview")
async def alert_preview(request: Request, account: Operator, engine: EngineDep, settings: SettingsDep,
                        knowledge: KnowledgeDep, country: Annotated[str, Form()] = "") -> HTMLResponse:
    texts = await _form_texts(request)
    values = _form(request, account, knowledge, texts=texts, country=country)
    try:
        composed = alerts.compose_all(knowledge.get(), country=country.upper(), texts=texts,
                                      locales_dir=settings.locales_dir)
    except alerts.AlertError as exc:
        return render(request, "alerts.html", status=422, previews=None, error=_explain(request, exc), **values)
    previews = await anyio.to_thread.run_sync(lambda: alerts.preview(engine, country=country.upper(),
                                                                     composed=composed))
    return render(request, "alerts.html", previews=previews, error=None, **values)


@router.post("/alerts")
async def alert_send(request: Request, account: Operator, engine: EngineDep, settings: SettingsDep,
                     knowledge: KnowledgeDep, country: Annotated[str, Form()] = "") -> Response:
    texts = await _form_texts(request)
    try:
        alert_id = await anyio.to_thread.run_sync(lambda: alerts.start(
            engine, queue_of(request.app), kb=knowledge.get(), settings=settings, country=country.upper(),
            texts=texts, created_by=account.name))
    except alerts.AlertError as exc:
        return render(request, "alerts.html", status=422, previews=None, error=_explain(request, exc),
                      **_form(request, account, knowledge, texts=texts, country=country))
    log.info("alert %s to %s sent by %s", alert_id, country.upper(), account.name)
    return RedirectResponse(f"/console/alerts/{alert_id}", status_code=303)


@router.get("/alerts/{alert_id}")
async def alert_page(request: Request, alert_id: RowId, account: Operator, engine: EngineDep) -> HTMLResponse:
    alert = await anyio.to_thread.run_sync(alerts.get, engine, alert_id)
    if alert is None:
        return HTMLResponse("no such alert", status_code=404)
    counts = await anyio.to_thread.run_sync(alerts.counts, engine, alert_id)
    failures = await anyio.to_thread.run_sync(alerts.failures, engine, alert_id)
    return render(request, "alert.html", account=account, alert=alert, counts=counts, failures=failures,
                  order=alerts.COUNT_ORDER)
