"""Hand-over to a person: opened by words or danger, the bot silent, an operator replies through Twilio, closes."""

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.console import auth
from app.crypto import box_for
from app.main import create_app
from app.storage.models import CONTACTS, HANDOVERS, Message, utcnow
from tests.conftest import BASE, form_of, make_settings, new_sid, post_signed
from tests.console.test_console import PASSWORD, log_in
from tests.fake_twilio import ACCOUNT, FakeTwilio

WHATSAPP = "whatsapp:+50688887777"


@pytest.fixture
def fake_twilio():  # type: ignore[no-untyped-def]
    with FakeTwilio() as fake:
        fake.in_window.add(WHATSAPP)  # Twilio's own view of the window: this person wrote recently
        yield fake


@pytest.fixture
def client(database_url: str, fake_twilio: FakeTwilio):  # type: ignore[no-untyped-def]
    settings = make_settings(database_url, twilio_account_sid=ACCOUNT, twilio_api_base_url=fake_twilio.url)
    with TestClient(create_app(settings), base_url=BASE) as test_client:
        auth.add_user(test_client.app.state.engine, name="ana", password=PASSWORD, role="operator")
        yield test_client


def say(client: TestClient, text: str, address: str = WHATSAPP) -> list[str]:
    form = form_of("whatsapp_text" if address.startswith("whatsapp:") else "sms_text", Body=text, From=address,
                   MessageSid=new_sid(), SmsMessageSid="", SmsSid="")
    response = post_signed(client, form)
    assert response.status_code == 200
    return re.findall(r"<Message>(.*?)</Message>", response.text, re.S)


def rows(client: TestClient) -> list[dict]:
    with client.app.state.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(HANDOVERS).order_by(HANDOVERS.c.id)).mappings()]


def csrf(client: TestClient, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def test_asking_for_a_person_pauses_the_bot_until_an_operator_closes(client: TestClient, fake_twilio) -> None:  # type: ignore[no-untyped-def]
    replies = say(client, "quiero hablar con una persona por favor")
    assert "Una persona de nuestro equipo le responderá aquí" in replies[0]
    [handover] = rows(client)
    assert handover["status"] == "open" and handover["priority"] == 0 and handover["reason"] == "asked"
    settings = client.app.state.settings
    assert "88887777" not in handover["address_encrypted"]
    assert box_for(settings.address_keys, settings.hash_secret).open(handover["address_encrypted"]) == WHATSAPP
    assert say(client, "ASILO CR") == []  # the bot keeps quiet while a person has the conversation
    assert say(client, "MENU") == []

    assert log_in(client, "ana").status_code == 303
    queue = client.get("/console/handovers")
    assert f'href="/console/handovers/{handover["id"]}"' in queue.text
    page = client.get(f"/console/handovers/{handover['id']}")
    assert "quiero hablar con una persona por favor" in page.text and "ASILO CR" in page.text
    token = csrf(client, f"/console/handovers/{handover['id']}")
    sent = client.post(f"/console/handovers/{handover['id']}/reply",
                       data={"text": "Hola, soy Ana de la oficina. ¿En qué ciudad está?", "csrf_token": token},
                       follow_redirects=False)
    assert sent.status_code == 303
    [message] = fake_twilio.accepted
    assert message["To"] == WHATSAPP and message["From"] == "whatsapp:+50640001234"  # the number they wrote to
    assert message["Body"] == "Hola, soy Ana de la oficina. ¿En qué ciudad está?"
    assert "Hola, soy Ana de la oficina" in client.get(f"/console/handovers/{handover['id']}").text

    closed = client.post(f"/console/handovers/{handover['id']}/close", data={"csrf_token": token, "tell": "1"},
                         follow_redirects=False)
    assert closed.status_code == 303
    assert fake_twilio.accepted[-1]["Body"].startswith("Nuestro equipo cerró esta conversación")  # in Spanish
    [handover] = rows(client)
    assert handover["status"] == "closed" and handover["address_encrypted"] is None  # the number goes with it
    assert handover["closed_by"] == "ana"
    assert "refugio" in " ".join(say(client, "ASILO CR")).lower()  # the bot is back


def test_danger_opens_an_urgent_hand_over_first_in_the_queue(client: TestClient) -> None:
    say(client, "PERSONA", "+529629876543")  # an SMS keyword
    replies = say(client, "me quieren matar, ayuda")
    assert any("911" in r for r in replies)  # emergency numbers, at once
    assert "también leerá esta conversación" in replies[-1]
    first, second = rows(client)
    assert (first["priority"], second["priority"]) == (0, 1)
    log_in(client, "ana")
    page = client.get("/console/handovers").text
    assert page.index(f'/console/handovers/{second["id"]}"') < page.index(f'/console/handovers/{first["id"]}"')


def test_a_long_danger_answer_by_sms_still_pages_with_more(client: TestClient) -> None:
    first = say(client, "me quieren matar, ayuda", "+50255556666")
    assert "MAS" in first[-1]  # the emergency answer is longer than one SMS page
    [handover] = rows(client)
    [rest] = say(client, "MAS", "+50255556666")  # the next page, not silence
    assert "Una persona de nuestro equipo" in rest
    assert say(client, "hola", "+50255556666") == []  # then the person's words are for the operator
    assert rows(client)[0]["id"] == handover["id"]


def test_danger_during_a_hand_over_is_answered_and_raises_it(client: TestClient) -> None:
    say(client, "PERSONA")
    assert say(client, "hola?") == []
    replies = say(client, "me quieren matar")
    assert any("911" in r for r in replies)
    [handover] = rows(client)
    assert handover["priority"] == 1 and handover["reason"] == "danger"


def test_the_whatsapp_window_is_respected(client: TestClient, fake_twilio) -> None:  # type: ignore[no-untyped-def]
    say(client, "PERSONA")
    [handover] = rows(client)
    with client.app.state.engine.begin() as conn:
        conn.execute(update(CONTACTS).values(last_inbound_at=utcnow() - timedelta(hours=25)))
    log_in(client, "ana")
    page = client.get(f"/console/handovers/{handover['id']}?lang=en").text
    assert "more than 24 hours ago" in page and 'name="text"' not in page
    token = csrf(client, f"/console/handovers/{handover['id']}")
    refused = client.post(f"/console/handovers/{handover['id']}/reply", data={"text": "Hola", "csrf_token": token})
    assert refused.status_code == 409 and "solo permite una plantilla aprobada" in refused.text  # the console's es
    assert fake_twilio.requests == []


def test_twilio_refusals_are_shown_to_the_operator(client: TestClient, fake_twilio) -> None:  # type: ignore[no-untyped-def]
    say(client, "PERSONA", "+529629876543")
    [handover] = rows(client)
    fake_twilio.opted_out.add("+529629876543")
    log_in(client, "ana")
    token = csrf(client, f"/console/handovers/{handover['id']}")
    refused = client.post(f"/console/handovers/{handover['id']}/reply", data={"text": "Hola", "csrf_token": token})
    assert refused.status_code == 409 and "unsubscribed recipient" in refused.text


def test_stop_closes_the_hand_over_and_forgets_the_number(client: TestClient) -> None:
    say(client, "PERSONA")
    say(client, "STOP")
    [handover] = rows(client)
    assert handover["status"] == "closed" and handover["address_encrypted"] is None


def test_editors_cannot_see_hand_overs(client: TestClient) -> None:
    auth.add_user(client.app.state.engine, name="eva", password=PASSWORD, role="editor")
    log_in(client, "eva")
    assert client.get("/console/handovers").status_code == 403
    assert client.get("/console/alerts").status_code == 403


def test_an_operator_reply_is_stored_masked_and_logged_without_the_number(client: TestClient, fake_twilio,  # type: ignore[no-untyped-def]
                                                                         caplog) -> None:
    say(client, "PERSONA")
    [handover] = rows(client)
    log_in(client, "ana")
    token = csrf(client, f"/console/handovers/{handover['id']}")
    text = "Llame al +506 2222-3333 o escriba a oficina.cr@example.org"
    with caplog.at_level("INFO", logger="app"):
        sent = client.post(f"/console/handovers/{handover['id']}/reply", data={"text": text, "csrf_token": token},
                           follow_redirects=False)
        assert sent.status_code == 303
        closed = client.post(f"/console/handovers/{handover['id']}/close", data={"csrf_token": token},
                             follow_redirects=False)
        assert closed.status_code == 303
    assert fake_twilio.accepted[-1]["Body"] == text  # the person gets the whole text
    with client.app.state.engine.connect() as conn:
        stored = conn.execute(select(Message.text).where(Message.engine == "operator")).scalar_one()
    assert stored == "Llame al [phone] o escriba a [email]"
    actions = [r.getMessage() for r in caplog.records if "ana" in r.getMessage()]
    assert any(f"hand-over {handover['id']}" in m and "reply" in m for m in actions)
    assert any(f"hand-over {handover['id']}" in m and "closed" in m for m in actions)
    logged = caplog.text
    assert "88887777" not in logged and "2222-3333" not in logged and "example.org" not in logged


def test_an_operator_reply_with_a_nul_is_sent_and_stored_without_it(client: TestClient, fake_twilio) -> None:  # type: ignore[no-untyped-def]
    say(client, "PERSONA")
    [handover] = rows(client)
    log_in(client, "ana")
    token = csrf(client, f"/console/handovers/{handover['id']}")
    sent = client.post(f"/console/handovers/{handover['id']}/reply", data={"text": "Hola\x00 Ana", "csrf_token": token},
                       follow_redirects=False)
    assert sent.status_code == 303  # PostgreSQL refuses NUL in text: it never reaches the database
    assert fake_twilio.accepted[-1]["Body"] == "Hola Ana"
    with client.app.state.engine.connect() as conn:
        assert conn.execute(select(Message.text).where(Message.engine == "operator")).scalar_one() == "Hola Ana"
