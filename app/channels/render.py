"""How a reply is sent on a channel: GSM-7 conversion, SMS segments, SMS pages and WhatsApp parts."""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from app.config import Settings
from app.i18n import Texts
from app.messages import TITLE_END, TITLE_START

# GSM 03.38 basic table in code order, without the escape code 0x1B.
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")
_GSM7 = GSM7_BASIC | GSM7_EXTENSION

_LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}  # units in one segment, per concatenated segment

# Nearest GSM-7 form of characters that NFKD decomposition does not reach (or reaches badly).
# Everything else: NFKD without accents if that is GSM-7 (á→a, ô→o, ﬁ→fi, ½→1/2, ™→TM, full-width→ASCII),
# unicode spaces → space, pictographs and invisible characters dropped, anything left → "?".
# fmt: off
_NEAREST: dict[str, str] = {
    "ç": "c",  # Ç is GSM-7, ç is not
    "œ": "oe", "Œ": "OE", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "ı": "i",
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'", "‹": "'", "›": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-",
    "…": "...", "•": "-", "·": "-", "◦": "-", "‣": "-",
    "°": "o",  # Spanish writes ordinals and "número" with a degree sign: 1°, N°
    "×": "x", "÷": "/", "⁄": "/", "±": "+/-", "≤": "<=", "≥": ">=", "→": "->", "←": "<-",
    "¢": "c", "\t": " ",
}
# fmt: on
# Pictographs (emoji, skin tones), marks, invisible and control characters carry no words: drop them.
_DROPPED = frozenset({"So", "Sk", "Mn", "Mc", "Me", "Cc", "Cf", "Cn", "Co", "Cs"})
_SPACE_RUNS = re.compile(r" {2,}")
_EDGE_SPACES = re.compile(r"^ +| +(?=\r?$)", re.MULTILINE)
BOLD = re.compile(r"\*([^*\n]+)\*")  # WhatsApp's *bold* means nothing on SMS
# Where a page may end, best first: paragraph, line, sentence end, any space.
_BREAKS = (re.compile(r"\n[ \t]*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?…])\s"), re.compile(r"\s"))


@dataclass(frozen=True)
class SmsInfo:
    """Encoding, length in encoding units and segment count of one SMS text."""

    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (extension characters count 2) or UTF-16 code units (emoji count 2)
    segments: int  # an empty text still costs one segment


@lru_cache(maxsize=4096)
def _nearest(char: str) -> str:
    """Return the GSM-7 form of one character: itself, a replacement, "" (dropped) or "?"."""
    if char in _GSM7:
        return char
    if char in _NEAREST:
        return _NEAREST[char]
    category = unicodedata.category(char)
    if category == "Zs":
        return " "
    if category in ("Zl", "Zp"):
        return "\n"
    decomposed = unicodedata.normalize("NFKD", char)
    base = "".join(_NEAREST.get(c, c) for c in decomposed if not unicodedata.category(c).startswith("M"))
    if base and all(c in _GSM7 for c in base):
        return base
    if category in _DROPPED:
        return ""
    # A letter, digit or sign with no Latin form (Cyrillic, Chinese...): show the reader something is missing.
    return "?"


def to_gsm7(text: str) -> str:
    """Replace characters outside GSM-7 with their nearest GSM-7 form."""
    converted = text if _GSM7.issuperset(text) else "".join(_nearest(char) for char in text)
    # Dropped emoji leave double, leading and trailing spaces; every septet counts, so tidy them all.
    return _EDGE_SPACES.sub("", _SPACE_RUNS.sub(" ", converted))


def _segment_count(sizes: list[int], encoding: str) -> int:
    """Pack characters into segments; a character never straddles two segments."""
    single, concatenated = _LIMITS[encoding]
    if sum(sizes) <= single:
        return 1
    segments, used = 1, 0
    for size in sizes:
        if used + size > concatenated:
            segments, used = segments + 1, 0
        used += size
    return segments


def sms_info(text: str) -> SmsInfo:
    """Return how `text` would be encoded and billed as it stands (no conversion)."""
    if _GSM7.issuperset(text):
        encoding, sizes = "GSM-7", [2 if char in GSM7_EXTENSION else 1 for char in text]
    else:
        encoding, sizes = "UCS-2", [len(char.encode("utf-16-le")) // 2 for char in text]
    return SmsInfo(encoding=encoding, units=sum(sizes), segments=_segment_count(sizes, encoding))


def _break(text: str, limit: int) -> int:
    """Return where a page of at most `limit` characters of `text` should end."""
    window = text[: limit + 1]  # a separator right after the limit still ends a whole page
    for pattern in _BREAKS:
        starts = [match.start() for match in pattern.finditer(window) if match.start() > 0]
        # A break in the first half wastes most of the page: try a finer break first, but a space beats
        # cutting a word.
        if starts and (starts[-1] >= limit // 2 or pattern is _BREAKS[-1]):
            return starts[-1]
    return limit  # a single word longer than the page


def _paginate(text: str, longest: Callable[[str], int]) -> list[str]:
    """Cut `text` into stripped pages, each at most `longest(rest)` characters long."""
    pages: list[str] = []
    rest = text.strip()
    while rest:
        limit = longest(rest)
        if limit >= len(rest):
            pages.append(rest)
            break
        cut = _break(rest, limit)
        pages.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return pages


def split_sms(text: str, *, max_segments: int, more_hint: str) -> list[str]:
    """Cut a GSM-7 text into pages that each fit max_segments segments, all but the last ending with the hint."""
    if max_segments < 1:
        raise ValueError(f"max_segments must be at least 1, not {max_segments}")
    text, suffix = to_gsm7(text), "\n" + to_gsm7(more_hint)  # no-ops on text already converted
    if not text.strip():
        return []
    if sms_info(text).segments <= max_segments:
        return [text]

    encoding = sms_info(text + suffix).encoding
    size = (lambda c: 2 if c in GSM7_EXTENSION else 1) if encoding == "GSM-7" \
        else (lambda c: len(c.encode("utf-16-le")) // 2)
    suffix_sizes = [size(c) for c in suffix]

    def longest(rest: str) -> int:
        sizes = [size(c) for c in rest]  # once per page, then only packing in the search
        if _segment_count(sizes, encoding) <= max_segments:
            return len(rest)
        low, high = 0, len(rest)  # binary search: the longest prefix that still fits with the hint
        while low < high:
            middle = (low + high + 1) // 2
            if _segment_count(sizes[:middle] + suffix_sizes, encoding) <= max_segments:
                low = middle
            else:
                high = middle - 1
        if low == 0:
            raise ValueError(f"more_hint {more_hint!r} leaves no room for text in {max_segments} segment(s)")
        return low

    pages = _paginate(text, longest)
    return [page + suffix for page in pages[:-1]] + pages[-1:]


def split_whatsapp(text: str, *, limit: int = 1600) -> list[str]:
    """Split a WhatsApp text into messages of at most `limit` characters (code points) at paragraph breaks."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if len(text) <= limit:
        return [text] if text.strip() else []
    return _paginate(text, lambda rest: limit)


def whatsapp_text(text: str) -> str:
    """A text as WhatsApp shows it: titles in *bold*."""
    return text.replace(TITLE_START, "*").replace(TITLE_END, "*")


def plain_text(text: str) -> str:
    """A text without any markup: titles and content's *bold* as plain words (SMS has no bold)."""
    return BOLD.sub(r"\1", text.replace(TITLE_START, "").replace(TITLE_END, ""))


def sms_pages(texts: list[str], *, language: str, settings: Settings) -> list[str]:
    """Every SMS page of a reply: the first is sent, the others wait for MORE (the console previews them)."""
    hint = Texts(language, settings.locales_dir).gettext("Reply MORE for more.")
    return split_sms(plain_text("\n\n".join(texts)), max_segments=settings.sms_max_segments, more_hint=hint)


def whatsapp_parts(texts: list[str], *, settings: Settings) -> list[str]:
    """The WhatsApp messages of a reply, split at paragraphs under the length limit."""
    return split_whatsapp(whatsapp_text("\n\n".join(texts)), limit=settings.whatsapp_max_chars)
