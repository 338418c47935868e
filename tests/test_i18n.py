"""The gettext catalogs: complete in es, en, fr, ht; pt and nl fall back; placeholders kept."""

import re

import pytest
from babel.messages.pofile import read_po

from app.config import ROOT
from app.i18n import COMPLETE, LANGUAGES, Texts, normalize_language

LOCALES = ROOT / "locales"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalog(language: str):  # type: ignore[no-untyped-def]
    with open(LOCALES / language / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=language)


def template_ids() -> set[str]:
    with open(LOCALES / "messages.pot", "rb") as handle:
        return {m.id for m in read_po(handle) if m.id}


def test_every_message_in_the_code_is_in_the_template() -> None:
    from babel.messages.extract import extract_from_dir

    found = {m[2] for m in extract_from_dir(str(ROOT / "app"), keywords={"gettext": None, "N_": None}, method_map=[("**.py", "python")])}
    missing = found - template_ids()
    assert not missing, f"run `make extract`: {sorted(missing)}"


@pytest.mark.parametrize("language", COMPLETE)
def test_complete_catalogs_have_no_untranslated_message(language: str) -> None:
    cat = catalog(language)
    ids = {m.id for m in cat if m.id}
    assert template_ids() <= ids, f"{language}: messages missing, run `make extract`"
    untranslated = [m.id for m in cat if m.id and (not m.string or m.fuzzy)]
    assert not untranslated, f"{language}: untranslated {untranslated}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_are_kept(language: str) -> None:
    for message in catalog(language):
        if message.id and message.string:
            assert set(PLACEHOLDER.findall(message.id)) == set(PLACEHOLDER.findall(message.string)), message.id


def test_texts_come_from_the_compiled_catalogs() -> None:
    assert Texts("es", LOCALES).gettext("Sorry, I did not understand.") != "Sorry, I did not understand."
    assert Texts("en", LOCALES).gettext("Sorry, I did not understand.") == "Sorry, I did not understand."
    assert "2026" in Texts("fr", LOCALES).gettext("Reviewed {date} · {source}", date="2026-01-01", source="x")


def test_fallback_chain_fills_gaps(tmp_path) -> None:
    """A message missing in pt falls back to es (pt → es → en)."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    for language, text in (("pt", None), ("es", "Hola")):
        folder = tmp_path / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        cat = Catalog(locale=language)
        if text:
            cat.add("Hello", text)
        with open(folder / "messages.mo", "wb") as handle:
            write_mo(handle, cat)
    assert Texts("pt", tmp_path).gettext("Hello") == "Hola"
    assert Texts("nl", tmp_path).gettext("Hello") == "Hello"


@pytest.mark.parametrize("raw, expected", [("ES", "es"), ("pt-BR", "pt"), ("de", "es"), (None, "es")])
def test_normalize_language(raw, expected) -> None:  # type: ignore[no-untyped-def]
    assert normalize_language(raw) == expected
