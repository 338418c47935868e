"""The Rasa action-server protocol, served by the app: Rasa's custom action answers from content/.

Rasa calls POST /rasa/webhook with {"next_action", "sender_id", "tracker", "domain", "version"} and gets
{"events": [...], "responses": [...]}; the response carries the understanding as a custom payload, so the
app's dialogue answers Rasa's understanding exactly as it answers the embedded engine's.
"""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.deps import KnowledgeDep
from app.understanding.training import TOPICS

router = APIRouter(prefix="/rasa", tags=["rasa"])
ACTIONS = {"action_answer"}


@router.get("/health")
async def health() -> dict:
    return {"status": "ok"}


@router.post("/webhook")
async def webhook(request: Request, knowledge: KnowledgeDep) -> JSONResponse:
    try:
        call = await request.json()
        action = call["next_action"]
        tracker = call["tracker"]
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "expected next_action and tracker", "action_name": None}, status_code=400)
    if action not in ACTIONS:
        return JSONResponse({"error": f"no action {action!r}", "action_name": action}, status_code=404)
    kb = knowledge.get()
    latest = tracker.get("latest_message") or {}
    metadata = latest.get("metadata") or {}
    intent = (latest.get("intent") or {}).get("name") or "out_of_scope"
    confidence = float((latest.get("intent") or {}).get("confidence") or 0.0)
    if intent == "nlu_fallback":
        intent = "out_of_scope"
    mentioned = [kb.country_for_word(str(e.get("value", ""))) for e in latest.get("entities") or []
                 if e.get("entity") == "country"]
    slot = (tracker.get("slots") or {}).get("country")
    country = next((c for c in mentioned if c), None) or kb.country_for_word(str(slot or "")) \
        or metadata.get("country")
    language = metadata.get("language") or "es"
    topic = intent if intent in TOPICS else None
    understanding = {"intent": intent, "topic": topic, "country": country, "language": language,
                     "confidence": round(confidence, 4)}
    text = ""
    if topic:
        answer = kb.answer(topic, country, language)
        text = answer.whatsapp if answer else ""
    events = [{"event": "slot", "name": "country", "value": country}] if country else []
    return JSONResponse({"events": events, "responses": [{"text": text, "custom": {"understanding": understanding}}]})
