"""The Twilio webhook end to end: signatures, parsing, TwiML, media, location, buttons, failures."""

import json
import logging
import time

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from app.channels.render import to_gsm7
from app.channels.twilio import EMPTY_TWIML, parse_inbound
from app.conversation.replay import replay_due
from app.storage.models import Contact, DeliveryStatus, Message
from tests.conftest import BASE, FIXTURES, form_of, new_sid, post_signed, sign, wait_for


def count(client, model, *where) -> int:  # type: ignore[no-untyped-def]
    with Session(client.app.state.engine) as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def messages_of(client, body: str) -> list[str]:  # type: ignore[no-untyped-def]
    import xml.etree.ElementTree as ET

    root = ET.fromstring(body)
    assert root.tag == "Response"
    return [m.text or "" for m in root.findall("Message")]


def expected_reply(client, name: str) -> str:  # type: ignore[no-untyped-def]
    """A piece of the real answer to each captured body (an apology has none of them)."""
    from app.i18n import Texts

    kb, locales = client.app.state.knowledge.get(), client.app.state.settings.locales_dir
    if name == "sms_text":  # ASILO MX
        return to_gsm7(kb.answer("asylum", "MX", "es").sms)[:60]
    if name == "whatsapp_text":  # ¿cómo pido refugio en Costa Rica?: a specific entry of Costa Rica, or the overview
        u = client.app.state.assistant.understander.understand("¿cómo pido refugio en Costa Rica?", sender="x",
                                                              channel="whatsapp", language="es", country="CR")
        answer = kb.entry_answer(u.entry, "es", "CR") if u.entry else kb.answer("asylum", "CR", "es")
        return answer.whatsapp.splitlines()[0]
    if name == "whatsapp_voice_note":  # from +509: in Kreyòl
        return Texts("ht", locales).gettext("I can only read text for now. Please write your question.")
    if name == "whatsapp_location":  # Tapachula
        nearest = kb.nearest((14.9058, -92.2636))[0].point.organisation
        return "*" + Texts("es", locales).gettext("Nearest service points:") + f"*\n- {nearest}"
    return "1. " + kb.topic_name("asylum", "es")  # the button of a first contact: the menu


@pytest.mark.parametrize("name", ["sms_text", "whatsapp_text", "whatsapp_voice_note", "whatsapp_location",
                                  "whatsapp_button_reply"])
def test_every_captured_body_gets_twiml(client, name: str) -> None:
    response = post_signed(client, form_of(name, MessageSid=new_sid()))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    [body] = messages_of(client, response.text)
    assert expected_reply(client, name) in body


def test_sms_keyword_answers_from_the_knowledge_base(client) -> None:
    response = post_signed(client, form_of("sms_text", MessageSid=new_sid()))  # "ASILO MX"
    [body] = messages_of(client, response.text)
    kb = client.app.state.knowledge.get()
    answer = kb.answer("asylum", "MX", "es")
    assert answer is not None
    assert body.startswith(to_gsm7(answer.sms)[:60])
    with Session(client.app.state.engine) as session:
        row = session.execute(select(Message).where(Message.direction == "in")).scalars().one()
    assert (row.topic, row.country, row.language, row.answered) == ("asylum", "MX", "es", True)


def test_voice_note_gets_can_only_read_text_in_the_senders_language(client) -> None:
    response = post_signed(client, form_of("whatsapp_voice_note", MessageSid=new_sid()))  # from +509: Haiti
    [body] = messages_of(client, response.text)
    from app.i18n import Texts

    texts = Texts("ht", client.app.state.settings.locales_dir)
    assert texts.gettext("I can only read text for now. Please write your question.") in body
    assert "1. " in body  # the menu follows


def test_location_is_handed_to_the_dialogue(client) -> None:
    response = post_signed(client, form_of("whatsapp_location", MessageSid=new_sid()))
    with Session(client.app.state.engine) as session:
        row = session.execute(select(Message).where(Message.direction == "in")).scalars().one()
    assert row.intent == "location"
    assert messages_of(client, response.text)


def test_button_payload_is_the_chosen_option(client) -> None:
    post_signed(client, form_of("whatsapp_button_reply", MessageSid=new_sid(), ButtonText="x", Body="x"))
    with Session(client.app.state.engine) as session:
        contact = session.execute(select(Contact)).scalars().one()
    assert contact.country == "CR"  # from ButtonPayload=country:CR, not from the text


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl", "wrong"])
def test_missing_or_wrong_signature_is_refused_and_nothing_stored(client, signature: str) -> None:
    response = post_signed(client, form_of("sms_text", MessageSid=new_sid()), signature=signature)
    assert response.status_code == 403
    assert count(client, Message) == 0 and count(client, Contact) == 0


def test_signature_over_the_internal_url_is_refused(client) -> None:
    params = form_of("sms_text", MessageSid=new_sid())
    internal = sign("http://127.0.0.1:8000/webhooks/twilio", params)
    assert post_signed(client, params, signature=internal).status_code == 403


@pytest.mark.parametrize("signed_url", ["https://bot.example.org/webhooks/twilio",
                                        "https://bot.example.org:443/webhooks/twilio"])
def test_the_public_url_is_accepted_signed_with_or_without_its_default_port(client, signed_url: str) -> None:
    assert BASE == "https://bot.example.org"  # the settings' PUBLIC_BASE_URL
    params = form_of("sms_text", MessageSid=new_sid())
    assert post_signed(client, params, signature=sign(signed_url, params)).status_code == 200
    again = form_of("sms_text", MessageSid=new_sid())  # another port is another URL
    assert post_signed(client, again, signature=sign("https://bot.example.org:8443/webhooks/twilio", again)) \
        .status_code == 403


def test_signature_with_query_string_uses_the_public_url(client) -> None:
    params = form_of("sms_text", MessageSid=new_sid())
    from urllib.parse import urlencode

    response = client.post("/webhooks/twilio?rc=3", content=urlencode(params), headers={
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": sign(BASE + "/webhooks/twilio?rc=3", params)})
    assert response.status_code == 200


@pytest.mark.parametrize("changes, reason", [
    ({"MessageSid": "", "SmsMessageSid": "", "SmsSid": ""}, "missing field MessageSid"),
    ({"From": ""}, "missing field From"),
    ({"NumMedia": "two"}, "NumMedia is not a whole number"),
    ({"From": "messenger:123"}, "unsupported channel"),
])
def test_malformed_forms_get_400_with_the_reason(client, changes: dict, reason: str) -> None:
    response = post_signed(client, form_of("sms_text", **changes))
    assert response.status_code == 400
    assert reason in response.text
    assert count(client, Message) == 0


def test_bad_coordinates_get_400(client) -> None:
    response = post_signed(client, form_of("whatsapp_location", MessageSid=new_sid(), Latitude="north"))
    assert response.status_code == 400 and "Latitude" in response.text


def test_json_body_gets_400(client) -> None:
    response = client.post("/webhooks/twilio", json={"Body": "hi"}, headers={"x-twilio-signature": "x"})
    assert response.status_code == 400 and "x-www-form-urlencoded" in response.text


CASES = json.loads((FIXTURES / "courier_bodies.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["label"] for c in CASES])
def test_bodies_captured_by_another_channel_layer(client, case: dict) -> None:
    from urllib.parse import parse_qsl

    path = "/webhooks/twilio" if case["path"] == "receive" else "/webhooks/twilio/status"
    params = dict(parse_qsl(case["data"].strip(), keep_blank_values=True))
    response = post_signed(client, params, path)
    # Where courier allows either ("2xx|400": no MessageSid, or a MessageStatus Twilio never sends), this app
    # refuses with the reason; a status it records gets 204, a message 200 with its reply.
    expected = {"200": 200, "400": 400, "2xx": 204, "2xx|400": 400}[str(case["expect"])]
    assert response.status_code == expected, response.text
    if case["label"] == "status unknown value":
        assert response.text == "unknown MessageStatus 'huh'"


def test_unknown_fields_are_accepted(client) -> None:
    response = post_signed(client, form_of("sms_text", MessageSid=new_sid(), SomeNewTwilioField="1"))
    assert response.status_code == 200
    [body] = messages_of(client, response.text)
    assert expected_reply(client, "sms_text") in body  # the answer to ASILO MX, not an apology


def test_internal_failure_answers_200_with_a_localized_apology(client, monkeypatch, caplog) -> None:
    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(client.app.state.assistant.dialogue, "respond", broken)
    sid = new_sid()
    with caplog.at_level(logging.ERROR, logger="app"):
        response = post_signed(client, form_of("sms_text", MessageSid=sid, Body="hola"))
    assert response.status_code == 200
    [body] = messages_of(client, response.text)
    from app.i18n import Texts

    texts = Texts("es", client.app.state.settings.locales_dir)
    assert body == texts.gettext("Sorry, something went wrong on our side. Please try again, or write MENU.")
    assert any(sid in record.getMessage() for record in caplog.records)
    # nothing half-done was kept: no contact, and a retry of the same MessageSid is processed again
    assert count(client, Contact) == 0
    monkeypatch.undo()
    retry = post_signed(client, form_of("sms_text", MessageSid=sid, Body="hola"))
    assert "1. " in messages_of(client, retry.text)[0]


def test_slow_dialogue_still_answers_inside_the_budget(client, monkeypatch) -> None:
    client.app.state.settings.reply_budget_seconds = 0.5
    real = client.app.state.assistant.dialogue.respond

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(1.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(client.app.state.assistant.dialogue, "respond", slow)
    started = time.monotonic()
    form = form_of("sms_text", MessageSid=new_sid(), Body="hola")
    response = post_signed(client, form)
    assert time.monotonic() - started < 1.4
    assert response.status_code == 200
    assert messages_of(client, response.text) == [client.app.state.assistant.apology(parse_inbound(form))]
    # the abandoned worker rolls back what it did, instead of storing an answer the person never got ...
    inbox = client.app.state.assistant.inbox
    wait_for(lambda: inbox.due(older_than=0), timeout=10, what="the abandoned worker to let go of the message")
    assert count(client, Message, Message.direction == "in") == 0 and inbox.pending == 1
    # ... and the journal still owes it: a replay answers it through the REST API
    monkeypatch.undo()
    inbox.released(form["MessageSid"])
    sent: list[list[str]] = []
    assert replay_due(client.app.state.assistant, inbox, lambda msg, bodies: sent.append(bodies) or True,
                      older_than=0) == 1
    assert len(sent) == 1 and "1. " in sent[0][0]
    assert count(client, Message, Message.direction == "in", Message.status == "done") == 1 and inbox.pending == 0


def test_logs_carry_no_phone_number_or_text(client, caplog) -> None:
    params = form_of("sms_text", MessageSid=new_sid(), Body="me llamo Ana, mi numero es 5512345678")
    with caplog.at_level(logging.DEBUG):
        post_signed(client, params)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("app."))
    assert params["MessageSid"] in logged
    assert "9629876543" not in logged and "5512345678" not in logged and "Ana" not in logged


@pytest.mark.parametrize("status, code", [("delivered", None), ("failed", "30003"), ("read", None)])
def test_status_callbacks_are_recorded(client, status: str, code: str | None) -> None:
    sid = new_sid()
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC0"}
    if code:
        params["ErrorCode"] = code
    assert post_signed(client, params, "/webhooks/twilio/status").status_code == 204
    with Session(client.app.state.engine) as session:
        row = session.execute(select(DeliveryStatus)).scalars().one()
    assert (row.message_sid, row.status, row.error_code) == (sid, status, int(code) if code else None)


def test_status_never_moves_backwards(client) -> None:
    sid = new_sid()
    for status in ("sent", "delivered", "sent"):
        post_signed(client, {"MessageSid": sid, "MessageStatus": status}, "/webhooks/twilio/status")
    with Session(client.app.state.engine) as session:
        assert session.execute(select(DeliveryStatus.status)).scalar_one() == "delivered"


def test_status_fixture_bodies(client) -> None:
    for name in ("status_delivered", "status_failed"):
        assert post_signed(client, form_of(name), "/webhooks/twilio/status").status_code == 204
    assert count(client, DeliveryStatus, DeliveryStatus.error_code == 30003) == 1


def test_status_callback_needs_a_signature(client) -> None:
    params = {"MessageSid": new_sid(), "MessageStatus": "delivered"}
    assert post_signed(client, params, "/webhooks/twilio/status", signature="").status_code == 403
    assert count(client, DeliveryStatus) == 0


def test_empty_twiml_is_the_exact_empty_response() -> None:
    from app.channels.twilio import twiml

    assert twiml([]) == EMPTY_TWIML


@pytest.mark.parametrize("bodies", [["hola"], ["a < b & \"c\" 'd'\nñ", "*bold* 🙂"], []])
def test_twiml_is_what_twilios_library_writes(bodies: list[str]) -> None:
    from twilio.twiml.messaging_response import MessagingResponse

    from app.channels.twilio import twiml

    expected = MessagingResponse()
    for body in bodies:
        expected.message(body)
    assert twiml(bodies) == str(expected).replace("<Response/>", "<Response />")


def test_even_a_failure_outside_the_pipeline_answers_200(client, monkeypatch) -> None:
    import app.api.twilio

    async def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the worker pool is gone")

    monkeypatch.setattr(app.api.twilio, "answer", broken)
    response = post_signed(client, form_of("sms_text", MessageSid=new_sid(), Body="hola"))
    assert response.status_code == 200
    from app.i18n import Texts

    apology = Texts("es", client.app.state.settings.locales_dir).gettext(
        "Sorry, something went wrong on our side. Please try again, or write MENU.")
    assert messages_of(client, response.text) == [apology]
