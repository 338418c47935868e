"""The gazetteer: places people name on the routes give their country; names that are also words need context."""

import shutil
from pathlib import Path

import pytest

from app.config import ROOT
from app.knowledge.base import KnowledgeBase
from app.knowledge.checks import check
from app.knowledge.loader import load_content
from app.knowledge.places import kinds_in_text

LOCALES = ROOT / "locales"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase(load_content(ROOT / "content"), locales_dir=LOCALES)


@pytest.mark.parametrize(("text", "country"), [
    ("estoy en tapachula con mis hijos", "MX"), ("vengo de tenosique", "MX"), ("en ciudad juarez hay albergue?", "MX"),
    ("me violaron en el darien", "PA"), ("llegamos a bajo chiquito", "PA"), ("estamos en lajas blancas", "PA"),
    ("en paso canoas", "CR"), ("cruzando por penas blancas", "CR"), ("en esquipulas", "GT"),
    ("tecun uman", "GT"), ("en el ceibo", "GT"), ("mwen nan okap", "HT"), ("nou nan wanament", "HT"),
    ("estoy en dajabon", "DO"), ("ik ben in nickerie", "SR"), ("i am in belmopan", "BZ"),
])
def test_places_name_their_country(kb: KnowledgeBase, text: str, country: str) -> None:
    assert kb.country_in_text(text) == country


@pytest.mark.parametrize("text", [
    "salvador me dijo que fuera a migracion",  # a man's name, not El Salvador
    "mi amigo david tiene trabajo",  # a name, not David (Panama)
    "okay thanks",  # the English word, not Les Cayes (Okay)
    "tengo esperanza de pasar",  # a word, not a town
    "colon cancer",
])
def test_words_that_are_also_places_need_context(kb: KnowledgeBase, text: str) -> None:
    assert kb.country_in_text(text) is None


def test_the_same_words_after_a_preposition_are_places(kb: KnowledgeBase) -> None:
    assert kb.country_in_text("estoy en salvador") == "SV"
    assert kb.country_in_text("trabajo en david") == "PA"
    assert kb.country_in_text("estoy en colon") == "PA"


def test_a_country_named_as_where_someone_was_deported_from_can_be_left_out(kb: KnowledgeBase) -> None:
    """Where a person is known, "viene deportado desde México" does not say they are there: the understanding asks
    for the countries named without such origins. "Volver desde Honduras" says where the person is."""
    def named(text: str) -> list[str]:
        return list(kb.countries_named(text, demonyms=False, origins=False))  # as the understanding asks

    assert list(kb.countries_named("mi hijo viene deportado solo desde méxico")) == ["MX"]
    assert named("mi hijo viene deportado solo desde méxico") == []
    assert named("my brother was deported from the darien to costa rica") == ["CR"]
    assert named("yo depòte m soti dominikani") == []
    assert named("fue deportada desde la republica dominicana") == []  # nor "dominicana" inside it
    assert named("quiero regresar a mi pais, hay ayuda para volver desde honduras") == ["HN"]
    assert named("i crossed from guatemala through the bush") == ["GT"]


def test_a_spelling_that_names_two_places_is_refused(tmp_path: Path) -> None:
    content = Path(shutil.copytree(ROOT / "content", tmp_path / "content"))
    places = content / "places.yaml"
    text = places.read_text()
    places.write_text(text + "\n  - name: Tapachula Norte\n    country: GT\n    kind: city\n"
                             "    names: [tapachula]\n")
    errors = [str(p) for p in check(load_content(content), locales_dir=LOCALES) if p.file.endswith("places.yaml")]
    assert any("'tapachula' names both Tapachula and Tapachula Norte" in e for e in errors), errors


def test_kinds_of_service_asked_for() -> None:
    assert kinds_in_text("¿Hay algún albergue en Tijuana?") == {"shelter"}
    assert kinds_in_text("necesito un abogado gratis") == {"legal_aid"}
    assert kinds_in_text("donde pido refugio") == set()
    for asked in ("donde puedo dormir esta noche", "need somewhere to sleep", "kote m ka dòmi aswè a",
                  "waar kan ik slapen", "preciso de ajuda jurídica", "une aide juridique svp"):
        assert kinds_in_text(asked), asked
    for other in ("me robaron en abril", "cambie de domicilio", "la ley de migracion"):  # abri, domi: words only
        assert kinds_in_text(other) == set(), other
