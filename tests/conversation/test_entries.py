"""Specific entries in the conversation: answered at once where they hold everywhere, chosen among close ones,
reached through place names, and followed on WhatsApp by one question on whether they helped."""

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import ROOT
from app.i18n import Texts
from app.knowledge.retrieval import Match
from app.storage.models import Message

LOCALES = ROOT / "locales"


def ask(client: TestClient, text: str, sender: str, channel: str = "whatsapp") -> dict:
    response = client.post("/api/v1/messages", json={"sender": sender, "channel": channel, "text": text})
    assert response.status_code == 200
    return response.json()


def said(body: dict) -> str:
    return "\n".join(r["text"] for r in body["replies"])


def country_question(language: str) -> str:
    return Texts(language, LOCALES).gettext("Which country are you in? Reply with a number:")


def test_a_question_that_holds_everywhere_is_answered_in_one_reply(client: TestClient) -> None:
    body = ask(client, "el acnur me va a cobrar algo por ayudarme?", "+5511987654321")  # Brazil: no country
    kb = client.app.state.knowledge.get()
    u = body["understanding"]
    assert u["entry"] == "region-unhcr-never-charges" and u["entry_confidence"] >= 0.5
    text = said(body)
    assert kb.entry_title("region-unhcr-never-charges", u["language"]) in text
    assert country_question(u["language"]) not in text
    assert Texts(u["language"], LOCALES).gettext("Write your country for local phone numbers.") in text


def test_on_sms_a_regional_answer_costs_no_country_menu(client: TestClient) -> None:
    body = ask(client, "me ofrecen un trabajo pero primero tengo que pagar, es normal?", "+5511987654322", "sms")
    assert body["understanding"]["entry"] is not None
    text = said(body)
    assert "1. " not in text and "MX" not in text.split("\n")[0]


def test_a_place_name_sets_the_country(client: TestClient) -> None:
    body = ask(client, "estoy en tapachula, donde pido refugio?", "+5511987654323")
    assert body["understanding"]["country"] == "MX"
    shelter = ask(client, "hay algun albergue en ciudad juarez?", "+5511987654324")
    assert shelter["understanding"]["country"] == "MX"
    first = said(shelter).split("\n- ", 2)[1]
    kb = client.app.state.knowledge.get()
    shelters = {m.point.organisation for m in kb.in_city("Ciudad Juárez") if m.point.kind == "shelter"}
    assert shelters and any(first.startswith(name) for name in shelters)  # shelters first


def test_an_entry_about_the_city_named_answers_before_the_citys_list(client: TestClient) -> None:
    """A shelter asked for in a city whose own shelter has an entry: that entry, not the city's list."""
    kb = client.app.state.knowledge.get()
    assert kb.city_in_text("Tecún Umán") and kb.entry_names("gt-shelter-casa-migrante-tecun-uman", "Tecún Umán")
    body = ask(client, "busco albergue en Tecún Umán, vengo con mis hijos", "+5511987654326")
    assert body["understanding"]["entry"] == "gt-shelter-casa-migrante-tecun-uman"
    assert body["understanding"]["country"] == "GT"
    assert said(body).startswith(kb.entry_answer("gt-shelter-casa-migrante-tecun-uman", "es").whatsapp[:60])
    listed = ask(client, "hay algun albergue en ciudad juarez?", "+5511987654327")  # no entry about it: the list
    assert listed["understanding"]["entry"] is None and "\n- " in said(listed)
    # an entry of another topic that names the city among others (COMAR's offices) does not stand for its shelters
    assert kb.entry_names("mx-comar-offices", "Tapachula") and kb.entries["mx-comar-offices"].topic != "services"
    slept = ask(client, "donde puedo dormir esta noche en tapachula", "+5511987654328")
    assert slept["understanding"]["entry"] is None and slept["understanding"]["topic"] == "services"
    shelters = {m.point.organisation for m in kb.in_city("Tapachula") if m.point.kind == "shelter"}
    assert shelters and any(said(slept).split("\n- ", 2)[1].startswith(name) for name in shelters)


@pytest.mark.parametrize("text", ["me violaron en el darien, que hago", "me violaron en el darien",
                                  "abuso sexual en la selva del darien anoche"])
def test_sexual_violence_in_the_darien_gets_panamas_numbers_then_the_72_hour_care(client: TestClient,
                                                                                    text: str) -> None:
    """Even where the Darién's dangers match the words as well: care comes first, it works only for hours."""
    body = ask(client, text, "+5511987654325")
    u = body["understanding"]
    assert u["country"] == "PA"
    kb = client.app.state.knowledge.get()
    said_text = said(body)
    numbers = [n for _, n in kb.emergency_numbers("PA", "es")]
    assert said_text.index(numbers[0]) < said_text.index("72")
    assert u["entry"] in ("pa-sexual-violence-care-72h", "region-sexual-violence-72-hours")


@pytest.mark.parametrize(("text", "language"), [("i was raped on the way, what do i do", "en"),
                                                ("yo vyole m nan wout la", "ht")])
def test_sexual_violence_where_the_country_is_unknown_gets_the_care_with_the_country_question(
        client: TestClient, text: str, language: str) -> None:
    body = ask(client, text, "+5511987654329")  # Brazil: no country of ours
    kb = client.app.state.knowledge.get()
    assert body["understanding"]["entry"] == "region-sexual-violence-72-hours"
    care = kb.entry_answer("region-sexual-violence-72-hours", language)
    assert care is not None and care.whatsapp.split("\n")[0] in said(body)
    assert country_question(language) not in said(body)  # one line offers the numbers, no menu
    assert Texts(language, LOCALES).gettext("Write your country for local phone numbers.") in said(body)


@pytest.mark.parametrize(("greeting", "language"), [("Bonjour", "fr"), ("bonjou", "ht"), ("olá", "pt"), ("hi", "en")])
def test_a_greeting_in_another_language_switches_the_reply(client: TestClient, greeting: str, language: str) -> None:
    body = ask(client, greeting, "+5215512340000")  # a Mexican number: Spanish by default
    assert body["understanding"]["language"] == language
    heading = Texts(language, LOCALES).gettext("What do you need?")
    assert heading in said(body)


def test_close_entries_are_offered_and_a_number_picks_one(client: TestClient) -> None:
    """Two entries that match about equally, neither surely: both are offered; the reply "2" answers the second."""
    kb = client.app.state.knowledge.get()
    first, second = [e.id for e in kb.entries_for("MX", "asylum") if kb.entry_scope[e.id] == "MX"][:2]
    understander = client.app.state.assistant.understander
    close = [Match(first, "asylum", 0.5, 0.3), Match(second, "asylum", 0.48, 0.25)]
    real, understander.search = understander.search, lambda text, countries: close
    try:
        body = ask(client, "una pregunta sobre el refugio en mexico", "+5215512340001")
    finally:
        understander.search = real
    assert body["understanding"]["intent"] == "choose_entry"
    options = said(body).split("\n")[1:]
    assert options == [f"1. {kb.entry_title(first, 'es', 'MX')}", f"2. {kb.entry_title(second, 'es', 'MX')}"]
    picked = ask(client, "2", "+5215512340001")
    assert picked["understanding"]["entry"] == second
    assert kb.entry_answer(second, "es", "MX").whatsapp.split("\n\n")[0] in said(picked)


def test_feedback_once_a_day_on_whatsapp_and_a_no_offers_a_person(client: TestClient) -> None:
    sender = "+5511987654330"
    question = Texts("es", LOCALES).gettext("Was this useful? 1 Yes / 2 No")
    first = ask(client, "el acnur cobra por la ayuda?", sender)
    assert question in said(first)
    no = ask(client, "2", sender)
    assert no["understanding"]["intent"] == "feedback"
    assert "PERSONA" in said(no) and "MENU" in said(no)
    again = ask(client, "el acnur pide dinero?", sender)
    assert again["understanding"]["entry"] and question not in said(again)  # once a day
    sms = ask(client, "el acnur cobra por la ayuda?", "+5511987654331", "sms")
    assert sms["understanding"]["entry"] and question not in said(sms)
    with client.app.state.engine.connect() as conn:
        rows = conn.execute(select(Message.intent, Message.entry, Message.useful)
                            .where(Message.direction == "in", Message.entry.is_not(None))).all()
    assert ("feedback", first["understanding"]["entry"], False) in [tuple(r) for r in rows]


def test_feedback_is_not_asked_after_a_menu(client: TestClient) -> None:
    body = ask(client, "MENU", "+5511987654332")
    assert Texts("es", LOCALES).gettext("Was this useful? 1 Yes / 2 No") not in said(body)
    assert date.today()  # the rule is per day: the state keeps the date it was asked


def test_a_country_named_in_the_message_does_not_hide_the_persons_own(client: TestClient) -> None:
    """From a Guatemalan number, a child deported alone from Mexico: Guatemala's reception answers, not Mexico's."""
    body = ask(client, "mi hijo de 15 años viene deportado solo desde méxico, ¿dónde lo van a recibir?", "+50255501234")
    u = body["understanding"]
    assert u["entry"] == "gt-return-unaccompanied-children" and u["country"] == "GT"
    kb = client.app.state.knowledge.get()
    assert said(body).startswith(kb.entry_answer("gt-return-unaccompanied-children", "es").whatsapp[:60])


def test_the_persons_own_country_among_others_named_stays(client: TestClient) -> None:
    """From a Surinamese number, women from the Dominican Republic held in Paramaribo: Suriname's answer."""
    body = ask(client, "vrouwen uit de dominicaanse republiek worden vastgehouden in een huis in paramaribo, "
                       "wie kan ik bellen?", "+5978801234")
    assert body["understanding"]["country"] == "SR"
    assert (body["understanding"]["entry"] or "sr-").startswith("sr-")
    elsewhere = ask(client, "vrouwen uit de dominicaanse republiek worden vastgehouden in een huis in santo domingo, "
                            "wie kan ik bellen?", "+5978801235")
    assert elsewhere["understanding"]["country"] == "DO"  # Suriname not named: the country named is where


def test_a_nationality_does_not_move_the_person(client: TestClient) -> None:
    """'I am Haitian', written from a Dominican number, is about where they live: the DR's entries answer."""
    body = ask(client, "m se ayisyen, m ansent e m pa gen papye. si m al akouche nan lopital eske migrasyon ap "
                       "pran m?", "+18095550123")
    assert body["understanding"]["country"] == "DO"
    assert (body["understanding"]["entry"] or "do-").startswith("do-")
