"""The Rasa action-server protocol, served by the app: Rasa's custom action answers from content/.

Rasa calls POST /rasa/webhook?token=... with {"next_action", "sender_id", "tracker", "domain", "version"} and gets
{"events": [...], "responses": [...]}; the response carries the understanding as a custom payload, so the
app's dialogue answers Rasa's understanding exactly as it answers the embedded engine's. The token is the
`token` of `action_endpoint` in bot/endpoints.yml, which Rasa sends as a query parameter.
"""

import hmac
import json
from time import perf_counter
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from app.api.deps import KnowledgeDep, SettingsDep
from app.channels.render import whatsapp_text
from app.config import Settings
from app.fields import StorableStr
from app.knowledge.live import LiveKnowledge
from app.knowledge.schema import TOPIC_IDS

router = APIRouter(prefix="/rasa", tags=["rasa"])
ACTIONS = {"action_answer"}


class Intent(BaseModel):
    name: StorableStr | None = None
    confidence: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)


class Entity(BaseModel):
    entity: StorableStr | None = None
    value: Any = None


class Metadata(BaseModel):
    """What RasaEngine sent along with the message; echoed back, so held to what the app sends."""

    language: str | None = Field(None, pattern=r"^[a-z]{2,3}$")
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")


class LatestMessage(BaseModel):
    intent: Intent | None = None
    entities: list[Entity] | None = None
    metadata: Metadata | None = None


class Tracker(BaseModel):
    latest_message: LatestMessage | None = None
    slots: dict[str, Any] | None = None


class ActionCall(BaseModel):
    next_action: StorableStr
    tracker: Tracker


def _refused(error: str, status: int, action: str | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "action_name": action}, status_code=status)


@router.get("/health")
async def health() -> dict:
    return {"status": "ok"}


@router.post("/webhook")
async def webhook(request: Request, knowledge: KnowledgeDep, settings: SettingsDep, token: str = "") -> JSONResponse:
    started = perf_counter()
    try:
        return await _act(request, knowledge, settings, token)
    finally:  # the app's share of a Rasa call: what the benchmark separates from Rasa's own time
        request.app.state.assistant.metrics.action_latency.observe(perf_counter() - started)


async def _act(request: Request, knowledge: LiveKnowledge, settings: Settings, token: str) -> JSONResponse:
    if not hmac.compare_digest(token.encode(), settings.action_token.encode()):
        return _refused("missing or wrong token: set the same RASA_ACTION_TOKEN for the app and Rasa", 401)
    try:
        call = ActionCall.model_validate(json.loads(await request.body()))
    except (ValueError, RecursionError) as exc:  # not JSON, or not a tracker (ValidationError is a ValueError)
        return _refused(f"expected next_action and a tracker: {_reason(exc)}", 400)
    if call.next_action not in ACTIONS:
        return _refused(f"no action {call.next_action!r}", 404, call.next_action)
    kb = knowledge.get()
    latest = call.tracker.latest_message or LatestMessage()
    metadata = latest.metadata or Metadata()
    intent = (latest.intent.name if latest.intent else None) or "out_of_scope"
    confidence = (latest.intent.confidence if latest.intent else None) or 0.0
    if intent == "nlu_fallback":
        intent = "out_of_scope"
    mentioned = [kb.country_for_word(str(e.value or "")) for e in latest.entities or [] if e.entity == "country"]
    slot = (call.tracker.slots or {}).get("country")
    country = next((c for c in mentioned if c), None) or kb.country_for_word(str(slot or "")) or metadata.country
    language = metadata.language or "es"
    topic = intent if intent in TOPIC_IDS else None
    understanding = {"intent": intent, "topic": topic, "country": country, "language": language,
                     "confidence": round(confidence, 4)}
    text = ""
    if topic:
        answer = kb.answer(topic, country, language)
        text = whatsapp_text(answer.whatsapp) if answer else ""
    events = [{"event": "slot", "name": "country", "value": country}] if country else []
    return JSONResponse({"events": events, "responses": [{"text": text, "custom": {"understanding": understanding}}]})


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:3])
    return "the body is not JSON"
