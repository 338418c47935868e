"""Keyed hashing of addresses and masking of personal data in message texts."""

import hashlib
import hmac
import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Seven or more digits, possibly split by spaces, dots, dashes or brackets, with an optional leading +.
_PHONE = re.compile(r"\+?\d(?:[\s().-]*\d){6,}")


def bare_address(address: str) -> str:
    """The address without its channel prefix: 'whatsapp:+5215512345678' -> '+5215512345678'."""
    return address.split(":", 1)[1] if address.startswith("whatsapp:") else address


def hash_address(address: str, *, secret: str) -> str:
    """HMAC-SHA256 of the bare address, so one person is one contact on SMS and WhatsApp."""
    key = secret.encode("utf-8")
    return hmac.new(key, bare_address(address).strip().encode("utf-8"), hashlib.sha256).hexdigest()


def mask_text(text: str) -> str:
    """Replace e-mail addresses and phone numbers by placeholders."""
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", text))
