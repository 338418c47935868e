"""How content texts are trimmed and credited: the closing request for the country, the short source URL."""

import re

# The closing line of a regional text that asks for the country ("Escribe el nombre del país …, o MENU."):
# dropped once the country is known. Matches a last line, or a last sentence of an SMS paragraph.
COUNTRY_PROMPT = re.compile(
    r"(?:(?<=[.!?])[ \t]+|\n|^)(?:O |Or |Ou |Oswa )?(?:Escribe (?:el nombre del |tu )?pa[ií]s|Write (?:the |your )?"
    r"country|[ÉE]crivez le (?:nom du )?pays|Ekri non peyi|Escreva o (?:nome do )?pa[ií]s|Schrijf (?:de naam van )?"
    r"(?:het|uw|je) land)[^\n]*$", re.IGNORECASE)


def without_country_prompt(text: str) -> str:
    return COUNTRY_PROMPT.sub("", text).rstrip()


def short_url(url: str) -> str:
    """Where to confirm, short enough for an SMS: 'https://www.gob.mx/comar/x/y' -> 'gob.mx/comar'."""
    host, _, path = url.split("://", 1)[-1].partition("/")
    host = host[4:] if host.startswith("www.") else host
    first = path.split("/", 1)[0].split("?", 1)[0]
    return f"{host}/{first}" if first and len(first) <= 16 and "." not in first and not first.isdigit() else host
