"""The schema of content/ files; unknown keys are refused."""

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

Language = Literal["es", "en", "fr", "ht", "pt", "nl"]
Status = Literal["draft", "published"]
TOPIC_IDS = (
    "asylum", "regularization", "work", "family", "documents", "risks", "trafficking",
    "services", "health", "education", "emergency", "return", "missing", "disasters",
)  # fmt: skip
COUNTRY_CODES = ("BZ", "CR", "SV", "GT", "GD", "HT", "HN", "MX", "PA", "SR", "DO")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Topic(Strict):
    id: str = Field(pattern=r"^[a-z_]+$")
    names: dict[Language, str]
    keywords: dict[Language, list[str]]


class TopicsFile(Strict):
    topics: list[Topic]


class EmergencyNumber(Strict):
    service: Literal["general", "police", "ambulance", "fire", "trafficking", "civil_protection", "reports", "other"]
    number: str = Field(min_length=2, max_length=20)
    label: dict[Language, str]
    status: Status
    source: HttpUrl
    call_tested: bool = False  # shown to editors, never to the person


class Country(Strict):
    code: str = Field(pattern=r"^[A-Z]{2}$")
    calling_code: int
    official_languages: list[Language | str]
    names: dict[Language, str]
    aliases: list[str] = []
    demonyms: list[str] = []
    ambiguous: list[str] = []  # names or aliases that are also names of people or other places: need "en", "in"…
    emergency: list[EmergencyNumber] = []


class AnswerText(Strict):
    whatsapp: str = Field(min_length=1, max_length=1000)
    sms: str = Field(min_length=1)


class Source(Strict):
    """Evidence for a text: the page, who published it, when it was seen, and the passage that backs the text."""

    url: HttpUrl
    publisher: str = Field(min_length=2)
    label: Literal["official", "corroborated", "sheet", "supporting"]  # supporting: an NGO or press page that adds
    seen_on: date                                                      # context; it backs no fact on its own
    quote: str = Field(min_length=10, max_length=1200)
    also: list[HttpUrl] = []  # the same fact elsewhere: the other URLs of a facts-sheet row, other languages


def source_url(source: "HttpUrl | Source") -> str:
    return str(source.url if isinstance(source, Source) else source)


class AnswerEntry(Strict):
    topic: str
    status: Status
    regional: Literal["replace", "append"] = "replace"
    last_reviewed: date
    reviewer: str = Field(min_length=1)
    sources: list[HttpUrl | Source] = Field(min_length=1)
    texts: dict[Language, AnswerText]


class AnswersFile(Strict):
    answers: list[AnswerEntry]


class Entry(Strict):
    """A specific answer to one question people ask, with the phrasings they use and its evidence."""

    id: str = Field(pattern=r"^(region|[a-z]{2})-[a-z0-9]+(-[a-z0-9]+)*$")
    topic: str
    status: Status
    last_reviewed: date
    reviewer: str = Field(min_length=1)
    sources: list[Source] = Field(min_length=1)
    asks: dict[Language, list[str]]
    texts: dict[Language, AnswerText]


class EntriesFile(Strict):
    entries: list[Entry]


class ServicePoint(Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    organisation: str
    kind: Literal[
        "shelter", "legal_aid", "health", "iom_office", "information_hub", "consulate",
        "government_office", "hotline",
    ]  # fmt: skip
    city: str | None = None
    address: str | None = None
    coordinates: tuple[float, float] | None = None
    coordinates_precision: Literal["exact", "city"] | None = None
    phones: list[str] = []
    whatsapp: str | None = None
    hours: str | None = None
    website: HttpUrl | None = None
    languages: list[Language | str] = []
    services: list[str] = []
    verified_on: date
    status: Status
    source: HttpUrl | None = None
    quote: str | None = None  # the passage of `source` that backs phones, address and hours
    call_tested: bool = False  # shown to editors, never to the person


class ServicesFile(Strict):
    services: list[ServicePoint]


class Place(Strict):
    """A place people name on the routes (a city, a border town, a crossing, a region) and its country."""

    name: str = Field(min_length=2)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    kind: Literal["city", "border_town", "crossing", "region", "shelter_area"]
    names: list[str] = Field(min_length=1)
    ambiguous: bool = False  # also a common word or another place: counts only after "en", "in", "à"…


class PlacesFile(Strict):
    places: list[Place]
