"""Where things are: distances, the countries a point may lie in, and the nearest service points to a person."""

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from app.knowledge.schema import Place
from app.text import normalize, words_pattern

NEAR_KM = 50.0  # beyond this, a service point is not "near": the reply says so and gives the national line
# Latitude and longitude boxes of each country (with a small margin), to catch swapped or mistyped coordinates and
# to tell which countries a shared location may be in. Boxes overlap along borders.
BOXES = {
    "BZ": (15.7, 18.6, -89.4, -87.3), "CR": (5.4, 11.3, -87.2, -82.5), "SV": (13.0, 14.5, -90.2, -87.6),
    "GT": (13.6, 17.9, -92.3, -88.1), "GD": (11.9, 12.6, -61.9, -61.3), "HT": (17.9, 20.2, -74.6, -71.6),
    "HN": (12.9, 17.5, -89.4, -83.1), "MX": (14.4, 32.8, -118.5, -86.6), "PA": (7.1, 9.7, -83.1, -77.1),
    "SR": (1.8, 6.1, -58.1, -53.9), "DO": (17.4, 20.0, -72.1, -68.3),
}  # fmt: skip


WORD = re.compile(r"[A-Z0-9]+")
# Words after which an ambiguous place name is a place: "en Colón", "in Progreso", "à Salvador", "nan Granada".
PLACE_WORDS = frozenset({"EN", "DE", "DESDE", "HASTA", "HACIA", "POR", "DEL", "AL", "A", "IN", "AT", "TO", "FROM",
                         "NEAR", "AU", "DANS", "VERS", "NAN", "KOTE", "LA", "EM", "NO", "NA", "PARA", "PERTO",
                         "NAAR", "TE", "UIT", "BIJ"})


ARTICLES = frozenset({"EL", "LA", "LOS", "LAS", "THE", "LE", "LES", "O", "OS"})
# A place after these words, shortly after a word of deportation, is where someone was sent back from ("viene
# deportado solo desde México"); alone they may say where the person is ("volver desde Honduras").
ORIGIN_WORDS = frozenset({"DESDE", "FROM", "DEPUIS", "SOTI", "SOT", "VANUIT", "UIT"})
DEPORTED = ("DEPORT", "EXPULS", "DEVUELT", "RETORNAD", "REPATRI", "DEPOTE", "GEDEPORTEERD", "UITGEZET")


class Gazetteer:
    """The places of content/places.yaml by every spelling: which country a place people name is in."""

    def __init__(self, places: Iterable[Place]) -> None:
        self.places: dict[str, tuple[str, bool, str]] = {  # spelling -> (country, ambiguous, name)
            " ".join(WORD.findall(normalize(word))): (place.country, place.ambiguous, place.name)
            for place in places for word in (place.name, *place.names)
        }

    def country_at(self, words: list[str], i: int, key: str) -> str | None:
        """The country of the place spelled `key` at words[i:]; an ambiguous name only where the words around it
        make it a place: the whole message, or after a preposition of place ("en Colón", "in Progreso")."""
        found = self.places.get(key) if key else None
        if found is None:
            return None
        code, ambiguous, _ = found
        if ambiguous and key != " ".join(words) and not self.after_preposition(words, i):
            return None
        return code

    @staticmethod
    def after_preposition(words: list[str], i: int) -> bool:
        """'en Colón', 'en el Darién', 'in the Darién', 'à Jérémie'."""
        before = words[max(0, i - 2):i]
        return bool(before) and (before[-1] in PLACE_WORDS or (len(before) == 2 and before[1] in ARTICLES
                                                                and before[0] in PLACE_WORDS))

    @staticmethod
    def after_origin(words: list[str], i: int) -> bool:
        """'deportado desde México', 'deported from the US': the place deported from."""
        at = i - 1 if i and words[i - 1] in ORIGIN_WORDS else i - 2
        if at < 0 or words[at] not in ORIGIN_WORDS or (at == i - 2 and words[i - 1] not in ARTICLES):
            return False
        return any(word.startswith(DEPORTED) for word in words[max(0, at - 4):at])

    def find(self, words: list[str]) -> tuple[str, str] | None:
        """The first place named in a text's words (their longest spelling first), and its country."""
        for i in range(len(words)):
            for size in (4, 3, 2, 1):
                key = " ".join(words[i : i + size]) if i + size <= len(words) else ""
                if self.country_at(words, i, key):
                    return self.places[key][2], self.places[key][0]
        return None


# Words that ask for a kind of service point, in the six languages (accent-free, lower case), found as whole words
# ("abri", not "abril"); a trailing "-" marks a stem ("juridic-": juridico, juridique).
KIND_WORDS = {
    "shelter": ("albergue", "albergues", "casa del migrante", "casa de migrante", "dormir", "shelter", "shelters",
                "sleep", "abri", "hebergement", "kay akey", "dodo", "domi", "abrigo", "opvang", "slaapplaats",
                "slapen"),
    "legal_aid": ("abogado", "abogada", "asesoria legal", "ayuda legal", "juridic-", "lawyer", "legal aid",
                  "legal help", "avocat", "aide juridique", "avoka", "advogado", "ajuda juridica", "advocaat"),
}
_KINDS = {kind: words_pattern(words) for kind, words in KIND_WORDS.items()}


def kinds_in_text(text: str) -> set[str]:
    """The kinds of service point a message asks for ("¿hay albergue en Tijuana?" -> {"shelter"})."""
    plain = " ".join(normalize(text).lower().split())
    return {kind for kind, pattern in _KINDS.items() if pattern.search(plain)}


class Placed(Protocol):
    @property
    def country(self) -> str: ...
    @property
    def km(self) -> float | None: ...


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def in_box(code: str, location: tuple[float, float]) -> bool:
    south, north, west, east = BOXES[code]
    return south <= location[0] <= north and west <= location[1] <= east


def countries_at(location: tuple[float, float]) -> list[str]:
    """The countries whose box holds a location: one away from borders, two or three near them."""
    return [code for code in BOXES if in_box(code, location)]


@dataclass(frozen=True)
class Nearby:
    """What to tell a person who shared a location: points in their country, and what lies abroad."""

    country: str | None  # the person's country, as far as we can tell
    home: list[Any]  # points in that country within NEAR_KM, nearest first
    abroad: Any  # the nearest point of another country, when it is nearer than anything at home
    nearest_home_km: float | None  # how far the nearest point at home is, even beyond NEAR_KM


def split_nearby(ranked: Iterable[Placed], country: str | None, *, limit: int = 3) -> Nearby:
    """Keep a person's services in their country; say plainly when the nearest one is across a border."""
    ranked = list(ranked)
    if country is None and ranked:
        country = ranked[0].country
    home = [m for m in ranked if m.country == country]
    abroad = next((m for m in ranked if m.country != country), None)
    if abroad is not None and home and (abroad.km or 0.0) >= (home[0].km or 0.0):
        abroad = None
    near = [m for m in home if (m.km or 0.0) <= NEAR_KM][:limit]
    if abroad is not None and (abroad.km or 0.0) > NEAR_KM:
        abroad = None
    return Nearby(country, near, abroad, home[0].km if home else None)
