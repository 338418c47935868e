"""POST /api/v1/messages: the JSON door for the simulator, tests and integrations."""

import uuid
from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from app.api.deps import AssistantDep, SettingsDep, require_token
from app.conversation.pipeline import answer
from app.fields import StorableStr
from app.messages import Inbound

router = APIRouter(prefix="/api/v1", tags=["api"])


class MessageIn(BaseModel):
    sender: StorableStr = Field(min_length=1, max_length=64)
    text: StorableStr = Field(max_length=1600)
    channel: Literal["sms", "whatsapp", "web"] = "web"


class ReplyOut(BaseModel):
    text: str


class UnderstandingOut(BaseModel):
    intent: str
    topic: str | None
    country: str | None
    language: str
    confidence: float
    engine: str
    entry: str | None = None  # the specific entry answered, if one matched
    entry_confidence: float | None = None  # its calibrated confidence


class MessageOut(BaseModel):
    replies: list[ReplyOut]
    understanding: UnderstandingOut | None


@router.post("/messages", dependencies=[Depends(require_token)])
async def post_message(body: MessageIn, settings: SettingsDep, assistant: AssistantDep) -> MessageOut:
    """Same path as the webhook after the channel layer; a bearer token is needed when API_TOKEN is set."""
    address = f"whatsapp:{body.sender}" if body.channel == "whatsapp" else body.sender
    msg = Inbound(sid=f"API{uuid.uuid4().hex}", channel=body.channel, address=address, text=body.text.strip())
    outcome = await answer(assistant, msg, budget=settings.reply_budget_seconds)
    u = outcome.understanding
    return MessageOut(
        replies=[ReplyOut(text=b) for b in outcome.bodies],
        understanding=UnderstandingOut(intent=u.intent, topic=u.topic, country=u.country, language=u.language,
                                       confidence=u.confidence, engine=u.engine, entry=u.entry,
                                       entry_confidence=u.entry_confidence) if u else None,
    )
