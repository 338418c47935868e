"""The alerts API: preview, send and follow an alert (admin token required)."""

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from app.api.deps import EngineDep, KnowledgeDep, SettingsDep, queue_of, require_admin_token
from app.config import Settings
from app.fields import RowId, StorableStr
from app.knowledge.base import KnowledgeBase
from app.outbound import alerts

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], dependencies=[Depends(require_admin_token)])


class AlertIn(BaseModel):
    country: StorableStr = Field(min_length=2, max_length=2, description="two-letter code, e.g. MX")
    texts: dict[StorableStr, StorableStr] = Field(description="the alert per language, e.g. {'es': '...', 'en': '...'}")
    created_by: StorableStr = Field("api", max_length=64)


class PreviewOut(BaseModel):
    language: str
    text: str
    sms_text: str
    sms_segments: int
    sms_encoding: str
    recipients: int
    templates: int


class AlertOut(BaseModel):
    id: int
    country: str
    status: str
    counts: dict[str, int]
    failures: dict[str, int]


def _composed(body: AlertIn, kb: KnowledgeBase, settings: Settings) -> dict[str, str]:
    try:
        return alerts.compose_all(kb, country=body.country.upper(), texts=body.texts, locales_dir=settings.locales_dir)
    except alerts.AlertError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


@router.post("/preview", response_model=list[PreviewOut])
async def preview(body: AlertIn, settings: SettingsDep, engine: EngineDep, knowledge: KnowledgeDep) -> list:
    composed = _composed(body, knowledge.get(), settings)
    views = await anyio.to_thread.run_sync(lambda: alerts.preview(engine, country=body.country.upper(),
                                                                  composed=composed))
    return [PreviewOut(**vars(v)) for v in views]


@router.post("", status_code=202, response_model=AlertOut)
async def send(body: AlertIn, request: Request, settings: SettingsDep, engine: EngineDep,
               knowledge: KnowledgeDep) -> AlertOut:
    try:  # a refused alert is refused before anything is stored
        alert_id = await anyio.to_thread.run_sync(lambda: alerts.start(
            engine, queue_of(request.app), kb=knowledge.get(), settings=settings, country=body.country.upper(),
            texts=body.texts, created_by=body.created_by))
    except alerts.AlertError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return await status(alert_id, engine)


@router.get("/{alert_id}", response_model=AlertOut)
async def status(alert_id: RowId, engine: EngineDep) -> AlertOut:
    alert = await anyio.to_thread.run_sync(alerts.get, engine, alert_id)
    if alert is None:
        raise HTTPException(status_code=404, detail=f"no alert {alert_id}")
    counts = await anyio.to_thread.run_sync(alerts.counts, engine, alert_id)
    failures = await anyio.to_thread.run_sync(alerts.failures, engine, alert_id)
    return AlertOut(id=alert_id, country=alert["country"], status=alert["status"], counts=counts, failures=failures)
