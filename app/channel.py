"""The Twilio channel layer: signature, form parsing into a neutral message, TwiML out, statuses."""

from collections.abc import Mapping
from xml.sax.saxutils import escape

from twilio.request_validator import RequestValidator

from app.messages import Inbound

STATUSES = {
    "accepted", "scheduled", "canceled", "queued", "sending", "sent", "delivered", "read",
    "undelivered", "failed", "receiving", "received", "partially_delivered",
}  # fmt: skip
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


class BadRequest(ValueError):
    """The request cannot be a Twilio message: answer 400 with this reason."""


def signature_is_valid(*, token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    """Check X-Twilio-Signature against the public URL Twilio called."""
    if not signature:
        return False
    return bool(RequestValidator(token).validate(url, params, signature))


def _required(form: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = (form.get(name) or "").strip()
        if value:
            return value
    raise BadRequest(f"missing field {names[0]}")


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
    sid = _required(form, "MessageSid", "SmsMessageSid", "SmsSid")
    address = _required(form, "From")
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
    choice = None
    if channel == "whatsapp":
        choice = (form.get("ButtonPayload") or form.get("ListId") or "").strip() or None
    return Inbound(
        sid=sid,
        channel=channel,
        address=address,
        text=(form.get("Body") or "").strip(),
        media_types=media_types,
        location=location,
        choice=choice,
        carrier_keyword=(form.get("OptOutType") or "").upper() or None,
        to=(form.get("To") or "").strip(),
    )


def parse_status(form: Mapping[str, str]) -> tuple[str, str, int | None]:
    """MessageSid, status and error code of a status callback."""
    sid = _required(form, "MessageSid", "SmsSid")
    status = _required(form, "MessageStatus", "SmsStatus").lower()
    if status not in STATUSES:
        raise BadRequest(f"unknown MessageStatus {status!r}")
    code = (form.get("ErrorCode") or "").strip()
    if code and not code.isdigit():
        raise BadRequest("ErrorCode is not a number")
    return sid, status, int(code) if code else None


def twiml(bodies: list[str]) -> str:
    """TwiML that sends each body as one message; no bodies means no reply (the XML MessagingResponse makes)."""
    if not bodies:
        return EMPTY_TWIML
    messages = "".join(f"<Message>{escape(body)}</Message>" for body in bodies)
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{messages}</Response>'
