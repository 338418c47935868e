"""Numbered choices on WhatsApp as quick-reply buttons, where the account has the templates for them.

A TwiML reply carries text only. Buttons need a Content template (`twilio/quick-reply`: a body of at most 1,024
characters and up to three buttons, sent inside the 24-hour window without WhatsApp's approval) created once on
the account (`migrantinfo whatsapp templates`) and a message sent through the Messages REST API; the webhook
then answers with empty TwiML. Without a template, or when Twilio refuses, the same text goes in TwiML as
before: nobody gets nothing. The buttons say "1", "2", "3", as the numbered lines do, so a tap and a typed
number are the same answer.
"""

import logging

from app.config import Settings
from app.messages import Inbound, Understanding
from app.outbound.ratelimit import SenderLimits
from app.outbound.twilio_rest import SendError, Twilio, sender_for

log = logging.getLogger(__name__)
MAX_BUTTONS, MAX_BODY = 3, 1024


def definition(buttons: int) -> dict:
    """The Content API's definition of a template with `buttons` numbered buttons and the whole text as {{1}}."""
    numbers = [str(i) for i in range(1, buttons + 1)]
    return {
        "friendly_name": f"migrantinfo_choices_{buttons}",
        "language": "en",  # the body is the variable, in the person's language
        "variables": {"1": "Which of these do you mean? Reply with a number: " + ", ".join(numbers)},
        "types": {
            "twilio/quick-reply": {"body": "{{1}}", "actions": [{"title": n, "id": n} for n in numbers]},
            "twilio/text": {"body": "{{1}}"},  # where buttons cannot show, the text alone
        },
    }


def template_for(settings: Settings, msg: Inbound, understanding: Understanding | None,
                 bodies: list[str]) -> str | None:
    """The ContentSid to send this reply with, when it is one message of numbered choices on WhatsApp."""
    if msg.channel != "whatsapp" or understanding is None or not understanding.choices or len(bodies) != 1:
        return None
    if len(bodies[0]) > MAX_BODY or not 2 <= len(understanding.choices) <= MAX_BUTTONS:
        return None
    return settings.whatsapp_choice_templates.get(str(len(understanding.choices)))


def send(twilio: Twilio, limits: SenderLimits, msg: Inbound, body: str, template: str) -> bool:
    """Send the choices with their buttons; False (the caller answers in TwiML) when it could not go out."""
    sender = sender_for(msg.channel, msg.to, twilio.settings)
    if not twilio.configured or not sender or not msg.reachable:
        return False
    slot = limits.acquire(sender, timeout=2)
    if slot is None:
        return False
    try:
        with slot:
            twilio.send(to=msg.address, from_=sender, content_sid=template, variables={"1": body})
    except SendError as exc:
        log.warning("choices without buttons sid=%s: Twilio refused the template (%s)", msg.sid, exc)
        return False
    return True


def create_templates(twilio: Twilio) -> dict[str, str]:
    """Create the templates for two and three choices on the account; their ContentSids by number of buttons."""
    return {str(n): twilio.create_content(definition(n)) for n in range(2, MAX_BUTTONS + 1)}
