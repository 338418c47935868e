"""The Twilio channel layer: signature, form parsing into a neutral message, TwiML out, statuses."""

import re
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import urlparse
from xml.sax.saxutils import escape

from twilio.request_validator import RequestValidator, add_port, compare, remove_port

from app.fields import INT_MAX
from app.messages import Inbound

STATUSES = {
    "accepted", "scheduled", "canceled", "queued", "sending", "sent", "delivered", "read",
    "undelivered", "failed", "receiving", "received", "partially_delivered",
}  # fmt: skip
# Statuses only move forward; a late "sent" must not overwrite "delivered".
STATUS_RANK = {"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3, "receiving": 3,
               "received": 3, "delivered": 4, "read": 5, "partially_delivered": 4, "undelivered": 6,
               "failed": 6, "canceled": 6}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
SID = re.compile(r"[A-Za-z0-9]{1,64}")  # Twilio's are SM/MM + 32 hex; the columns hold 64; no way to forge a log line
ADDRESS_MAX = 64  # E.164 in a whatsapp: prefix is 25; the sender column holds 64
BODY_MAX = {"sms": 1600, "whatsapp": 4096}  # Twilio's own limits: a longer body is cut there, not refused


class BadRequest(ValueError):
    """The request cannot be a Twilio message: answer 400 with this reason."""


def signature_is_valid(*, token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    """Check X-Twilio-Signature against the public URL Twilio called.

    As Twilio's RequestValidator.validate does for a form, the URL may have been signed with or without its
    default port; the form without the port, by far the usual one, is tried first, the other only when it fails
    (validate always computes both: half of the signature's cost per message).
    """
    if not signature:
        return False
    validator = _validator(token)
    parsed = urlparse(url)
    return any(compare(validator.compute_signature(signed, params), signature)
               for signed in (remove_port(parsed), add_port(parsed)))


@lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def _required(form: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = (form.get(name) or "").strip()
        if value:
            return value
    raise BadRequest(f"missing field {names[0]}")


def _sid(form: Mapping[str, str], *names: str) -> str:
    sid = _required(form, *names)
    if not SID.fullmatch(sid):
        raise BadRequest(f"{names[0]} must be 1 to 64 ASCII letters and digits")
    return sid


def _address(form: Mapping[str, str], name: str, *, required: bool) -> str:
    value = _required(form, name) if required else (form.get(name) or "").strip()
    if len(value) > ADDRESS_MAX or not value.isprintable():
        raise BadRequest(f"{name} must be at most {ADDRESS_MAX} printable characters")
    return value


def _text(form: Mapping[str, str], name: str, limit: int) -> str:
    """A free text, without the NUL characters PostgreSQL refuses, cut at the channel's limit."""
    return (form.get(name) or "").replace("\x00", "")[:limit].strip()


def _float(form: Mapping[str, str], name: str, low: float, high: float) -> float:
    try:
        value = float(form[name])
    except ValueError:
        raise BadRequest(f"{name} is not a number") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} out of range")
    return value


def parse_inbound(form: Mapping[str, str]) -> Inbound:
    """Turn a Twilio inbound form (SMS or WhatsApp) into a neutral message."""
    sid = _sid(form, "MessageSid", "SmsMessageSid", "SmsSid")
    address = _address(form, "From", required=True)
    if address.startswith("whatsapp:"):
        channel = "whatsapp"
    elif ":" in address:
        raise BadRequest(f"unsupported channel {address.split(':', 1)[0]!r}")
    else:
        channel = "sms"
    try:
        num_media = int(form.get("NumMedia") or 0)
    except ValueError:
        raise BadRequest("NumMedia is not a whole number") from None
    if not 0 <= num_media <= 10:
        raise BadRequest("NumMedia out of range")
    media_types = tuple(form.get(f"MediaContentType{i}") or "unknown" for i in range(num_media))
    location = None
    if channel == "whatsapp" and ("Latitude" in form or "Longitude" in form):
        if not ("Latitude" in form and "Longitude" in form):
            raise BadRequest("Latitude and Longitude come together")
        location = (_float(form, "Latitude", -90, 90), _float(form, "Longitude", -180, 180))
    limit = BODY_MAX[channel]
    choice = None
    if channel == "whatsapp":
        choice = _text(form, "ButtonPayload", limit) or _text(form, "ListId", limit) or None
    return Inbound(
        sid=sid,
        channel=channel,
        address=address,
        text=_text(form, "Body", limit),
        media_types=media_types,
        location=location,
        choice=choice,
        carrier_keyword=(form.get("OptOutType") or "").upper() or None,
        to=_address(form, "To", required=False),
    )


def parse_status(form: Mapping[str, str]) -> tuple[str, str, int | None]:
    """MessageSid, status and error code of a status callback."""
    sid = _sid(form, "MessageSid", "SmsSid")
    status = _required(form, "MessageStatus", "SmsStatus").lower()
    if status not in STATUSES:
        raise BadRequest(f"unknown MessageStatus {status[:32]!r}")
    code = (form.get("ErrorCode") or "").strip()
    if not code:
        return sid, status, None
    # str.isdigit() also takes '²' and Arabic-Indic digits, and int() takes 30 digits the column cannot hold
    if not re.fullmatch(r"[0-9]{1,10}", code) or int(code) > INT_MAX:
        raise BadRequest(f"ErrorCode must be a whole number from 0 to {INT_MAX}")
    return sid, status, int(code)


def status_rank(status: str) -> int:
    """How far a message has come: a status callback never moves it back."""
    return STATUS_RANK.get(status, 0)


def twiml(bodies: list[str]) -> str:
    """TwiML that sends each body as one message; no bodies means no reply (the XML MessagingResponse makes)."""
    if not bodies:
        return EMPTY_TWIML
    messages = "".join(f"<Message>{escape(body)}</Message>" for body in bodies)
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{messages}</Response>'
