"""Checks beyond the schema: references, required languages, SMS length, phones, places, ids, freshness."""

from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

import phonenumbers

from app.knowledge.base import NUMBER_TOPICS, KnowledgeBase, short_url
from app.knowledge.entry_checks import (
    backed_numbers,
    check_entries,
    check_sources,
    check_texts,
    published_numbers,
)
from app.knowledge.evidence import backing_numbers, claims, digits_of, unbacked
from app.knowledge.loader import Document, Problem, RawContent, line_of
from app.knowledge.places import BOXES
from app.knowledge.report import coverage, gaps
from app.knowledge.requirements import STALE_DAYS, required_languages
from app.knowledge.schema import (
    COUNTRY_CODES,
    TOPIC_IDS,
    AnswerEntry,
    Country,
    ServicePoint,
    source_url,
)
from app.text import normalize

Add = Callable[[Problem], None]


_CHECKED: dict[tuple[str, str, str, date], list[Problem]] = {}  # by content version: the same files, the same problems


def check(raw: RawContent, *, locales_dir: Path | None = None, today: date | None = None) -> list[Problem]:
    """Every problem of the content, errors and warnings, in file order."""
    today = today or date.today()
    key = (raw.version, raw.topics.path if raw.topics else "", str(locales_dir), today)  # the path: how files are named
    if raw.version and not raw.problems and key in _CHECKED:
        return list(_CHECKED[key])
    problems = _check(raw, locales_dir, today)
    if raw.version and not raw.problems:
        if len(_CHECKED) >= 16:
            _CHECKED.pop(next(iter(_CHECKED)))
        _CHECKED[key] = problems
    return list(problems)


def _check(raw: RawContent, locales_dir: Path | None, today: date) -> list[Problem]:
    problems = list(raw.problems)
    topic_ids = _check_topics(raw, problems.append)
    _check_countries(raw, problems.append)
    _check_answers(raw, topic_ids, problems.append, locales_dir, today)
    _check_services(raw, topic_ids, problems.append)
    check_entries(raw, topic_ids, problems.append, locales_dir, today)
    _check_places(raw, problems.append)
    if raw.topics and not any(p for p in problems if not p.warning):
        problems += _coverage_problems(raw, today)
        problems += _numbers_problems(raw, locales_dir)
    return sorted(problems, key=lambda p: (p.file, p.line))


def _check_topics(raw: RawContent, add: Add) -> set[str]:
    """Each topic id once and every required one present, names in es and en, each keyword for one topic."""
    topic_ids: set[str] = set()
    if not raw.topics:
        return topic_ids
    doc = raw.topics
    seen: dict[tuple[str, str], str] = {}
    for i, topic in enumerate(doc.model.topics):
        if topic.id in topic_ids:
            add(Problem(doc.path, line_of(doc.lines, ("topics", i, "id")), f"duplicate topic id {topic.id!r}",
                        "give each topic its own id"))
        topic_ids.add(topic.id)
        for language in ("es", "en"):
            if language not in topic.names:
                add(Problem(doc.path, line_of(doc.lines, ("topics", i, "names")),
                            f"topic {topic.id!r} has no name in {language!r}", f"add names.{language}"))
        for language, words in topic.keywords.items():
            for word in words:
                other = seen.setdefault((language, word.upper()), topic.id)
                if other != topic.id:
                    add(Problem(doc.path, line_of(doc.lines, ("topics", i, "keywords", language)),
                                f"keyword {word!r} ({language}) is used by {other!r} and {topic.id!r}",
                                "keep each keyword for one topic"))
    for missing in sorted(set(TOPIC_IDS) - topic_ids):
        add(Problem(doc.path, 1, f"topic {missing!r} is missing", "add it: every topic id is required"))
    return topic_ids


def _check_countries(raw: RawContent, add: Add) -> None:
    """Each country file on its own, and every country of the programme present."""
    for key, doc in raw.countries.items():
        _check_country(key, doc, add)
    for code in COUNTRY_CODES:
        if code not in raw.countries and code not in raw.broken:
            add(Problem(f"content/countries/{code}.yaml", 1, f"country {code} is missing", "add its file"))


def _check_answers(raw: RawContent, topic_ids: set[str], add: Add, locales_dir: Path | None, today: date) -> None:
    """Answer files name a known country; entries a known topic, one published each, regional ones replacing."""
    for key, doc in raw.answers.items():
        country = None if key == "regional" else key
        if country is not None and country not in raw.countries and country not in raw.broken:
            add(Problem(doc.path, 1, f"unknown country {key!r}", "name the file after a country of content/countries/"))
        published = Counter(e.topic for e in doc.model.answers if e.status == "published")
        numbers = published_numbers(raw, country)
        for i, entry in enumerate(doc.model.answers):
            at = ("answers", i)
            if entry.topic not in topic_ids:
                add(Problem(doc.path, line_of(doc.lines, (*at, "topic")), f"unknown topic {entry.topic!r}",
                            "use a topic id of content/topics.yaml"))
            if entry.status == "published" and published[entry.topic] > 1:
                add(Problem(doc.path, line_of(doc.lines, (*at, "topic")),
                            f"more than one published answer for {entry.topic!r}",
                            "keep one published entry per topic; mark the others draft"))
                published[entry.topic] = -1  # report once
            if country is None and entry.regional != "replace":
                add(Problem(doc.path, line_of(doc.lines, (*at, "regional")), "regional answers cannot append",
                            "remove the `regional` key"))
            _check_answer(doc, at, entry, numbers, add, locales_dir, today)


def _check_services(raw: RawContent, topic_ids: set[str], add: Add) -> None:
    """Service ids unique across countries, then each point on its own."""
    ids = Counter(p.id for doc in raw.services.values() for p in doc.model.services)
    for key, doc in raw.services.items():
        for i, point in enumerate(doc.model.services):
            at = ("services", i)
            if ids[point.id] > 1:
                add(Problem(doc.path, line_of(doc.lines, (*at, "id")), f"duplicate service id {point.id!r}",
                            "give each service point its own id"))
            _check_point(doc, at, point, key, topic_ids, add)


def _check_point(doc: Document, at: tuple[str, int], point: ServicePoint, key: str, topic_ids: set[str],
                 add: Add) -> None:
    """A service point's phones dial, its coordinates fall inside its country, its topics exist."""
    for j, phone in enumerate(point.phones):
        if not _valid_phone(phone, key):
            add(Problem(doc.path, line_of(doc.lines, (*at, "phones", j)), f"malformed phone number {phone!r}",
                        "write it in international form, e.g. +50688887777"))
    if point.whatsapp and not _valid_phone(point.whatsapp, key):
        add(Problem(doc.path, line_of(doc.lines, (*at, "whatsapp")), f"malformed WhatsApp number "
                    f"{point.whatsapp!r}", "write it in international form, e.g. +50688887777"))
    if point.coordinates and key in BOXES:
        lat, lon = point.coordinates
        south, north, west, east = BOXES[key]
        if not (south <= lat <= north and west <= lon <= east):
            add(Problem(doc.path, line_of(doc.lines, (*at, "coordinates")),
                        f"coordinates {lat}, {lon} are outside {key}",
                        "check the order [latitude, longitude] and the signs"))
    if point.status == "published":
        _check_point_evidence(doc, at, point, add)
    for topic in point.services:
        if topic not in topic_ids:
            add(Problem(doc.path, line_of(doc.lines, (*at, "services")), f"unknown topic {topic!r}",
                        "use topic ids of content/topics.yaml"))


def _check_point_evidence(doc: Document, at: tuple[str, int], point: ServicePoint, add: Add) -> None:
    """A published point's phones, address and hours are in its quote."""
    stated = [*point.phones, *([point.whatsapp] if point.whatsapp else [])]
    words = [w for w in (point.address, point.hours) if w]
    if not (stated or words):
        return
    if not point.quote or not point.source:
        add(Problem(doc.path, line_of(doc.lines, (*at, "source")), f"{point.id}: phones, address or hours without "
                    "a quote", "add `source` and `quote`: the passage of the page that states them"))
        return
    backed = backing_numbers([point.quote])
    for claim in [c for text in (*stated, *words) for c in unbacked(text, backed)]:
        add(Problem(doc.path, line_of(doc.lines, (*at, "quote")), f"{point.id}: {claim.text!r} is not in the quote",
                    "quote the passage that states it, or remove it"))


def _check_places(raw: RawContent, add: Add) -> None:
    """Each place in a country of the programme, each spelling for one place."""
    if raw.places is None:
        return
    doc, seen = raw.places, dict[str, str]()
    for i, place in enumerate(doc.model.places):
        if place.country not in COUNTRY_CODES:
            add(Problem(doc.path, line_of(doc.lines, ("places", i, "country")), f"{place.name}: unknown country "
                        f"{place.country!r}", "use one of " + ", ".join(COUNTRY_CODES)))
        for spelling in {normalize(w) for w in (place.name, *place.names)}:
            other = seen.setdefault(spelling, place.name)
            if other != place.name:
                add(Problem(doc.path, line_of(doc.lines, ("places", i, "names")), f"{spelling.lower()!r} names both "
                            f"{other} and {place.name}", "keep one place per spelling (mark it ambiguous: true)"))


def _coverage_problems(raw: RawContent, today: date) -> list[Problem]:
    """Every required country × topic × language cell must be answered in its own language."""
    problems = []
    for cell in gaps(coverage(raw, today=today)):
        key = cell.country if cell.origin == "country" else "regional"
        doc = raw.answers.get(key)
        path = doc.path if doc else f"content/answers/{key}.yaml"
        line = 1
        if doc:
            index = next((i for i, e in enumerate(doc.model.answers) if e.topic == cell.topic
                          and e.status == "published"), None)
            line = line_of(doc.lines, ("answers", index, "texts")) if index is not None else 1
        problems.append(Problem(path, line, f"{cell.country} × {cell.topic} has no published answer in "
                                f"{cell.language!r} ({cell.status})", f"add texts.{cell.language} here, or write "
                                f"a {cell.country} answer for {cell.topic}"))
    return problems


def _numbers_problems(raw: RawContent, locales_dir: Path | None) -> list[Problem]:
    """A person in danger gets a number: each country's emergency and trafficking answers carry a published one."""
    kb = KnowledgeBase(raw, locales_dir=locales_dir or Path("/nonexistent"))
    problems = []
    for code, doc in raw.countries.items():
        numbers = {digits_of(n) for _, n in kb.emergency_numbers(code, "es")}
        if not numbers:
            problems.append(Problem(doc.path, line_of(doc.lines, ("emergency",)), f"{code} publishes no emergency "
                                    "number", "publish at least one number an official source gives"))
            continue
        for topic in NUMBER_TOPICS:
            for language in ("es", "en"):
                answer = kb.answer(topic, code, language)
                if answer and not numbers & {c.digits for c in claims(answer.sms)}:
                    problems.append(Problem(doc.path, line_of(doc.lines, ("emergency",)), f"{code} × {topic} "
                                            f"({language}): the SMS answer gives none of the published numbers",
                                            f"name a published number in the {code} {topic} answer"))
    return problems


def _check_country(key: str, doc: Document, add: Add) -> None:
    country: Country = doc.model
    if country.code != key:
        add(Problem(doc.path, line_of(doc.lines, ("code",)), f"code {country.code} does not match the file name",
                    f"rename the file to {country.code}.yaml or fix the code"))
    if key not in COUNTRY_CODES:
        add(Problem(doc.path, 1, f"{key} is not a country of the programme", "use one of " + ", ".join(COUNTRY_CODES)))
    for language in ("es", "en"):
        if language not in country.names:
            add(Problem(doc.path, line_of(doc.lines, ("names",)), f"no name in {language!r}", f"add names.{language}"))
    for i, item in enumerate(country.emergency):
        digits = item.number.replace(" ", "").replace("-", "")
        if not digits.isdigit() or not 2 <= len(digits) <= 12:
            add(Problem(doc.path, line_of(doc.lines, ("emergency", i, "number")), f"malformed number {item.number!r}",
                        "write only digits, spaces or dashes, as people dial it in the country"))
        elif len(digits) > 6 and not _valid_phone(item.number, key) and not digits.startswith("800"):
            add(Problem(doc.path, line_of(doc.lines, ("emergency", i, "number")), f"{item.number!r} is not a valid "
                        f"number in {key}", "check the digits against the official source"))


def _check_answer(doc: Document, at: tuple[str, int], entry: AnswerEntry, numbers: list[str], add: Add,
                  locales_dir: Path | None, today: date) -> None:
    country = None if doc.path.endswith("regional.yaml") else Path(doc.path).stem
    if entry.status == "published":
        for language in sorted(required_languages(country, entry.topic) - set(entry.texts)):
            add(Problem(doc.path, line_of(doc.lines, (*at, "texts")),
                        f"{entry.topic}: missing required language {language!r}", f"add texts.{language}"))
        age = (today - entry.last_reviewed).days
        if age > STALE_DAYS:
            add(Problem(doc.path, line_of(doc.lines, (*at, "last_reviewed")),
                        f"{entry.topic}: not reviewed for {age} days", "check it against the sources and update "
                        "last_reviewed", warning=True))
    if entry.last_reviewed > today:
        add(Problem(doc.path, line_of(doc.lines, (*at, "last_reviewed")), "last_reviewed is in the future",
                    "use the date of the review"))
    check_sources(doc, at, list(entry.sources), today, add)
    backed = backed_numbers(entry.sources, numbers)
    check_texts(doc, at, entry.texts, name=entry.topic, published=entry.status == "published", backed=backed,
                locales_dir=locales_dir, source=short_url(source_url(entry.sources[0])), add=add)


def _valid_phone(number: str, region: str) -> bool:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed)
