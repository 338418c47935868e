"""One home for accent folding (app/text.py) and for the lists every layer shares."""

from app.conversation.dialogue import COUNTRY_MENU
from app.knowledge.checks import BOXES
from app.knowledge.schema import COUNTRY_CODES
from app.text import fold, normalize, strip_accents


def test_strip_accents_keeps_case_and_decomposes_compatibility_forms() -> None:
    assert strip_accents("Dónde está ﬁ Ｓ") == "Donde esta fi S"


def test_fold_is_lower_case_without_accents() -> None:
    assert fold("  ¿Dónde QUEDA Haïti? ") == "  ¿donde queda haiti? "


def test_normalize_is_capitals_without_accents_punctuation_or_extra_spaces() -> None:
    assert normalize(" ¡Stóp! ") == "STOP"
    assert normalize("darme   de\tbája.") == "DARME DE BAJA"
    assert normalize("") == ""


def test_the_country_menu_lists_exactly_the_programme_countries_once() -> None:
    assert len(COUNTRY_MENU) == len(set(COUNTRY_MENU))
    assert set(COUNTRY_MENU) == set(COUNTRY_CODES)


def test_every_programme_country_has_a_coordinate_box() -> None:
    assert set(BOXES) == set(COUNTRY_CODES)
