"""KnowledgeBase: answers, countries and service points, in memory, pure look-ups."""

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from app.i18n import FALLBACKS, Texts, content_chain
from app.knowledge import retrieval
from app.knowledge.loader import RawContent
from app.knowledge.places import Gazetteer, Nearby, countries_at, distance_km, split_nearby
from app.knowledge.retrieval import EntryIndex, Match
from app.knowledge.schema import AnswerEntry, Country, Entry, ServicePoint, Topic, source_url
from app.knowledge.wording import COUNTRY_PROMPT, short_url, without_country_prompt  # noqa: F401 (re-exported)
from app.messages import title
from app.text import WORD, normalize, words_of

K = TypeVar("K", bound=str)
# Topics whose answers start with the country's published emergency numbers, the kind named first.
NUMBER_TOPICS = {"emergency": "general", "trafficking": "trafficking"}
LANGUAGE_NAMES = {"es": "español", "en": "English", "fr": "français", "ht": "kreyòl", "pt": "português",
                  "nl": "Nederlands"}
_INDEXES: dict[str, EntryIndex] = {}  # by content version: every copy of one content shares its index
_BUILDING = threading.Lock()


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
    entry: str | None = None  # the id of a specific entry, None for a topic overview


@dataclass(frozen=True)
class ServiceMatch:
    point: ServicePoint
    country: str
    km: float | None


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
        self.entries: dict[str, Entry] = {}
        self.entry_scope: dict[str, str | None] = {}  # entry id -> its country, None for regional entries
        for key, doc in raw.entries.items():
            for item in doc.model.entries:
                if item.status == "published":
                    self.entries[item.id] = item
                    self.entry_scope[item.id] = None if key == "regional" else key
        self.services: list[ServiceMatch] = [ServiceMatch(point, code, None) for code, doc in raw.services.items()
                                             for point in doc.model.services if point.status == "published"]
        self._keywords = {normalize(word): topic.id for topic in self.topics
                          for words in topic.keywords.values() for word in words}
        self._codes = {code: code for code in self.countries}
        self._place_words: dict[str, str] = {}
        self._demonym_words: dict[str, str] = {}
        for code, country in self.countries.items():
            for word in (*country.names.values(), *country.aliases):
                self._place_words.setdefault(words_of(word), code)
            for word in country.demonyms:
                self._demonym_words.setdefault(words_of(word), code)
        self._country_words = {**self._demonym_words, **self._place_words, **self._codes}
        self._ambiguous = {words_of(w) for c in self.countries.values() for w in c.ambiguous}
        self.gazetteer = Gazetteer(raw.places.model.places if raw.places else [])
        self._firsts = {key.split()[0] for key in [*self._country_words, *self.gazetteer.places] if key}

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
        return next(self.countries_named(text), None)

    def countries_named(self, text: str, *, demonyms: bool = True, origins: bool = True) -> Iterator[str]:
        """The countries a text names: places and names first, then demonyms; each in the order written. Without
        `origins`, not those named only as where someone was deported from ("deportado desde méxico")."""
        words = WORD.findall(normalize(text))
        if len(words) == 1 and words[0] in self._codes:
            yield self._codes[words[0]]
        for table in (self._place_words, None, self._demonym_words)[: 3 if demonyms else 2]:
            end = 0
            for i in range(len(words)):  # each country named, its longest spelling
                if i < end or words[i] not in self._firsts:  # no country or place name begins here
                    continue
                for size in (4, 3, 2, 1):
                    key = " ".join(words[i : i + size]) if i + size <= len(words) else ""
                    code = table.get(key) if table is not None else self.gazetteer.country_at(words, i, key)
                    if code and table is self._place_words and key in self._ambiguous and key != " ".join(words) \
                            and not Gazetteer.after_preposition(words, i):
                        code = None  # "Salvador me dijo" is a person
                    if code:
                        end = i + size
                        if origins or not Gazetteer.after_origin(words, i):
                            yield code
                        break

    def place_in_text(self, text: str) -> tuple[str, str] | None:
        """The first place of the gazetteer named in a text, and its country ('en tapachula' -> Tapachula, MX)."""
        return self.gazetteer.find(WORD.findall(normalize(text)))

    def entry(self, topic: str, country: str | None) -> tuple[AnswerEntry | None, AnswerEntry | None]:
        """The published country entry and regional entry for a topic."""
        return self._answers.get((topic, country)) if country else None, self._answers.get((topic, None))

    def answer(self, topic: str, country: str | None, language: str) -> Answer | None:
        """The answer on a topic for a country, in the language asked or the nearest fallback."""
        own, regional = self.entry(topic, country)
        main = own or regional
        if main is None:
            return None
        lang = self.pick_language(main.texts, language, country)
        whatsapp, sms = main.texts[lang].whatsapp, main.texts[lang].sms
        if own is None and country:  # the country is known: the regional text's "write the country" goes
            whatsapp, sms = without_country_prompt(whatsapp), without_country_prompt(sms)
        if own is not None and own.regional == "append" and regional is not None and lang in regional.texts:
            whatsapp = f"{whatsapp}\n\n{without_country_prompt(regional.texts[lang].whatsapp)}"
        if topic in NUMBER_TOPICS and country and own is None:  # country answers carry their own numbers
            numbers = self.numbers_block(country, language, first=NUMBER_TOPICS[topic])
            if numbers:
                whatsapp, sms = f"{numbers}\n\n{whatsapp}", f"{numbers}\n{sms}"
        return self._finish(Answer(topic, country if own else None, lang, whatsapp, sms, main.last_reviewed,
                                   short_url(source_url(main.sources[0])), lang != language), language)

    def entry_answer(self, entry_id: str, language: str, country: str | None = None) -> Answer | None:
        """A specific entry, in the language asked or the nearest fallback for a reader in `country`."""
        entry = self.entries.get(entry_id)
        if entry is None:
            return None
        scope = self.entry_scope[entry_id]
        lang = self.pick_language(entry.texts, language, scope or country)
        text = entry.texts[lang]
        return self._finish(Answer(entry.topic, scope, lang, text.whatsapp, text.sms, entry.last_reviewed,
                                   short_url(str(entry.sources[0].url)), lang != language, entry.id), language)

    def entry_names(self, entry_id: str, place: str) -> bool:
        """Whether an entry's text names a place ("Casa del Migrante Tecún Umán"): it is about that place."""
        entry = self.entries.get(entry_id)
        wanted = f" {words_of(place)} "
        return entry is not None and any(wanted in f" {words_of(text.whatsapp)} " for text in entry.texts.values())

    @property
    def entry_index(self) -> EntryIndex:
        """The entries' phrasings, ready to search (built on first use, shared by every copy of this content)."""
        with _BUILDING:
            index = _INDEXES.get(self.version)
            if index is None:
                names = [w for c in self.countries.values() for w in (*c.names.values(), *c.aliases, *c.demonyms)]
                index = retrieval.CACHE.get(list(self.entries.values()), self.entry_scope, names)
                if len(_INDEXES) >= 3:
                    _INDEXES.pop(next(iter(_INDEXES)))
                _INDEXES[self.version] = index
        return index

    def warm(self) -> None:
        """Build (or load) the entries' index now."""
        self.entry_index  # noqa: B018

    def search_entries(self, text: str, country: str | None | tuple[str | None, ...]) -> list[Match]:
        """The entries matching a message; while a new content's index is still being built (half a minute, after a
        reload), none: the topic overview answers meanwhile rather than keep the person waiting."""
        if self.version in _INDEXES:
            return _INDEXES[self.version].search(text, country)
        if not _BUILDING.locked():
            threading.Thread(target=self.warm, name="entry-index", daemon=True).start()
        return []

    def entry_title(self, entry_id: str, language: str, country: str | None = None) -> str:
        """The first line of an entry's text, without its title marks: how a choice names it."""
        entry = self.entries[entry_id]
        text = entry.texts[self.pick_language(entry.texts, language, self.entry_scope[entry_id] or country)]
        return text.whatsapp.splitlines()[0].strip("* ")

    def entries_for(self, country: str | None, topic: str | None = None) -> list[Entry]:
        """The published entries a reader in `country` may be given: the country's own, then the regional ones."""
        return [e for e in self.entries.values() if self.entry_scope[e.id] in (country, None)
                and (topic is None or e.topic == topic)]

    def pick_language(self, texts: Mapping[K, object], language: str, country: str | None) -> K:
        """The language asked, else the nearest along the reader's chain, else the text's first language."""
        own = tuple(self.countries[country].official_languages) if country in self.countries else ()
        chain = content_chain(language, own)
        return min(texts, key=lambda code: chain.index(code) if code in chain else len(chain))

    def _finish(self, answer: Answer, language: str) -> Answer:
        """The reader-facing texts: a note when the language fell back, and the review line."""
        texts = Texts(language, self.locales_dir)
        footer = texts.gettext("Reviewed {date} · {source}", date=answer.last_reviewed.isoformat(),
                               source=answer.source)
        notes = []
        if answer.fell_back:
            notes.append(texts.gettext("(This answer is not yet available in {language}.)",
                                       language=LANGUAGE_NAMES.get(language, language)))
        return replace(answer, whatsapp="\n\n".join([*notes, answer.whatsapp, footer]),
                       sms="\n".join([*notes, answer.sms, footer]))

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

    def nearby(self, location: tuple[float, float], country: str | None) -> Nearby:
        """Service points near a person, kept to the country they are in.

        Where they are wins over the country remembered for them (a Honduran number shares a location in
        Tapachula: Mexico). Near a border, where the boxes of two countries overlap, the remembered country
        decides, else the country of the nearest service point.
        """
        ranked = self.nearest(location, limit=len(self.services))
        candidates = countries_at(location)
        if country not in candidates and candidates:
            country = next((m.country for m in ranked if m.country in candidates), candidates[0])
        return split_nearby(ranked, country)

    def in_city(self, city: str) -> list[ServiceMatch]:
        """The published service points of a city, by name without accents or case."""
        wanted = normalize(city)
        return [s for s in self.services if s.point.city and normalize(s.point.city) == wanted]

    @cached_property
    def _cities(self) -> dict[str, str]:
        return {normalize(s.point.city): s.point.city for s in self.services if s.point.city}

    def city_in_text(self, text: str) -> str | None:
        """A city with service points named in a text ('servicios en tapachula' -> 'Tapachula')."""
        words = normalize(text).split()
        cities = self._cities
        for size in (3, 2, 1):
            for i in range(len(words) - size + 1):
                city = cities.get(" ".join(words[i : i + size]))
                if city:
                    return city
        return None
