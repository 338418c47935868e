"""POST /api/v1/messages, GET /healthz and /readyz."""

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import BASE, make_settings


def test_api_answers_with_replies_and_understanding(client) -> None:
    response = client.post("/api/v1/messages", json={"sender": "+5215512345678", "text": "ASILO MX", "channel": "sms"})
    assert response.status_code == 200
    body = response.json()
    assert body["replies"] and body["replies"][0]["text"]
    assert body["understanding"] == {"intent": "asylum", "topic": "asylum", "country": "MX", "language": "es",
                                     "confidence": 1.0, "engine": "keywords", "entry": None,
                                     "entry_confidence": None}


def test_api_whatsapp_and_web_are_not_paged(client) -> None:
    for channel in ("whatsapp", "web"):
        body = client.post("/api/v1/messages", json={"sender": "+50688887777", "text": "ASYLUM CR",
                                                     "channel": channel}).json()
        answer = client.app.state.knowledge.get().answer("asylum", "CR", body["understanding"]["language"])
        [reply] = body["replies"]
        assert reply["text"].startswith(answer.whatsapp)  # the whole WhatsApp text, *title* and all, in one reply
        assert body["understanding"]["country"] == "CR"


def test_api_goes_through_the_same_keywords(client) -> None:
    client.post("/api/v1/messages", json={"sender": "+50760000001", "text": "STOP", "channel": "sms"})
    body = client.post("/api/v1/messages", json={"sender": "+50760000001", "text": "hola", "channel": "sms"}).json()
    assert body["replies"] == [] and body["understanding"]["intent"] == "opted_out"


@pytest.mark.parametrize("payload", [{}, {"sender": "", "text": "x"}, {"sender": "a", "text": "x", "channel": "fax"}])
def test_api_rejects_bad_requests(client, payload: dict) -> None:
    assert client.post("/api/v1/messages", json=payload).status_code == 422


def test_api_needs_the_bearer_token_when_one_is_set(database_url: str) -> None:
    settings = make_settings(database_url, api_token="s3cret-token")
    with TestClient(create_app(settings), base_url=BASE) as client:
        payload = {"sender": "+5215512345678", "text": "hola"}
        assert client.post("/api/v1/messages", json=payload).status_code == 401
        wrong = {"authorization": "Bearer nope"}
        assert client.post("/api/v1/messages", json=payload, headers=wrong).status_code == 401
        right = {"authorization": "Bearer s3cret-token"}
        assert client.post("/api/v1/messages", json=payload, headers=right).status_code == 200


def test_health_and_readiness(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["database"] == "ok"
    assert len(body["knowledge"]["version"]) == 12 and body["knowledge"]["loaded_at"]
    assert body["engine"]["name"] == "embedded" and body["engine"]["embedded_examples"] > 3000
    assert body["engine"]["rasa_reachable"] is None and body["engine"]["fallbacks"] == 0


def test_readiness_fails_when_the_database_is_gone(tmp_path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'x.db'}")
    with TestClient(create_app(settings), base_url=BASE) as client:
        client.app.state.engine.dispose()
        (tmp_path / "x.db").unlink()
        (tmp_path / "x.db").mkdir()  # a directory where the database file was: unreachable
        assert client.get("/readyz").status_code == 503


def test_admin_reload_needs_a_configured_token(client) -> None:
    assert client.post("/admin/content/reload").status_code == 403


def test_admin_reload_refuses_broken_content_and_keeps_serving(database_url: str, tmp_path) -> None:
    import shutil

    from app.config import ROOT

    content = shutil.copytree(ROOT / "content", tmp_path / "content")
    settings = make_settings(database_url, api_token="admin-token", content_dir=content, content_watch_seconds=0)
    auth = {"authorization": "Bearer admin-token"}
    with TestClient(create_app(settings), base_url=BASE) as client:
        assert client.post("/admin/content/reload").status_code == 401
        good = client.post("/admin/content/reload", headers=auth)
        assert good.status_code == 200
        version = good.json()["version"]
        path = content / "answers" / "MX.yaml"
        path.write_text(path.read_text().replace("topic: asylum", "topic: asilo", 1))
        refused = client.post("/admin/content/reload", headers=auth)
        assert refused.status_code == 422
        assert refused.json()["serving"] == version
        assert any(e.startswith("content/answers/MX.yaml:") for e in refused.json()["errors"])
        ready = client.get("/readyz").json()
        assert ready["knowledge"]["version"] == version and "MX.yaml" in ready["knowledge"]["last_error"]
        reply = client.post("/api/v1/messages", json={"sender": "+5215512345678", "text": "ASILO MX",
                                                       "channel": "whatsapp"}, headers=auth).json()
        assert reply["understanding"]["topic"] == "asylum" and "COMAR" in reply["replies"][0]["text"]


def test_metrics_count_what_happened(client) -> None:
    from tests.conftest import form_of, new_sid, post_signed

    sid = new_sid()
    post_signed(client, form_of("sms_text", MessageSid=sid))
    post_signed(client, form_of("sms_text", MessageSid=sid))  # a duplicate
    post_signed(client, form_of("whatsapp_text", MessageSid=new_sid(), Body="STOP"))
    post_signed(client, form_of("sms_text", MessageSid=new_sid()), signature="forged")
    client.post("/api/v1/messages", json={"sender": "+50688880000", "text": "necesito trabajo", "channel": "web"})
    text = client.get("/metrics").text
    for line in ('migrantinfo_inbound_messages_total{channel="sms"} 1.0',
                 'migrantinfo_inbound_messages_total{channel="whatsapp"} 1.0',
                 'migrantinfo_inbound_messages_total{channel="web"} 1.0',
                 "migrantinfo_duplicates_absorbed_total 1.0", "migrantinfo_opt_outs_total 1.0",
                 "migrantinfo_signature_failures_total 1.0", 'migrantinfo_message_seconds_count{channel="sms"} 1.0',
                 'migrantinfo_engine_seconds_count{engine="embedded"} 1.0'):
        assert line in text, line


def test_metrics_need_the_token_when_one_is_set(database_url: str) -> None:
    settings = make_settings(database_url, api_token="metrics-token")
    with TestClient(create_app(settings), base_url=BASE) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"authorization": "Bearer metrics-token"}).status_code == 200
