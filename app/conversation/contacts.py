"""Defaults for a new contact from the calling code of their number (never stored in clear)."""

import phonenumbers

from app.knowledge.schema import COUNTRY_CODES
from app.privacy import bare_address

# Languages of the programme's countries and of the main countries people come from.
LANGUAGE_BY_REGION = {
    "HT": "ht", "SR": "nl", "BZ": "en", "GD": "en", "JM": "en", "GY": "en", "TT": "en", "US": "en",
    "CA": "en", "BR": "pt", "AO": "pt", "FR": "fr", "SN": "fr", "CM": "fr", "CD": "fr", "GF": "fr",
    "NL": "nl", "CW": "nl", "AW": "nl",
}  # fmt: skip


def region_of(address: str) -> str | None:
    """The ISO region of a phone address, or None for anything that is not a valid number."""
    try:
        number = phonenumbers.parse(bare_address(address), None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(number)


def defaults_for(address: str, *, default_language: str) -> tuple[str, str | None]:
    """(language, country) to start a conversation with, guessed from the calling code."""
    region = region_of(address)
    language = LANGUAGE_BY_REGION.get(region or "", default_language)
    return language, region if region in COUNTRY_CODES else None
