"""The console's Simulator: a chat through the same path as real messages, marked as tests."""

import re

import pytest
from sqlalchemy import func, select

from app.console import auth
from app.console.simulator import sender_prefix
from app.conversation.contacts import region_of
from app.privacy import hash_address
from app.storage.models import Contact, Message, Subscription
from tests.conftest import form_of, new_sid, post_signed
from tests.console.test_console import PASSWORD, csrf_of, log_in

SEND = "/console/simulator/send"
VENEZUELA = "+5841212345"  # a region outside the programme: the assistant asks for the country


@pytest.fixture
def editor(client) -> str:  # type: ignore[no-untyped-def]
    """Any role may use the simulator: the least one is enough."""
    auth.add_user(client.app.state.engine, name="eva", password=PASSWORD, role="editor")
    log_in(client, "eva")
    return "eva"


def token_of(client) -> str:  # type: ignore[no-untyped-def]
    page = client.get("/console/simulator")
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text).group(1)


def send(client, token: str, text: str, *, channel: str = "sms", sender: str = VENEZUELA):  # type: ignore[no-untyped-def]
    return client.post(SEND, json={"text": text, "channel": channel, "sender": sender},
                       headers={"x-csrf-token": token})


def test_the_simulator_needs_a_login(client) -> None:
    page = client.get("/console/simulator", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/console/login"
    body = {"text": "hola", "channel": "sms", "sender": VENEZUELA}
    assert client.post(SEND, json=body).status_code == 401


def test_sending_needs_the_csrf_token(client, editor) -> None:
    body = {"text": "hola", "channel": "sms", "sender": VENEZUELA}
    assert client.post(SEND, json=body).status_code == 403
    assert client.post(SEND, json=body, headers={"x-csrf-token": "forged"}).status_code == 403
    assert token_of(client) == csrf_of(client)  # the page's meta tag carries the session's token
    assert send(client, token_of(client), "hola").status_code == 200


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_a_three_turn_conversation(client, editor, channel: str) -> None:
    token = token_of(client)
    greeting = send(client, token, "hola", channel=channel)
    assert greeting.status_code == 200
    body = greeting.json()
    assert body["understanding"]["intent"] == "greet" and body["understanding"]["language"] == "es"
    assert "1." in body["replies"][0]["text"]  # the menu of topics

    question = send(client, token, "1", channel=channel).json()
    assert question["understanding"]["topic"] == "asylum" and question["understanding"]["country"] is None
    asked = "\n".join(r["text"] for r in question["replies"])
    # WhatsApp: the countries numbered; SMS, where each line costs: their codes on one line
    number = re.search(r"(\d+)\. M[eé]xico", asked).group(1) if channel == "whatsapp" else "MX"
    if channel == "sms":
        assert "BZ CR DO SV GD GT HT HN MX PA SR" in asked

    answer = send(client, token, number, channel=channel).json()
    assert answer["understanding"] == {**answer["understanding"], "topic": "asylum", "country": "MX",
                                       "language": "es"}
    u = answer["understanding"]
    assert u["intent"] and u["engine"] and 0 < u["confidence"] <= 1
    for turn in (body, question, answer):
        assert turn["replies"] and turn["understanding"] is not None
        for reply in turn["replies"]:
            assert reply["text"] and reply["characters"] == len(reply["text"])
            if channel == "sms":
                assert reply["segments"] >= 1 and reply["encoding"] in ("GSM-7", "UCS-2")
                assert reply["segments"] <= client.app.state.settings.sms_max_segments
            else:
                assert reply["segments"] is None and reply["encoding"] is None

    with client.app.state.engine.connect() as conn:
        rows = conn.execute(select(Message.direction, Message.message_sid, Message.channel, Message.test)).all()
    inbound = [row for row in rows if row.direction == "in"]
    assert len(inbound) == 3 and all(row.message_sid.startswith("SIM") for row in inbound)
    assert {row.channel for row in rows} == {channel}
    assert rows and all(row.test for row in rows)  # kept out of the insights


def test_calling_code_defaults_apply(client, editor) -> None:
    body = send(client, token_of(client), "hola", sender="+5212345678").json()
    assert body["understanding"]["country"] == "MX" and body["understanding"]["language"] == "es"
    body = send(client, token_of(client), "KREYOL", sender="+5212345678").json()
    assert body["understanding"]["language"] == "ht"


@pytest.mark.parametrize("sender", ["5212345678", "+52123", "+52 1234 5678", "+5212345678901234", "+52abcdefgh", ""])
def test_the_sender_must_be_a_plus_and_digits(client, editor, sender: str) -> None:
    response = send(client, token_of(client), "hola", sender=sender)
    assert response.status_code == 400 and "6 to 15 digits" in response.json()["detail"]


@pytest.mark.parametrize("body", [{"text": "", "channel": "sms"}, {"text": "x" * 1601, "channel": "sms"},
                                  {"text": "hola", "channel": "web"}, {"text": "hola"}])
def test_bad_messages_are_refused(client, editor, body: dict) -> None:
    response = client.post(SEND, json={"sender": VENEZUELA, **body}, headers={"x-csrf-token": token_of(client)})
    assert response.status_code == 422
    assert send(client, token_of(client), "   ").status_code == 400


@pytest.mark.parametrize("language, names", [("es", ("Simulador", "México", "República Dominicana", "Haití")),
                                             ("en", ("Simulator", "Mexico", "Dominican Republic", "Haiti"))])
def test_the_page_in_spanish_and_english(client, editor, language: str, names: tuple[str, ...]) -> None:
    page = client.get(f"/console/simulator?lang={language}")
    assert page.status_code == 200
    for name in names:
        assert name in page.text
    country_select = re.search(r'<select id="country".*?</select>', page.text, re.S).group(0)
    codes = re.findall(r'<option value="([A-Z]{2})"', country_select)
    assert sorted(codes) == sorted(client.app.state.knowledge.get().countries) and len(codes) == 11
    assert 'value="MX" data-prefix="+52" data-digits="8"' in country_select
    assert 'value="DO" data-prefix="+1809" data-digits="7"' in country_select
    for element in ('id="chat-log"', 'id="message"', 'id="send"', 'id="channel"', 'id="country"', "KREYOL"):
        assert element in page.text
    assert "eva (editor)" in page.text


def test_every_simulated_number_belongs_to_its_country(client) -> None:
    for code, country in client.app.state.knowledge.get().countries.items():
        prefix, digits = sender_prefix(code, country.calling_code)
        assert prefix.startswith(f"+{country.calling_code}")
        number = prefix + "5" * digits
        assert re.fullmatch(r"\+[0-9]{6,15}", number) and region_of(number) == code, code


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_the_simulator_never_reaches_a_real_person(client, editor, channel: str) -> None:
    """STOP and BORRAR + SI in the simulator, with a real person's number, leave that person's record alone."""
    real = "+529629876543"
    for body in ("hola", "ALERTAS MX"):
        post_signed(client, form_of("sms_text", MessageSid=new_sid(), From=real, Body=body))
    engine = client.app.state.engine

    def person():  # type: ignore[no-untyped-def]
        with engine.connect() as conn:
            contact = conn.execute(select(Contact).where(
                Contact.address_hash == hash_address(real, secret=client.app.state.settings.hash_secret))).first()
            subscribed = conn.execute(select(func.count()).select_from(Subscription)).scalar_one()
            kept = conn.execute(select(func.count()).select_from(Message).where(Message.test.is_(False),
                                                                                 Message.text.is_not(None))).scalar_one()
        return contact, subscribed, kept

    before, subscribed, kept = person()
    assert before is not None and not before.opted_out and subscribed == 1 and kept >= 2
    token = token_of(client)
    for text in ("BORRAR", "SI", "STOP"):
        assert send(client, token, text, channel=channel, sender=real).status_code == 200
    after, still_subscribed, still_kept = person()
    assert after is not None and (after.id, after.created_at) == (before.id, before.created_at) and not after.opted_out
    assert (still_subscribed, still_kept) == (1, kept)
    with engine.connect() as conn:  # the simulated conversation had a contact of its own
        assert conn.execute(select(func.count()).select_from(Contact)).scalar_one() == 2
