"""Interface texts from the gettext catalogs in locales/, with a fallback chain per language."""

from functools import lru_cache
from gettext import NullTranslations
from pathlib import Path

from babel.support import Translations

LANGUAGES = ("es", "en", "fr", "ht", "pt", "nl")
COMPLETE = ("es", "en", "fr", "ht")
FALLBACKS: dict[str, tuple[str, ...]] = {
    "es": ("en",),
    "en": (),
    "fr": ("en",),
    "ht": ("fr", "en"),
    "pt": ("es", "en"),
    "nl": ("en",),
}
DOMAIN = "messages"
# A reader of Kreyòl usually reads French, one of Portuguese usually Spanish: the first step of a content fallback.
CLOSE: dict[str, tuple[str, ...]] = {"ht": ("fr",), "pt": ("es",)}


def content_chain(language: str, country_languages: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The order in which a reader gets an answer's languages: their own, a close one, the country's, English.

    A Haitian reader in Mexico or the Dominican Republic gets Kreyòl, then French, then Spanish, then English;
    in Haiti, Kreyòl then French. Spanish closes the chain, so every text in es or en is reachable.
    """
    chain = (language, *CLOSE.get(language, ()), *(c for c in country_languages if c in LANGUAGES), "en", "es")
    return tuple(dict.fromkeys(chain))


def normalize_language(code: str | None, *, default: str = "es") -> str:
    """An ISO 639-1 code we support, or the default."""
    code = (code or "").strip().lower()[:2]
    return code if code in LANGUAGES else default


@lru_cache(maxsize=32)
def translations(language: str, locales_dir: Path) -> NullTranslations:
    """The catalog of a language, falling back along its chain, then to the English msgid."""
    chain = (language, *FALLBACKS.get(language, ("en",)))
    first: NullTranslations | None = None
    for code in chain:
        catalog = Translations.load(str(locales_dir), [code], DOMAIN)
        if not isinstance(catalog, Translations):
            continue  # no compiled catalog for this language
        if first is None:
            first = catalog
        else:
            first.add_fallback(catalog)
    return first or NullTranslations()


class Texts:
    """The interface texts of one language: texts.gettext('...')."""

    def __init__(self, language: str, locales_dir: Path) -> None:
        self.language = language
        self._catalog = translations(language, locales_dir)

    def gettext(self, message: str, **values: object) -> str:
        text = self._catalog.gettext(message)
        return text.format(**values) if values else text


def N_(message: str) -> str:  # noqa: N802
    """Mark a text for the catalogs where it is written; it is translated later, where the reader is known."""
    return message


class Refusal(Exception):
    """A refused action whose reason is an interface text: English in str(), any language in explain()."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message.format(**values) if values else message)
        self.message, self.values = message, values

    def explain(self, texts: "Texts") -> str:
        return texts.gettext(self.message, **self.values)
