"""KnowledgeBase: answers, countries and service points, in memory, pure look-ups."""

import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from app.i18n import FALLBACKS, Texts
from app.knowledge.loader import RawContent
from app.knowledge.schema import AnswerEntry, Country, ServicePoint, Topic
from app.messages import title
from app.text import normalize

# Topics whose answers start with the country's published emergency numbers, the kind named first.
NUMBER_TOPICS = {"emergency": "general", "trafficking": "trafficking"}
WORD = re.compile(r"[A-Z0-9]+")
LANGUAGE_NAMES = {"es": "español", "en": "English", "fr": "français", "ht": "kreyòl", "pt": "português",
                  "nl": "Nederlands"}


@dataclass(frozen=True)
class Answer:
    topic: str
    country: str | None
    language: str  # the language of the text, which may be a fallback
    whatsapp: str
    sms: str
    last_reviewed: date
    source: str
    fell_back: bool


@dataclass(frozen=True)
class ServiceMatch:
    point: ServicePoint
    country: str
    km: float | None


def short_url(url: str) -> str:
    """Where to confirm, short enough for an SMS: 'https://www.gob.mx/comar/x/y' -> 'gob.mx/comar'."""
    host, _, path = url.split("://", 1)[-1].partition("/")
    host = host[4:] if host.startswith("www.") else host
    first = path.split("/", 1)[0].split("?", 1)[0]
    return f"{host}/{first}" if first and len(first) <= 16 and "." not in first and not first.isdigit() else host


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


class KnowledgeBase:
    """Everything the assistant may say, loaded once from content/."""

    def __init__(self, raw: RawContent, *, locales_dir: Path) -> None:
        self.version = raw.version
        self.locales_dir = locales_dir
        self.topics: list[Topic] = list(raw.topics.model.topics) if raw.topics else []
        self.countries: dict[str, Country] = {code: doc.model for code, doc in raw.countries.items()}
        self._answers: dict[tuple[str, str | None], AnswerEntry] = {}
        for key, doc in raw.answers.items():
            scope = None if key == "regional" else key
            for entry in doc.model.answers:
                if entry.status == "published":
                    self._answers[(entry.topic, scope)] = entry
        self.services: list[ServiceMatch] = [
            ServiceMatch(point, code, None)
            for code, doc in raw.services.items()
            for point in doc.model.services
            if point.status == "published"
        ]
        self._keywords = {
            normalize(word): topic.id for topic in self.topics for words in topic.keywords.values() for word in words
        }
        self._codes = {code: code for code in self.countries}
        self._place_words: dict[str, str] = {}
        self._demonym_words: dict[str, str] = {}
        for code, country in self.countries.items():
            for word in (*country.names.values(), *country.aliases):
                self._place_words.setdefault(" ".join(WORD.findall(normalize(word))), code)
            for word in country.demonyms:
                self._demonym_words.setdefault(" ".join(WORD.findall(normalize(word))), code)
        self._country_words = {**self._demonym_words, **self._place_words, **self._codes}

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def topic_name(self, topic_id: str, language: str) -> str:
        topic = self.topic(topic_id)
        if topic is None:
            return topic_id
        for code in (language, *FALLBACKS.get(language, ()), "en"):
            if code in topic.names:
                return topic.names[code]
        return topic_id

    def country_name(self, code: str, language: str) -> str:
        names = self.countries[code].names
        # any code may be asked: one the file lacks is simply missed (the dict is keyed by Language)
        return names.get(language) or names.get("en") or code  # type: ignore[call-overload]

    def topic_for_keyword(self, word: str) -> str | None:
        return self._keywords.get(normalize(word))

    def country_for_word(self, text: str) -> str | None:
        """The country a name, alias, demonym or code stands for ('mejico' -> 'MX')."""
        return self._country_words.get(normalize(text))

    def country_in_text(self, text: str) -> str | None:
        """The country named in a text, by whole words (up to three words long).

        Names and aliases win over demonyms ("soy haitiano en mexico" is about Mexico). Two-letter codes
        count only as the whole text ("MX"), since inside a sentence they are mostly ordinary words.
        """
        words = WORD.findall(normalize(text))
        if len(words) == 1 and words[0] in self._codes:
            return self._codes[words[0]]
        for table in (self._place_words, self._demonym_words):
            for i in range(len(words)):  # the first country named, its longest spelling
                for size in (3, 2, 1):
                    code = table.get(" ".join(words[i : i + size])) if i + size <= len(words) else None
                    if code:
                        return code
        return None

    def entry(self, topic: str, country: str | None) -> tuple[AnswerEntry | None, AnswerEntry | None]:
        """The published country entry and regional entry for a topic."""
        return self._answers.get((topic, country)) if country else None, self._answers.get((topic, None))

    def answer(self, topic: str, country: str | None, language: str) -> Answer | None:
        """The answer on a topic for a country, in the language asked or the nearest fallback."""
        own, regional = self.entry(topic, country)
        main = own or regional
        if main is None:
            return None
        chain = (language, *FALLBACKS.get(language, ("en",)))
        # the language asked, else its nearest fallback, else the entry's first language
        lang = min(main.texts, key=lambda code: chain.index(code) if code in chain else len(chain))
        text = main.texts[lang]
        whatsapp, sms = text.whatsapp, text.sms
        if own is not None and own.regional == "append" and regional is not None and lang in regional.texts:
            whatsapp = f"{whatsapp}\n\n{regional.texts[lang].whatsapp}"
        texts = Texts(language, self.locales_dir)
        if topic in NUMBER_TOPICS and country and own is None:  # country answers carry their own numbers
            numbers = self.numbers_block(country, language, first=NUMBER_TOPICS[topic])
            if numbers:
                whatsapp, sms = f"{numbers}\n\n{whatsapp}", f"{numbers}\n{sms}"
        source = short_url(str(main.sources[0]))
        footer = texts.gettext("Reviewed {date} · {source}", date=main.last_reviewed.isoformat(), source=source)
        notes = []
        if lang != language:
            notes.append(texts.gettext("(This answer is not yet available in {language}.)",
                                       language=LANGUAGE_NAMES.get(language, language)))
        whatsapp = "\n\n".join([*notes, whatsapp, footer])
        sms = "\n".join([*notes, sms, footer])
        return Answer(topic, country if own else None, lang, whatsapp, sms, main.last_reviewed, source, lang != language)

    def emergency_numbers(self, country: str, language: str, *, first: str = "general") -> list[tuple[str, str]]:
        """(label, number) of the published emergency numbers of a country, the kind asked for first."""
        items = [i for i in self.countries[country].emergency if i.status == "published"] \
            if country in self.countries else []
        items.sort(key=lambda i: i.service != first)  # stable: the file's order otherwise
        return [(i.label.get(language) or i.label.get("en") or i.service, i.number)  # type: ignore[call-overload]  # as above
                for i in items]

    def numbers_block(self, country: str, language: str, *, first: str = "general") -> str:
        """The published emergency numbers of a country as lines, the kind asked for first."""
        numbers = self.emergency_numbers(country, language, first=first)
        if not numbers:
            return ""
        texts = Texts(language, self.locales_dir)
        name = self.country_name(country, language)
        heading = title(texts.gettext("Emergency numbers in {country}:", country=name))
        return "\n".join([heading, *(f"{label}: {number}" for label, number in numbers)])

    def nearest(self, location: tuple[float, float], *, limit: int = 3) -> list[ServiceMatch]:
        """The published service points nearest to a location, with their distance."""
        placed = [
            ServiceMatch(s.point, s.country, distance_km(location, s.point.coordinates))
            for s in self.services
            if s.point.coordinates is not None
        ]
        return sorted(placed, key=lambda m: m.km or 0.0)[:limit]

    def in_city(self, city: str) -> list[ServiceMatch]:
        """The published service points of a city, by name without accents or case."""
        wanted = normalize(city)
        return [s for s in self.services if s.point.city and normalize(s.point.city) == wanted]

    def city_in_text(self, text: str) -> str | None:
        """A city with service points named in a text ('servicios en tapachula' -> 'Tapachula')."""
        words = normalize(text).split()
        cities = {normalize(s.point.city): s.point.city for s in self.services if s.point.city}
        for size in (3, 2, 1):
            for i in range(len(words) - size + 1):
                city = cities.get(" ".join(words[i : i + size]))
                if city:
                    return city
        return None
