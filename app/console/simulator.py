"""The Simulator: a phone-like chat to try the assistant as SMS or WhatsApp, from a country, in a language.

Its messages go through the same path as real ones (`app.conversation.pipeline.answer` → `Assistant.handle`),
marked as tests (`Inbound.test`, the `test` column of messages) so the insights leave them out.

The simulated sender is made in the browser: "+" + the country's calling code + 8 random digits. For the countries
that share +1 (Dominican Republic, Grenada) the calling code is followed by the country's area code and 7 random
digits (+1 809 ..., +1 473 ...), a North American number, so that the number's region is known. The assistant then takes its defaults (language, country) from that calling code,
as it does for a real number. "New conversation" draws a new number, that is, a new contact.
"""

import re
import uuid
from pathlib import Path
from typing import Literal

import phonenumbers
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from app.api.deps import AssistantDep, SettingsDep
from app.channels.render import sms_info
from app.console.views import AnyRole, ConsoleRoute, console_language, render
from app.conversation.keywords import KEYWORDS
from app.conversation.pipeline import answer
from app.fields import StorableStr
from app.messages import Inbound
from app.text import normalize

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)

SENDER = re.compile(r"^\+[0-9]{6,15}$")
SCRIPT = (Path(__file__).parent / "static" / "simulator.js").read_text(encoding="utf-8")
# The languages a person may switch to, named in their own language; choosing one sends its first keyword.
LANGUAGE_NAMES = {"es": "Español", "en": "English", "fr": "Français", "ht": "Kreyòl ayisyen", "pt": "Português",
                  "nl": "Nederlands"}


class SimulatedMessage(BaseModel):
    text: StorableStr = Field(min_length=1, max_length=1600)
    channel: Literal["sms", "whatsapp"]
    sender: str = Field(max_length=32)


def sender_prefix(code: str, calling_code: int) -> tuple[str, int]:
    """How a simulated number of the country starts, and how many random digits follow.

    "+" and the calling code, then 8 digits; under a shared calling code (+1) the country's area code follows it,
    then 7 digits (a North American number), otherwise the number's region could not be told.
    """
    prefix = f"+{calling_code}"
    if len(phonenumbers.region_codes_for_country_code(calling_code)) > 1:
        example = phonenumbers.example_number_for_type(code, phonenumbers.PhoneNumberType.MOBILE)
        if example is not None and example.country_code == calling_code:
            return prefix + str(example.national_number)[:3], 7
    return prefix, 8


def language_keyword(language: str) -> str:
    """The word that switches the assistant to a language, e.g. KREYOL."""
    return KEYWORDS["language"][language][0]


@router.get("/simulator.js")
async def simulator_script(account: AnyRole) -> Response:
    """The page's script, as a file: the console's Content-Security-Policy allows no inline script."""
    return Response(SCRIPT, media_type="text/javascript")


@router.get("/simulator")
async def simulator_page(request: Request, account: AnyRole) -> HTMLResponse:
    language = console_language(request)
    kb = request.app.state.knowledge.get()
    countries: list[dict[str, str | int]] = []
    for code, country in kb.countries.items():
        prefix, digits = sender_prefix(code, country.calling_code)
        countries.append({"code": code, "name": kb.country_name(code, language), "prefix": prefix, "digits": digits})
    countries.sort(key=lambda c: normalize(str(c["name"])))
    languages = [{"code": code, "name": name, "keyword": language_keyword(code)}
                 for code, name in LANGUAGE_NAMES.items()]
    return render(request, "simulator.html", account=account, countries=countries, languages=languages,
                  default_country="MX" if "MX" in kb.countries else countries[0]["code"])


@router.post("/simulator/send")
async def simulator_send(body: SimulatedMessage, account: AnyRole, settings: SettingsDep,
                         assistant: AssistantDep) -> dict:
    if not SENDER.match(body.sender):
        raise HTTPException(status_code=400, detail="sender must be + followed by 6 to 15 digits")
    text = body.text.strip()
    if not text:
        raise HTTPException(status_code=400, detail="the message is empty")
    address = f"whatsapp:{body.sender}" if body.channel == "whatsapp" else body.sender
    msg = Inbound(sid=f"SIM{uuid.uuid4().hex}", channel=body.channel, address=address, text=text, test=True)
    outcome = await answer(assistant, msg, budget=settings.reply_budget_seconds)
    replies = []
    for reply in outcome.bodies:
        if body.channel == "sms":
            info = sms_info(reply)
            replies.append({"text": reply, "segments": info.segments, "encoding": info.encoding,
                            "characters": len(reply)})
        else:
            replies.append({"text": reply, "segments": None, "encoding": None, "characters": len(reply)})
    u = outcome.understanding
    understanding = None if u is None else {
        "intent": u.intent, "topic": u.topic, "country": u.country, "language": u.language,
        "confidence": u.confidence, "engine": u.engine}
    return {"replies": replies, "understanding": understanding}
