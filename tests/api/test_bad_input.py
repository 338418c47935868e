"""Bad input gets a clear 4xx with the reason, never a 5xx, on SQLite and PostgreSQL alike."""

import json

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from app.storage.models import Contact, DeliveryStatus, Message
from tests.conftest import form_of, new_sid, post_signed

STATUS = "/webhooks/twilio/status"
SURROGATE = b'"\\ud800"'  # a lone surrogate, as JSON escapes it: Python decodes it, UTF-8 cannot encode it


def count(client, model, *where) -> int:  # type: ignore[no-untyped-def]
    with Session(client.app.state.engine) as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def inbound_texts(client) -> list[str]:  # type: ignore[no-untyped-def]
    with Session(client.app.state.engine) as session:
        return list(session.execute(select(Message.text).where(Message.direction == "in")).scalars())


# --- status callbacks ---

@pytest.mark.parametrize("code", ["²", "٣٠٠٠٣", "3" * 30, "2147483648", "-1", "30 003", "0x10"])
def test_status_error_code_must_be_ascii_digits_that_fit_the_column(client, code: str) -> None:
    params = {"MessageSid": new_sid(), "MessageStatus": "failed", "ErrorCode": code}
    response = post_signed(client, params, STATUS)
    assert response.status_code == 400 and "ErrorCode" in response.text
    assert count(client, DeliveryStatus) == 0


def test_status_error_code_at_the_top_of_the_column_is_kept(client) -> None:
    params = {"MessageSid": new_sid(), "MessageStatus": "failed", "ErrorCode": " 2147483647 "}
    assert post_signed(client, params, STATUS).status_code == 204
    assert count(client, DeliveryStatus, DeliveryStatus.error_code == 2147483647) == 1


def test_every_status_twilio_reports_fits_the_column(client) -> None:
    from app.channels.twilio import STATUSES

    for status in sorted(STATUSES):  # "partially_delivered" has 19 characters; the column had 16
        assert post_signed(client, {"MessageSid": new_sid(), "MessageStatus": status}, STATUS).status_code == 204
    assert count(client, DeliveryStatus) == len(STATUSES)


# --- sids and addresses ---

BAD_SIDS = ["SM" + "a" * 63, "SM\x00" + "a" * 32, "SM1\nINFO migrantinfo forged line", "SM1\rINFO x", "SMé" + "a" * 31,
            "SM 1", "SM1;DROP"]


@pytest.mark.parametrize("sid", BAD_SIDS)
def test_a_bad_sid_is_refused_on_both_webhooks(client, sid: str) -> None:
    inbound = post_signed(client, form_of("sms_text", MessageSid=sid, SmsMessageSid=sid, SmsSid=sid))
    assert inbound.status_code == 400 and "MessageSid" in inbound.text
    status = post_signed(client, {"MessageSid": sid, "MessageStatus": "delivered"}, STATUS)
    assert status.status_code == 400 and "MessageSid" in status.text
    assert count(client, Message) == 0 and count(client, DeliveryStatus) == 0


def test_a_sid_of_the_column_length_is_accepted(client) -> None:
    sid = "SM" + "0" * 62
    assert post_signed(client, form_of("sms_text", MessageSid=sid)).status_code == 200
    assert post_signed(client, {"MessageSid": sid, "MessageStatus": "delivered"}, STATUS).status_code == 204


@pytest.mark.parametrize("field, value", [
    ("From", "+52" + "1" * 62), ("To", "+52" + "1" * 62), ("From", "+52962\x00000000"), ("To", "+5255\x0000001"),
    ("From", "+52962\n0000000"),
])
def test_an_over_long_or_broken_address_is_refused(client, field: str, value: str) -> None:
    response = post_signed(client, form_of("sms_text", MessageSid=new_sid(), **{field: value}))
    assert response.status_code == 400 and field in response.text
    assert count(client, Message) == 0


# --- the body: cleaned and capped, never refused ---

def test_nul_in_the_body_is_removed_before_the_database(client) -> None:
    response = post_signed(client, form_of("sms_text", MessageSid=new_sid(), Body="ASILO\x00 MX\x00"))
    assert response.status_code == 200 and "COMAR" in response.text  # understood as "ASILO MX"
    assert inbound_texts(client) == ["ASILO MX"]


def test_nul_in_a_button_payload_is_removed(client) -> None:
    response = post_signed(client, form_of("whatsapp_button_reply", MessageSid=new_sid(),
                                           ButtonPayload="country:\x00CR", Body="\x00"))
    assert response.status_code == 200
    with Session(client.app.state.engine) as session:
        assert session.execute(select(Contact.country)).scalar_one() == "CR"  # the payload, understood


@pytest.mark.parametrize("name, cap", [("sms_text", 1600), ("whatsapp_text", 4096)])
def test_a_body_past_twilios_limit_is_kept_truncated_and_answered(client, name: str, cap: int) -> None:
    body = "ayuda " * 2000  # 12,000 characters
    response = post_signed(client, form_of(name, MessageSid=new_sid(), Body=body))
    assert response.status_code == 200 and "<Message>" in response.text
    [text] = inbound_texts(client)
    assert cap - 6 <= len(text) <= cap and body.startswith(text)


# --- JSON doors: lone surrogates and NUL ---

def post_raw_json(client, path: str, raw: bytes, headers: dict | None = None):  # type: ignore[no-untyped-def]
    return client.post(path, content=raw, headers={"content-type": "application/json", **(headers or {})})


@pytest.mark.parametrize("raw", [
    b'{"sender": "+15551234567", "text": ' + SURROGATE + b"}",
    b'{"sender": "+15551234567", "text": "hola \\u0000"}',
    b'{"sender": "+1555' + SURROGATE[1:-1] + b'", "text": "hola"}',
])
def test_the_json_api_refuses_lone_surrogates_and_nul(client, raw: bytes) -> None:
    response = post_raw_json(client, "/api/v1/messages", raw)
    assert response.status_code == 422, response.text
    assert "surrogate" in response.text or "NUL" in response.text
    assert count(client, Message) == 0


ADMIN = {"authorization": "Bearer test-api-token"}


@pytest.fixture
def admin_client(settings):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.conftest import BASE

    settings = settings.model_copy(update={"api_token": "test-api-token"})
    with TestClient(create_app(settings), base_url=BASE) as client:
        yield client


@pytest.mark.parametrize("path", ["/api/v1/alerts/preview", "/api/v1/alerts"])
@pytest.mark.parametrize("raw", [
    b'{"country": "MX", "texts": {"es": ' + SURROGATE + b"}}",
    b'{"country": "MX", "texts": {"es": "Aviso \\u0000"}}',
    b'{"country": "MX", "texts": {"es": "Aviso"}, "created_by": ' + SURROGATE + b"}",
])
def test_the_alerts_api_refuses_lone_surrogates_and_nul(admin_client, path: str, raw: bytes) -> None:
    response = post_raw_json(admin_client, path, raw, ADMIN)
    assert response.status_code == 422, response.text
    assert "surrogate" in response.text or "NUL" in response.text


@pytest.mark.parametrize("alert_id", [2**31, 2**63, 2**64 + 5, 0, -1])
def test_an_alert_id_out_of_range_is_a_4xx(admin_client, alert_id: int) -> None:
    assert admin_client.get(f"/api/v1/alerts/{alert_id}", headers=ADMIN).status_code in (404, 422)


def test_console_ids_out_of_range_are_a_4xx(client) -> None:
    from app.console import auth
    from tests.console.test_console import PASSWORD, log_in

    auth.add_user(client.app.state.engine, name="ana", password=PASSWORD, role="operator")
    log_in(client, "ana")
    for path in ("/console/alerts/{}", "/console/handovers/{}"):
        for number in (2**31, 2**63):
            assert client.get(path.format(number)).status_code in (404, 422)


def test_the_simulator_refuses_lone_surrogates(client) -> None:
    import re

    from app.console import auth
    from tests.console.test_console import PASSWORD, log_in

    auth.add_user(client.app.state.engine, name="eva", password=PASSWORD, role="editor")
    log_in(client, "eva")
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get("/console/simulator").text).group(1)
    raw = b'{"text": ' + SURROGATE + b', "channel": "sms", "sender": "+5841212345"}'
    response = post_raw_json(client, "/console/simulator/send", raw, {"x-csrf-token": token})
    assert response.status_code == 422 and "surrogate" in response.text
    assert count(client, Message) == 0


# --- Rasa's action endpoint ---

TRACKER = {"sender_id": "x", "slots": {"country": None},
           "latest_message": {"text": "asilo", "intent": {"name": "asylum", "confidence": 0.97},
                              "entities": [{"entity": "country", "value": "mejico"}],
                              "metadata": {"language": "es", "channel": "sms"}}}


def action_call(tracker: object) -> dict:
    return {"next_action": "action_answer", "sender_id": "x", "tracker": tracker, "domain": {}, "version": "3.6.21"}


def test_the_rasa_action_endpoint_needs_the_shared_token(client) -> None:
    settings = client.app.state.settings
    assert settings.action_token  # derived from HASH_SECRET when RASA_ACTION_TOKEN is not set
    assert client.post("/rasa/webhook", json=action_call(TRACKER)).status_code == 401
    assert client.post("/rasa/webhook?token=wrong", json=action_call(TRACKER)).status_code == 401
    good = client.post("/rasa/webhook", params={"token": settings.action_token}, json=action_call(TRACKER))
    assert good.status_code == 200 and good.json()["responses"][0]["custom"]["understanding"]["country"] == "MX"


def with_latest(**changes: object) -> dict:
    return {**TRACKER, "latest_message": {**TRACKER["latest_message"], **changes}}  # type: ignore[dict-item]


@pytest.mark.parametrize("call", [
    [1, 2], "x", {"next_action": 5, "tracker": TRACKER}, action_call([]), action_call("x"),
    action_call({**TRACKER, "slots": []}), action_call({**TRACKER, "latest_message": "x"}),
    action_call(with_latest(intent="asylum")), action_call(with_latest(intent={"name": 5})),
    action_call(with_latest(intent={"name": "asylum", "confidence": "high"})),
    action_call(with_latest(intent={"name": "asylum", "confidence": 7})),
    action_call(with_latest(entities="mexico")), action_call(with_latest(entities=["mexico"])),
    action_call(with_latest(metadata="es")), action_call(with_latest(metadata={"language": ["es"]})),
])
def test_malformed_trackers_get_400(client, call: object) -> None:
    token = client.app.state.settings.action_token
    response = client.post("/rasa/webhook", params={"token": token}, content=json.dumps(call),
                           headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]


@pytest.mark.parametrize("raw", [
    b'{"next_action": "action_answer", "tracker": {"latest_message": {"intent": {"name": "asylum", '
    b'"confidence": Infinity}}}}',
    b'{"next_action": "action_answer", "tracker": {"latest_message": {"metadata": {"language": '
    + SURROGATE + b"}}}}",
])
def test_trackers_that_cannot_be_answered_in_json_get_400(client, raw: bytes) -> None:
    token = client.app.state.settings.action_token
    response = post_raw_json(client, f"/rasa/webhook?token={token}", raw)
    assert response.status_code == 400, response.text
