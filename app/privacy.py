"""Keyed hashing of addresses and masking of personal data in message texts."""

import hashlib
import hmac
import re

# Linear time, whatever the text: a match starts only where a run of address characters starts (the lookbehind),
# and possessive quantifiers never give back what they took, so a long run is scanned once, not once per start.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)+")
# A run of digits split by spaces, dots, dashes, slashes, commas or brackets, with an optional +, taken whole.
_PHONE = re.compile(r"(?<!\d)\+?\d(?:[\s()./,-]*+\d)++")
_DIGITS = re.compile(r"\d")


def bare_address(address: str) -> str:
    """The address without its channel prefix: 'whatsapp:+5215512345678' -> '+5215512345678'."""
    return address.split(":", 1)[1] if address.startswith("whatsapp:") else address


def hash_address(address: str, *, secret: str) -> str:
    """HMAC-SHA256 of the bare address, so one person is one contact on SMS and WhatsApp."""
    key = secret.encode("utf-8")
    return hmac.new(key, bare_address(address).strip().encode("utf-8"), hashlib.sha256).hexdigest()


def mask_text(text: str) -> str:
    """Replace e-mail addresses and phone numbers by placeholders."""
    return _PHONE.sub(_phone, _EMAIL.sub("[email]", text))


def _phone(match: re.Match[str]) -> str:
    """A run of digits is a phone number from seven digits on (found whole, then counted: linear time)."""
    return "[phone]" if len(_DIGITS.findall(match.group())) >= 7 else match.group()
