"""Accent folding: people rarely type accents, so words are compared without them."""

import re
import unicodedata
from collections.abc import Iterable

# Punctuation around a keyword that does not change it: '¡Stop!' is STOP.
_STRIP = " \t\r\n.!?¡¿,;:\"'*()"
WORD = re.compile(r"[A-Z0-9]+")  # a word of a normalized text


def strip_accents(text: str) -> str:
    """NFKD without combining marks: 'Stóp ﬁ' -> 'Stop fi'. Case is left alone."""
    if text.isascii():  # most of what people type: nothing to fold
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Lower case without accents: 'Dónde' -> 'donde'."""
    return strip_accents(text.lower())


def normalize(text: str) -> str:
    """Capitals without accents or surrounding punctuation, spaces folded: ' ¡Stóp! ' -> 'STOP'."""
    return " ".join(strip_accents(text).upper().strip(_STRIP).split())


def words_of(text: str) -> str:
    """A text's words as names are compared: normalized, punctuation gone, one space between ('Tecún Umán:' ->
    'TECUN UMAN')."""
    return " ".join(WORD.findall(normalize(text)))


def words_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """Any of these words or phrases as whole words of a lower-case text; a trailing "-" marks a stem ("juridic-":
    juridico, juridique)."""
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(w[:-1]) if w.endswith("-") else re.escape(w) + r"(?![a-z0-9])"
                                                     for w in words) + ")")
