"""The knowledge base: validation with file and line, coverage, answers, services, hot reload."""

import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from app.channels.render import sms_info, to_gsm7
from app.config import ROOT
from app.knowledge import ContentError
from app.knowledge.base import distance_km
from app.knowledge.checks import check
from app.knowledge.live import LiveKnowledge, fingerprint
from app.knowledge.loader import load_content
from app.knowledge.report import as_csv, as_html, coverage, gaps
from app.knowledge.schema import COUNTRY_CODES, TOPIC_IDS

LOCALES = ROOT / "locales"


@pytest.fixture(scope="module")
def live() -> LiveKnowledge:
    knowledge = LiveKnowledge(ROOT / "content", locales_dir=LOCALES)
    knowledge.reload()
    return knowledge


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A copy of content/ to break."""
    return Path(shutil.copytree(ROOT / "content", tmp_path / "content"))


def errors_of(root: Path) -> list[str]:
    return [str(p) for p in check(load_content(root), locales_dir=LOCALES) if not p.warning]


def edit(path: Path, old: str, new: str, count: int = 1) -> int:
    """Replace text in a file; returns the 1-based line of the first replacement."""
    text = path.read_text()
    assert old in text, old
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, count))
    return line


def test_shipped_content_has_no_errors() -> None:
    assert errors_of(ROOT / "content") == []


def test_every_required_cell_of_the_coverage_matrix_is_answered() -> None:
    cells = coverage(load_content(ROOT / "content"))
    assert len(cells) == len(COUNTRY_CODES) * len(TOPIC_IDS) * 6
    assert gaps(cells) == []
    for country in COUNTRY_CODES:
        for topic in TOPIC_IDS:
            assert any(c.country == country and c.topic == topic and c.status == "present" and c.language == "es"
                       for c in cells), (country, topic)


def test_every_sms_text_fits_three_segments_after_rendering(live: LiveKnowledge) -> None:
    kb = live.get()
    for country in COUNTRY_CODES:
        for topic in TOPIC_IDS:
            for language in ("es", "en", "fr", "ht", "pt", "nl"):
                answer = kb.answer(topic, country, language)
                assert answer is not None
                own, _ = kb.entry(topic, country)
                if own is None and topic in ("emergency", "trafficking"):
                    continue  # the country's numbers are put in front: may page with MORE, by design
                info = sms_info(to_gsm7(answer.sms))
                assert info.encoding == "GSM-7"
                assert info.segments <= 3, (country, topic, language, info)


def test_answers_end_with_review_date_and_official_source(live: LiveKnowledge) -> None:
    answer = live.get().answer("asylum", "PA", "es")
    assert answer is not None and answer.country == "PA"
    last = answer.whatsapp.splitlines()[-1]
    assert last.startswith("Revisado ") and answer.last_reviewed.isoformat() in last and answer.source in last


def test_fallback_is_said(live: LiveKnowledge) -> None:
    answer = live.get().answer("asylum", "MX", "ht")  # Mexico's answer has no Kreyòl: ht → fr → es (Mexico's)
    assert answer is not None and answer.fell_back and answer.language in ("fr", "es")
    assert answer.whatsapp.splitlines()[0].startswith("(")


def test_regional_answer_serves_countries_without_their_own(live: LiveKnowledge) -> None:
    kb = live.get()
    regional = kb.answer("education", None, "en")
    assert regional is not None and "Write the country name" in regional.whatsapp
    # the same text, without its closing request for the country: Costa Rica is known
    asked = "\n".join(line for line in regional.whatsapp.split("\n") if not line.startswith("Write the country"))
    assert kb.answer("education", "CR", "en").whatsapp == asked


def test_draft_answers_and_numbers_are_never_served(live: LiveKnowledge) -> None:
    kb = live.get()
    raw = load_content(ROOT / "content")
    for key, doc in raw.answers.items():
        for entry in doc.model.answers:
            if entry.status == "draft":
                served = kb.answer(entry.topic, None if key == "regional" else key, "es")
                assert served is None or entry.texts["es"].whatsapp not in served.whatsapp
    for code, doc in raw.countries.items():
        published = {n for _, n in kb.emergency_numbers(code, "es")}
        for item in doc.model.emergency:
            assert (item.number in published) == (item.status == "published")


def test_regional_emergency_answers_carry_the_countrys_published_numbers(live: LiveKnowledge) -> None:
    kb = live.get()
    for country in COUNTRY_CODES:
        own, _ = kb.entry("emergency", country)
        numbers = kb.emergency_numbers(country, "en")
        if own is None and numbers:
            answer = kb.answer("emergency", country, "en")
            assert all(number in answer.whatsapp for _, number in numbers)


def test_country_words(live: LiveKnowledge) -> None:
    kb = live.get()
    for word, code in (("mexico", "MX"), ("México", "MX"), ("mejico", "MX"), ("Meksik", "MX"), ("Mexique", "MX"),
                       ("costa rica", "CR"), ("Ayiti", "HT"), ("MX", "MX"), ("panama", "PA")):
        assert kb.country_for_word(word) == code, word
    assert kb.country_in_text("quiero pedir asilo en costa rica") == "CR"
    assert kb.country_in_text("mwen pa konnen") is None  # "pa" is a word, not Panama


def test_nearest_services_with_distances(live: LiveKnowledge) -> None:
    kb = live.get()
    tapachula = (14.9058, -92.2636)
    nearest = kb.nearest(tapachula)
    assert len(nearest) == 3
    assert nearest[0].point.city == "Tapachula" and nearest[0].km is not None and nearest[0].km < 1
    assert [m.km for m in nearest] == sorted(m.km for m in nearest)  # type: ignore[type-var]
    assert all(m.point.status == "published" for m in nearest)


@pytest.mark.parametrize("a, b, km", [
    ((0.0, 0.0), (1.0, 0.0), 111.195),        # one degree of a meridian on the mean sphere
    ((0.0, 10.0), (0.0, 11.0), 111.195),      # one degree of the equator
    ((0.0, 0.0), (0.0, 180.0), 20015.1),      # half the circumference
    ((60.0, 0.0), (60.0, 1.0), 55.597),       # one degree of longitude at 60°: cos(60°) of the equator's
])
def test_distance_on_known_coordinates(a, b, km: float) -> None:  # type: ignore[no-untyped-def]
    assert distance_km(a, b) == pytest.approx(km, rel=1e-3)


def test_services_of_a_city(live: LiveKnowledge) -> None:
    kb = live.get()
    assert kb.city_in_text("hay servicios en tapachula?") == "Tapachula"
    assert all(m.point.city == "Tapachula" for m in kb.in_city("TAPACHULA"))


# ---- validation errors name the file and the line -------------------------------------------------------------

def test_unknown_key(content: Path) -> None:
    line = edit(content / "countries" / "MX.yaml", "calling_code:", "calling_cod:")
    errors = errors_of(content)
    assert any(e.startswith(f"content/countries/MX.yaml:{line}:") and "calling_cod" in e and "remove this key" in e
               for e in errors)
    assert all("MX.yaml" in e for e in errors), errors  # no knock-on errors elsewhere


def test_unknown_topic(content: Path) -> None:
    line = edit(content / "answers" / "MX.yaml", "topic: asylum", "topic: asilum")
    assert any(e.startswith(f"content/answers/MX.yaml:{line}:") and "unknown topic 'asilum'" in e
               for e in errors_of(content))


def test_missing_required_language(content: Path) -> None:
    path = content / "answers" / "HT.yaml"
    data = yaml.safe_load(path.read_text())
    entry = next(e for e in data["answers"] if e["status"] == "published")
    del entry["texts"]["ht"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert any("HT.yaml" in e and "missing required language 'ht'" in e for e in errors_of(content))


def test_sms_too_long(content: Path) -> None:
    path = content / "answers" / "PA.yaml"
    data = yaml.safe_load(path.read_text())
    data["answers"][0]["texts"]["es"]["sms"] = "palabra " * 80
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert any("PA.yaml" in e and "segments" in e for e in errors_of(content))


def test_malformed_phone_and_coordinates(content: Path) -> None:
    path = content / "services" / "MX.yaml"
    data = yaml.safe_load(path.read_text())
    data["services"][0]["phones"] = ["+52 123"]
    data["services"][0]["coordinates"] = [-92.2636, 14.9058]  # swapped
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    errors = [e for e in errors_of(content) if "services/MX.yaml" in e]
    assert any("malformed phone number" in e for e in errors)
    assert any("outside MX" in e for e in errors)


def test_malformed_url(content: Path) -> None:
    line = edit(content / "answers" / "GT.yaml", "- https://", "- htps//", 1)
    assert any(e.startswith(f"content/answers/GT.yaml:{line}:") and "https://" in e for e in errors_of(content))


def test_duplicate_ids(content: Path) -> None:
    path = content / "services" / "MX.yaml"
    data = yaml.safe_load(path.read_text())
    data["services"][1]["id"] = data["services"][0]["id"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert any("duplicate service id" in e for e in errors_of(content))


def test_two_published_answers_for_one_topic(content: Path) -> None:
    path = content / "answers" / "GT.yaml"
    data = yaml.safe_load(path.read_text())
    data["answers"].append(dict(data["answers"][0]))
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert any("more than one published answer" in e for e in errors_of(content))


def test_invalid_yaml(content: Path) -> None:
    (content / "countries" / "BZ.yaml").write_text("code: BZ\nnames: [unclosed\n")
    assert any(e.startswith("content/countries/BZ.yaml:") and "not valid YAML" in e for e in errors_of(content))


def test_a_folder_named_like_a_yaml_file_is_a_content_error(content: Path) -> None:
    (content / "countries" / "xx.yaml").mkdir()
    (content / "services" / "GT.yaml").unlink()
    (content / "services" / "GT.yaml" / "inside.yaml").mkdir(parents=True)
    errors = errors_of(content)
    for path in ("content/countries/xx.yaml", "content/services/GT.yaml", "content/services/GT.yaml/inside.yaml"):
        assert f"{path}:1: a folder named like a YAML file: remove the folder or rename it without .yaml" in errors
    assert not any("country XX" in e or "cannot read" in e for e in errors)


def test_stale_answers_are_warned(content: Path) -> None:
    raw = load_content(content)
    later = date.today() + timedelta(days=400)
    warnings = [p for p in check(raw, locales_dir=LOCALES, today=later) if p.warning]
    assert warnings and all("not reviewed for" in str(p) for p in warnings)


def test_report_formats() -> None:
    raw = load_content(ROOT / "content")
    cells = coverage(raw)
    csv_text = as_csv(cells)
    assert csv_text.splitlines()[0] == "country,topic,language,status,origin,required,served_in"
    assert len(csv_text.splitlines()) == len(cells) + 1
    page = as_html(cells, version=raw.version)
    assert page.startswith("<!doctype html>") and "<h2>MX</h2>" in page


# ---- hot reload ----------------------------------------------------------------------------------------------

def test_a_broken_edit_keeps_the_last_good_version_serving(content: Path) -> None:
    live = LiveKnowledge(content, locales_dir=LOCALES)
    good = live.reload()
    edit(content / "answers" / "MX.yaml", "topic: asylum", "topic: nonsense")
    with pytest.raises(ContentError) as refused:
        live.reload()
    assert "content/answers/MX.yaml" in str(refused.value)
    assert live.get() is good and live.get().answer("asylum", "MX", "es") is not None
    edit(content / "answers" / "MX.yaml", "topic: nonsense", "topic: asylum")
    assert live.reload().version == good.version


def test_a_folder_named_like_a_yaml_file_is_refused_and_the_last_good_version_serves(content: Path) -> None:
    live = LiveKnowledge(content, locales_dir=LOCALES)
    good = live.reload()
    before = fingerprint(content)
    (content / "countries" / "xx.yaml").mkdir()
    assert fingerprint(content) != before  # the watcher notices it
    with pytest.raises(ContentError, match="content/countries/xx.yaml:1: a folder named like a YAML file"):
        live.reload()
    assert live.get() is good


def test_file_watch_picks_up_changes(content: Path) -> None:
    live = LiveKnowledge(content, locales_dir=LOCALES)
    first = live.reload()
    live.watch(every=0.1)
    try:
        edit(content / "answers" / "regional.yaml", "reviewer:", "reviewer:  ")  # a harmless change
        deadline = time.monotonic() + 10
        while live.get().version == first.version and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live.get().version != first.version
        second = live.get()
        edit(content / "countries" / "MX.yaml", "code: MX", "code: [")
        deadline = time.monotonic() + 10
        while live.last_error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live.get() is second and "MX.yaml" in str(live.last_error)
    finally:
        live.stop()
