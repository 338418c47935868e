"""Specific entries: their schema, their evidence, and how they reach a reader."""

import shutil
from pathlib import Path

import pytest
import yaml

from app.config import ROOT
from app.knowledge.base import KnowledgeBase
from app.knowledge.checks import check
from app.knowledge.loader import load_content

LOCALES = ROOT / "locales"
FILE = "content/entries/GD.yaml"


def entry(**changes: object) -> dict:
    """A published Grenada entry whose every number is in its quote."""
    asks = {"es": [f"pregunta numero {n}" for n in "abcde"], "en": [f"question number {n}" for n in "abcde"]}
    value = {
        "id": "gd-test-entry", "topic": "trafficking", "status": "published", "last_reviewed": "2026-11-30",
        "reviewer": "Test", "asks": asks,
        "sources": [{"url": "https://www.gov.gd/example", "publisher": "Government of Grenada", "label": "official",
                     "seen_on": "2026-11-30", "quote": "Call the Special Victims Unit at 440 4739. Apply within "
                     "14 days. The fee is EC$ 40. Office at 12 Lagoon Road."}],
        "texts": {"es": {"whatsapp": "*Prueba*\nLlama al 440-4739. Tienes 14 días. Cuesta EC$ 40. "
                                     "Oficina en Lagoon Road 12.", "sms": "Llama al 440 4739 o al 911."},
                  "en": {"whatsapp": "*Test*\nCall 440 4739 within 14 days.", "sms": "Call 440 4739."}},
    }
    value.update(changes)
    return value


@pytest.fixture
def content(tmp_path: Path) -> Path:
    return Path(shutil.copytree(ROOT / "content", tmp_path / "content"))


def write(content: Path, *entries: dict) -> str:
    text = yaml.safe_dump({"entries": list(entries)}, allow_unicode=True, sort_keys=False)
    (content / "entries" / "GD.yaml").write_text(text)
    return text


def errors(content: Path) -> list[str]:
    return [str(p) for p in check(load_content(content), locales_dir=LOCALES)
            if not p.warning and p.file == FILE]


def line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def test_an_evidenced_entry_passes(content: Path) -> None:
    write(content, entry())
    assert errors(content) == []


def test_unevidenced_phone_fee_deadline_and_address_are_refused_with_file_and_line(content: Path) -> None:
    whatsapp = "*Prueba*\nLlama al 440 9999. Tienes 30 días. Cuesta EC$ 75. Oficina en Calle Real 99."
    text = write(content, entry(texts={**entry()["texts"], "es": {"whatsapp": whatsapp, "sms": "Llama al 440 4739."}}))
    line = line_of(text, "whatsapp: '*Prueba*") if "whatsapp: '*Prueba*" in text else line_of(text, "*Prueba*")
    found = errors(content)
    for kind, value in (("phone number", "440 9999"), ("number of days", "30"), ("fee", "75"), ("address", "99")):
        assert f"{FILE}:{line}: gd-test-entry/es: unevidenced {kind} '{value}': quote the passage" in \
            "\n".join(found), (kind, found)
    assert len(found) == 4


def test_drafts_are_exempt_from_the_evidence_rule(content: Path) -> None:
    texts = {**entry()["texts"], "es": {"whatsapp": "*Borrador*\nLlama al 440 9999, 30 días, EC$ 75.",
                                        "sms": "Llama al 440 9999."}}
    write(content, entry(status="draft", texts=texts))
    assert errors(content) == []


def test_the_countrys_published_emergency_numbers_need_no_quote(content: Path) -> None:
    texts = {**entry()["texts"], "en": {"whatsapp": "*Test*\nIn danger call 911.", "sms": "Call 911."}}
    write(content, entry(texts=texts))
    assert errors(content) == []


def test_a_corroborated_fact_needs_two_websites(content: Path) -> None:
    source = {**entry()["sources"][0], "label": "corroborated", "url": "https://news.example.gd/a"}
    write(content, entry(sources=[source, {**source, "url": "https://news.example.gd/b"}]))
    assert any("a corroborated fact has one website" in e for e in errors(content))
    write(content, entry(sources=[source, {**source, "url": "https://other.example.com/b"}]))
    assert errors(content) == []


@pytest.mark.parametrize(("change", "message"), [
    ({"asks": {"es": ["una", "dos", "tres", "cuatro"], "en": [f"q {n}" for n in "abcde"]}},
     "fewer than 5 different asks in 'es'"),
    ({"asks": {"es": [f"p {n}" for n in "abcde"]}}, "texts in 'en' but no asks"),
    ({"id": "mx-test-entry"}, "does not start with 'gd-'"),
    ({"topic": "weather"}, "unknown topic 'weather'"),
    ({"colour": "red"}, "Extra inputs are not permitted"),
    ({"sources": [{"url": "https://www.gov.gd/x", "publisher": "Gov", "label": "official", "seen_on": "2026-11-30"}]},
     "quote: Field required"),
])
def test_malformed_entries_are_refused(content: Path, change: dict, message: str) -> None:
    write(content, entry(**change))
    assert any(message in e for e in errors(content)), errors(content)


def test_one_phrasing_answers_one_entry_of_a_country(content: Path) -> None:
    twin = entry(id="gd-other-entry")
    write(content, entry(), twin)
    assert any("is also an ask of 'gd-test-entry'" in e for e in errors(content))


def test_usted_and_lost_sms_letters_are_refused(content: Path) -> None:
    texts = {"es": {"whatsapp": "*Prueba*\nUsted puede llamar al 911. Tendrá ayuda en español.",
                    "sms": "Puede llamar al 911. Ayuda en espanol."},
             "en": entry()["texts"]["en"]}
    write(content, entry(texts=texts))
    found = "\n".join(errors(content))
    assert "'usted' in a text written in tú" in found
    assert "the SMS writes 'espanol' where the text writes 'español'" in found


def test_entry_answer_carries_its_own_source_and_review_line(content: Path) -> None:
    write(content, entry())
    kb = KnowledgeBase(load_content(content), locales_dir=LOCALES)
    answer = kb.entry_answer("gd-test-entry", "fr")
    assert answer is not None and answer.entry == "gd-test-entry"
    assert answer.language == "en" and answer.fell_back  # a French reader in Grenada: English
    assert answer.whatsapp.endswith("Révisé le 2026-11-30 · gov.gd/example")
    assert kb.entry_answer("gd-missing", "es") is None
    assert [e.id for e in kb.entries_for("GD", "trafficking")][:1] == ["gd-test-entry"]
    assert "gd-test-entry" not in [e.id for e in kb.entries_for("MX")]
