"""Checks of specific entries, and the checks entries share with topic answers: sources, evidence, SMS, tone."""

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import HttpUrl

from app.channels.render import sms_info, to_gsm7
from app.i18n import Texts
from app.knowledge.base import short_url
from app.knowledge.evidence import backing_numbers, unbacked
from app.knowledge.loader import Document, Problem, RawContent, line_of
from app.knowledge.requirements import MIN_ASKS, entry_languages
from app.knowledge.schema import AnswerText, Entry, Source, source_url
from app.text import normalize, strip_accents

Add = Callable[[Problem], None]
Path_ = tuple[str | int, ...]
SMS_SEGMENTS = 3
WORDS = re.compile(r"[^\W\d_]+")
# Words that are right both with and without an accent ("que" and "qué", "a" and "à"): not counted as lost.
HOMOGRAPHS = frozenset({"que", "quien", "quienes", "el", "se", "te", "de", "mi", "si", "tu", "a", "ou", "la", "du",
                        "sur", "des", "ca"})
# Kreyòl words always written with è or ò, whose bare form is no other word (not "pè"/"pe", "sè"/"se").
KREYOL = {strip_accents(w): w for w in (
    "fè", "kèk", "sèlman", "pèsonn", "lòt", "kòm", "mèsi", "frè", "tèt", "fèt", "lè", "dènye", "mèt", "pwòp",
    "fòm", "sèvis", "enfòmasyon", "pòt", "bò", "kòmanse", "fòse", "pwoblèm", "lapòs", "dosye", "demèplis",
    "fòmilè", "biwo", "jèn", "travay", "ijans", "lajan", "telefòn", "anpil", "zòn", "ofisyèl", "sipòte", "kòlè",
)  # fmt: skip
          if strip_accents(w) != w}
USTED = re.compile(r"\busted(es)?\b", re.IGNORECASE)


def lost_letters(text: AnswerText, language: str = "") -> list[tuple[str, str]]:
    """Words the SMS wrote without a letter GSM-7 has, which the WhatsApp text writes with it ("pe" for "pè").

    In Kreyòl, also common words that are only ever written with their accent ("fe" is always "fè").
    """
    accented: dict[str, str] = dict(KREYOL) if language == "ht" else {}
    plain: set[str] = set()
    for word in WORDS.findall(to_gsm7(text.whatsapp)):
        bare = strip_accents(word).lower()
        (plain.add(bare) if bare == word.lower() else accented.setdefault(bare, word.lower()))
    lost = {}
    for word in WORDS.findall(text.sms):  # as written: "arrête" is not a lost "arrêté"
        bare = word.lower()
        if bare == strip_accents(bare) and bare in accented and bare not in plain and bare not in HOMOGRAPHS:
            lost[bare] = accented[bare]
    return sorted(lost.items())


def footer_sample(language: str, locales_dir: Path | None, source: str) -> str:
    texts = Texts(language, locales_dir or Path("/nonexistent"))
    return texts.gettext("Reviewed {date} · {source}", date="2026-01-01", source=source)


def backed_numbers(sources: Iterable[HttpUrl | Source], numbers: Iterable[str]) -> set[str]:
    """The numbers a text may state: those in its sources' quotes (not a supporting page's) and the country's
    published emergency numbers."""
    quotes = (s.quote for s in sources if isinstance(s, Source) and s.label != "supporting")
    return backing_numbers(quotes, numbers)


def published_numbers(raw: RawContent, country: str | None) -> list[str]:
    doc = raw.countries.get(country or "")
    return [n.number for n in doc.model.emergency if n.status == "published"] if doc else []


def check_sources(doc: Document, at: Path_, sources: list[HttpUrl | Source], today: date, add: Add) -> None:
    """https only, seen in the past, and a `corroborated` fact backed by two different websites."""
    for i, source in enumerate(sources):
        if not source_url(source).startswith("https://"):
            add(Problem(doc.path, line_of(doc.lines, (*at, "sources", i)), f"source {source_url(source)} is not "
                        "https", "use the https:// address of the page"))
        if isinstance(source, Source) and source.seen_on > today:
            add(Problem(doc.path, line_of(doc.lines, (*at, "sources", i, "seen_on")), "seen_on is in the future",
                        "use the date the page shows or the date you read it"))
    hosts = {urlsplit(source_url(s)).hostname for s in sources if isinstance(s, Source) and s.label == "corroborated"}
    if len(hosts) == 1:
        index = next(i for i, s in enumerate(sources) if isinstance(s, Source) and s.label == "corroborated")
        add(Problem(doc.path, line_of(doc.lines, (*at, "sources", index)), "a corroborated fact has one website",
                    "add a second independent outlet that quotes the official body, or an official page"))


def backs_publication(sources: list[Source]) -> bool:
    """An official page or a facts-sheet row, or two outlets on different websites quoting the official body."""
    corroborating = {urlsplit(str(s.url)).hostname for s in sources if s.label == "corroborated"}
    return any(s.label in ("official", "sheet") for s in sources) or len(corroborating) >= 2


def check_texts(doc: Document, at: Path_, texts: Mapping[Any, AnswerText], *, name: str, published: bool,
                backed: set[str], locales_dir: Path | None, source: str, add: Add) -> None:
    """SMS within 3 segments with the review line; in published texts every number backed, and tú in Spanish."""
    for language, text in texts.items():
        sms_at = line_of(doc.lines, (*at, "texts", language, "sms"))
        info = sms_info(to_gsm7(text.sms + "\n" + footer_sample(language, locales_dir, source)))
        if info.segments > SMS_SEGMENTS:
            add(Problem(doc.path, sms_at, f"{name}/{language}: SMS is {info.segments} segments with the review "
                        f"line ({info.units} characters)", f"shorten it to fit {SMS_SEGMENTS} segments"))
        for plain, accented in lost_letters(text, language):
            add(Problem(doc.path, sms_at, f"{name}/{language}: the SMS writes {plain!r} where the text writes "
                        f"{accented!r}", "keep the letters SMS can carry (è é à ù ì ò ñ ü ä ö Ç ¿ ¡): write "
                        f"{accented!r}"))
        if not published:
            continue
        for field in ("whatsapp", "sms"):
            line = line_of(doc.lines, (*at, "texts", language, field))
            for claim in unbacked(getattr(text, field), backed):
                add(Problem(doc.path, line, f"{name}/{language}: unevidenced {claim.kind} {claim.text!r}",
                            "quote the passage of a source that states it (digits as written there), or remove it"))
            if language == "es" and USTED.search(getattr(text, field)):
                add(Problem(doc.path, line, f"{name}/es: 'usted' in a text written in tú",
                            "address the reader as tú, as every Spanish answer does"))


def check_entries(raw: RawContent, topic_ids: set[str], add: Add, locales_dir: Path | None, today: date) -> None:
    """Entry files name a known country; ids are unique and carry their file's prefix; asks are not shared.

    A phrasing may answer one entry only among those a reader in one country can be given: the country's own
    entries and the regional ones. Two countries may share a phrasing ("is it free?").
    """
    ids = Counter(e.id for doc in raw.entries.values() for e in doc.model.entries)
    regional: dict[str, str] = {}
    for key, doc in sorted(raw.entries.items(), key=lambda item: item[0] != "regional"):
        country = None if key == "regional" else key
        asks = regional if country is None else dict(regional)
        if country is not None and country not in raw.countries and country not in raw.broken:
            add(Problem(doc.path, 1, f"unknown country {key!r}", "name the file after a country of content/countries/"))
        prefix = "region-" if country is None else f"{key.lower()}-"
        numbers = published_numbers(raw, country)
        for i, entry in enumerate(doc.model.entries):
            at: Path_ = ("entries", i)
            if ids[entry.id] > 1:
                add(Problem(doc.path, line_of(doc.lines, (*at, "id")), f"duplicate entry id {entry.id!r}",
                            "give each entry its own id"))
            if not entry.id.startswith(prefix):
                add(Problem(doc.path, line_of(doc.lines, (*at, "id")), f"entry id {entry.id!r} does not start "
                            f"with {prefix!r}", f"name entries of this file {prefix}…"))
            if entry.topic not in topic_ids:
                add(Problem(doc.path, line_of(doc.lines, (*at, "topic")), f"unknown topic {entry.topic!r}",
                            "use a topic id of content/topics.yaml"))
            _check_entry(doc, at, entry, country, numbers, asks, add, locales_dir, today)


def _check_entry(doc: Document, at: Path_, entry: Entry, country: str | None, numbers: list[str],
                 asks: dict[str, str], add: Add, locales_dir: Path | None, today: date) -> None:
    published = entry.status == "published"
    for language in sorted(set(entry.texts) - set(entry.asks)):  # asks may come in more languages than texts
        add(Problem(doc.path, line_of(doc.lines, (*at, "asks")), f"{entry.id}: texts in {language!r} but no asks",
                    f"add asks.{language}: how people ask this in that language"))
    if published:
        for needed in sorted(entry_languages(country) - set(entry.texts)):
            add(Problem(doc.path, line_of(doc.lines, (*at, "texts")), f"{entry.id}: missing required language "
                        f"{needed!r}", f"add asks.{needed} and texts.{needed}"))
    if entry.last_reviewed > today:
        add(Problem(doc.path, line_of(doc.lines, (*at, "last_reviewed")), "last_reviewed is in the future",
                    "use the date of the review"))
    for language, phrasings in entry.asks.items():
        if len({normalize(p) for p in phrasings}) < MIN_ASKS:
            add(Problem(doc.path, line_of(doc.lines, (*at, "asks", language)), f"{entry.id}: fewer than {MIN_ASKS} "
                        f"different asks in {language!r}", "add more of the ways people ask this"))
        for j, phrasing in enumerate(phrasings):
            other = asks.setdefault(normalize(phrasing), entry.id)
            if other != entry.id:
                add(Problem(doc.path, line_of(doc.lines, (*at, "asks", language, j)), f"ask {phrasing!r} is also "
                            f"an ask of {other!r}", "keep each phrasing for the one entry that answers it"))
    check_sources(doc, at, list(entry.sources), today, add)
    if published and not backs_publication(entry.sources):
        add(Problem(doc.path, line_of(doc.lines, (*at, "sources")), f"{entry.id}: no source backs publication",
                    "add an official page, a facts-sheet row, or two corroborating outlets; else keep it a draft"))
    backed = backed_numbers(entry.sources, numbers)
    check_texts(doc, at, entry.texts, name=entry.id, published=published, backed=backed, locales_dir=locales_dir,
                source=short_url(str(entry.sources[0].url)), add=add)
