"""The evidence rule: every phone number, day count, fee or address number in a published text is in a quote.

A number in a text is backed when the same digits (spaces, dashes and dots left out) form a number of one of
the quotes of its entry's sources, or are one of the country's published emergency numbers. Numbers are read as
groups of digits joined by single spaces, dashes or dots ("800 5533 000", "2411-2411", "50.00"), so a phone
number written with other spacing than its source still matches. A number with a calling code ("+502 2411 2411")
matches its national form in a quote, and the other way round.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w.-]+\.(?:org|com|gob|gov|int|net|mx|gt|hn|pa|cr|bz|sv|do|ht|gd|sr)"
                 r"(?:/\S*)?", re.IGNORECASE)
NUMBER = re.compile(r"(?<![\w])\+?\d+(?:[ .\-]\d+)*(?![\w])")
DAYS = re.compile(r"^\s*(?:[^\W\d_]+\s+){0,2}?(?:d[ií]as?|days?|jours?|jou|dagen|dag|horas?|hours?|heures?|[eè]dtan|uur|meses|mes|"
                  r"months?|mois|mwa|maanden|maand|semanas?|weeks?|semaines?|sem[eè]n|weken|week|años|year|years|"
                  r"ans?|ane|jaar|h\b|hrs?\b)", re.IGNORECASE)
CURRENCY_BEFORE = re.compile(r"(?:US\$|RD\$|EC\$|BZ\$|B/\.|\$|€|₡|Q\.?|L\.?|HTG|USD|SRD|MXN|XCD|DOP)\s*$")
CURRENCY_AFTER = re.compile(r"^\s*(?:d[oó]lares|dollars?|pesos|gourdes|goud|quetzales|lempiras|colones|balboas|"
                            r"USD|HTG|MXN|SRD|XCD|BZD|DOP|GTQ|HNL|CRC|PAB)\b", re.IGNORECASE)
STREET = re.compile(r"(?:\b(?:calle|avenida|street|road|rue|boulevard|bulevar|carretera|km|kil[oó]metro|n[uú]mero|"
                    r"ruta|local|edificio|piso|zona|colonia)\b|\b(?:av|ave|st|blvd|no)\.|#)[^\n]{0,30}$",
                    re.IGNORECASE)


@dataclass(frozen=True)
class Claim:
    text: str  # as written in the text, e.g. "800 5533 000"
    digits: str  # "8005533000"
    kind: str  # phone number | number of days | fee | address | number


def digits_of(number: str) -> str:
    return re.sub(r"\D", "", number)


def claims(text: str) -> list[Claim]:
    """The numbers a text states, each with what it most likely is."""
    text = URL.sub(" ", text)
    found = []
    for match in NUMBER.finditer(text):
        before, after = text[: match.start()], text[match.end():]
        digits = digits_of(match.group())
        if CURRENCY_BEFORE.search(before) or CURRENCY_AFTER.match(after):
            kind = "fee"
        elif DAYS.match(after):
            kind = "number of days"
        elif STREET.search(before[-40:]):
            kind = "address"
        elif len(digits) >= 3:
            kind = "phone number"
        else:
            kind = "number"
        found.append(Claim(match.group(), digits, kind))
    return found


def backing_numbers(quotes: Iterable[str], extra: Iterable[str] = ()) -> set[str]:
    """The digit strings a set of quotes (and, e.g., published emergency numbers) can back."""
    backed = {digits_of(n) for n in extra}
    for quote in quotes:
        for match in NUMBER.finditer(URL.sub(" ", quote)):
            # "zona 1 1555" reads as one group: each run of its parts backs a number too ("1", "1555")
            parts = re.split(r"[ .\-]", match.group().lstrip("+"))
            backed |= {"".join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)}
    return {d for d in backed if d}


def is_backed(claim: Claim, backed: set[str]) -> bool:
    if claim.digits in backed:
        return True
    # a calling code on one side only: +502 2411 2411 against 2411-2411
    return len(claim.digits) >= 7 and any(
        len(b) >= 7 and (claim.digits.endswith(b) or b.endswith(claim.digits)) for b in backed
    )


def unbacked(text: str, backed: set[str]) -> list[Claim]:
    """The claims of a text that no quote backs, each once."""
    seen: dict[str, Claim] = {}
    for claim in claims(text):
        if not is_backed(claim, backed):
            seen.setdefault(claim.digits, claim)
    return list(seen.values())
