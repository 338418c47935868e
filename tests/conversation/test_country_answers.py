"""What a reader in a known country gets: numbers at once in danger, services kept to the country, no needless
"write the country name", and a language fallback that follows the country."""

import re

import pytest
from fastapi.testclient import TestClient

from app.channels.render import to_gsm7
from app.config import ROOT
from app.knowledge.base import COUNTRY_PROMPT, KnowledgeBase
from app.knowledge.evidence import digits_of
from app.knowledge.loader import load_content
from app.knowledge.places import NEAR_KM, Nearby, split_nearby
from app.knowledge.schema import COUNTRY_CODES
from tests.conftest import form_of, new_sid, post_signed

LOCALES = ROOT / "locales"
# A number of each country, and a danger message in a language people there write.
SENDERS = {
    "BZ": ("+5016221234", "help they want to kill me"), "CR": ("+50688887777", "me quieren matar, ayuda"),
    "SV": ("+50370001234", "me quieren matar"), "GT": ("+50255556666", "nos tienen secuestrados"),
    "GD": ("+14734401234", "please help, we were kidnapped"), "HT": ("+50937001122", "anmwe yo vle touye m"),
    "HN": ("+50499887766", "me violaron, auxilio"), "MX": ("+5215512345678", "nos tienen encerrados"),
    "PA": ("+50760001111", "estamos perdidos en la selva"), "SR": ("+59781234567", "help, ze willen me vermoorden"),
    "DO": ("+18095551234", "me amenazan de muerte"),
}


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase(load_content(ROOT / "content"), locales_dir=LOCALES)


def sms_pages(client: TestClient, text: str, sender: str) -> list[str]:
    form = form_of("sms_text", Body=text, From=sender, MessageSid=new_sid(), SmsMessageSid="", SmsSid="")
    response = post_signed(client, form)
    assert response.status_code == 200
    return re.findall(r"<Message>(.*?)</Message>", response.text, re.S)


@pytest.mark.parametrize("country", COUNTRY_CODES)
def test_a_danger_sms_gets_a_published_number_in_its_first_page(client: TestClient, kb: KnowledgeBase,
                                                                 country: str) -> None:
    sender, text = SENDERS[country]
    first = sms_pages(client, text, sender)[0]
    numbers = [n for _, n in kb.emergency_numbers(country, "es")]
    assert numbers, f"{country} publishes no emergency number"
    assert any(re.search(rf"(?<!\d){re.escape(n)}(?!\d)", first) for n in numbers), (country, first)


@pytest.mark.parametrize("country", COUNTRY_CODES)
def test_trafficking_answers_give_a_published_number(kb: KnowledgeBase, country: str) -> None:
    numbers = {digits_of(n) for _, n in kb.emergency_numbers(country, "es")}
    for language in ("es", "en"):
        answer = kb.answer("trafficking", country, language)
        assert answer is not None
        assert any(n in digits_of(part) for part in re.split(r"[^\d \-]+", answer.sms) for n in numbers if part.strip())


def test_a_known_country_drops_the_regional_request_for_it(kb: KnowledgeBase) -> None:
    regional = [t for t in ("missing", "return", "education", "health", "disasters")
                if kb.entry(t, None)[1] is not None]
    for topic in regional:
        for country in COUNTRY_CODES:
            own, _ = kb.entry(topic, country)
            for language in ("es", "en", "fr", "ht"):
                answer = kb.answer(topic, country, language)
                assert answer is not None
                assert not COUNTRY_PROMPT.search(answer.whatsapp.rsplit("\n\n", 1)[0]), (topic, country, language)
        unknown = kb.answer(topic, None, "es")
        assert unknown is not None and "país" in unknown.whatsapp  # without a country, it is still asked


def test_a_haitian_reader_falls_back_to_french_then_the_countrys_language(kb: KnowledgeBase) -> None:
    texts = {"es": 1, "en": 1}
    assert kb.pick_language(texts, "ht", "DO") == "es"
    assert kb.pick_language(texts, "ht", None) == "en"
    assert kb.pick_language({"es": 1, "en": 1, "fr": 1}, "ht", "MX") == "fr"
    assert kb.pick_language({"en": 1, "nl": 1}, "nl", "SR") == "nl"
    assert kb.pick_language({"es": 1, "en": 1}, "pt", "PA") == "es"


def test_sms_keeps_the_letters_gsm7_has(kb: KnowledgeBase) -> None:
    answer = kb.answer("asylum", "HT", "ht")
    assert answer is not None
    sms = to_gsm7(answer.sms)
    assert set("èò") & set(sms), sms  # Kreyòl keeps è and ò: "pè" is not "pe"
    assert "¿" in to_gsm7(kb.answer("asylum", "MX", "es").whatsapp + "¿")


class Point:
    def __init__(self, country: str, km: float) -> None:
        self.country, self.km = country, km


def test_services_stay_in_the_persons_country() -> None:
    near = split_nearby([Point("MX", 20), Point("GT", 35), Point("GT", 60)], "GT")
    assert [p.km for p in near.home] == [35] and near.abroad.country == "MX"
    far = split_nearby([Point("MX", 120), Point("GT", 300)], "GT")
    assert far == Nearby("GT", [], None, 300)
    assert split_nearby([Point("GT", 10), Point("MX", 12)], "GT").abroad is None


def test_a_location_far_from_any_service_gets_the_national_line(client: TestClient, kb: KnowledgeBase) -> None:
    # the middle of the Petén, Guatemala: 80 km from the nearest service point
    form = form_of("whatsapp_location", MessageSid=new_sid(), From="whatsapp:+50255550000",
                   Latitude="16.9", Longitude="-90.3")
    body = post_signed(client, form).text
    assert f"{round(NEAR_KM)} km" in body
    assert any(n in body for _, n in kb.emergency_numbers("GT", "es"))


def test_where_a_person_is_wins_over_their_numbers_country(client: TestClient) -> None:
    # a Honduran number in Tapachula: Mexican services, and nothing said about another country
    body = post_signed(client, form_of("whatsapp_location", MessageSid=new_sid())).text
    assert "Tapachula" in body and "km away" not in body and "más cercano está en" not in body
