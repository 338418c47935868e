"""Alerts: subscribing by keyword, and sending on the real queue (SQLite and Redis) to the loopback Twilio."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.channels.render import sms_info, to_gsm7
from app.crypto import box_for
from app.main import create_app
from app.outbound.alerts import counts
from app.storage.db import make_engine
from app.storage.models import CONTACTS, DELIVERIES, SUBSCRIPTIONS
from tests.conftest import (
    BASE,
    ROOT,
    Worker,
    form_of,
    new_sid,
    post_signed,
    queue_settings,
    settings_env,
    wait_for,
)
from tests.fake_twilio import FakeTwilio, max_in_window
from tests.population import add_subscribers

ADMIN = {"authorization": "Bearer test-api-token"}


def say(client: TestClient, text: str, address: str = "+529629876543") -> str:
    form = form_of("whatsapp_text" if address.startswith("whatsapp:") else "sms_text", Body=text,
                   From=address, MessageSid=new_sid(), SmsMessageSid="", SmsSid="")
    response = post_signed(client, form)
    assert response.status_code == 200, response.text
    return response.text


def subscriptions(settings) -> list[dict]:  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(SUBSCRIPTIONS)).mappings()]
    engine.dispose()
    return rows


def test_alert_keywords_subscribe_and_unsubscribe(client: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    assert "alertas de México" in say(client, "ALERTAS")  # the country of the number
    assert "Ya recibe las alertas de México" in say(client, "alertas")
    assert "Guatemala" in say(client, "ALERTAS GT")
    rows = subscriptions(settings)
    assert sorted(r["country"] for r in rows) == ["GT", "MX"]
    box = box_for(settings.address_keys, settings.hash_secret)
    for row in rows:
        assert "9629876543" not in row["address_encrypted"]  # never in clear
        assert box.open(row["address_encrypted"]) == "+529629876543"
        assert row["sender"] == "+529621234567"  # replies leave from the number the person wrote to
    assert "No recibira mas alertas" in say(client, "ALERTAS NO GT")
    assert [r["country"] for r in subscriptions(settings)] == ["MX"]
    say(client, "STOP")  # STOP ends everything
    assert subscriptions(settings) == []


def test_alert_keywords_in_other_languages(client: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    assert "alerts for Costa Rica" in say(client, "ALERTS CR", "whatsapp:+50688887777")
    assert "alertes" in say(client, "ALERTES HT", "+50937000001").lower()
    assert "You will not get alerts any more" in say(client, "STOP ALERTS", "whatsapp:+50688887777")
    assert "Which country" in say(client, "ALERTS", "+447700900123")  # no country known for this number
    assert len(subscriptions(settings)) == 1


def test_erasing_a_person_removes_their_subscriptions_and_hand_over(client: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    from app.outbound.handovers import queue

    say(client, "ALERTAS")
    say(client, "PERSONA")
    assert len(queue(client.app.state.engine)) == 1
    assert " SI " in say(client, "BORRAR")  # asked to confirm, even while a person has the conversation
    say(client, "SI")
    assert subscriptions(settings) == [] and queue(client.app.state.engine) == []


@pytest.fixture
def fake_twilio():  # type: ignore[no-untyped-def]
    with FakeTwilio() as fake:
        yield fake


def run_alert(settings, texts: dict[str, str], *, country: str = "MX") -> int:  # type: ignore[no-untyped-def]
    with TestClient(create_app(settings), base_url=BASE) as client:
        response = client.post("/api/v1/alerts", json={"country": country, "texts": texts}, headers=ADMIN)
        assert response.status_code == 202, response.text
        return int(response.json()["id"])


def wait_done(settings, alert_id: int, *, timeout: float = 60, worker: Worker | None = None) -> dict:  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)
    try:
        def done() -> dict | None:
            if worker is not None and worker.process is not None and worker.process.poll() is not None:
                raise AssertionError("the worker died:\n" + worker.log()[-3000:])
            result = counts(engine, alert_id)
            return result if result["pending"] == 0 else None
        return wait_for(done, timeout=timeout, what=f"alert {alert_id}", every=0.2)
    finally:
        engine.dispose()


TEXTS = {"es": "Cierre temporal de la frontera en Tapachula. Más información: acnur.org.", "en": "Border crossing at Tapachula closed for now.",
         "fr": "Frontière fermée à Tapachula pour le moment."}


def test_alert_reaches_every_subscriber_once_in_their_language(database_url, queue_storage, fake_twilio,  # type: ignore[no-untyped-def]
                                                               tmp_path: Path) -> None:
    settings = queue_settings(database_url, queue_storage, fake_twilio.url, tmp_path)
    engine = make_engine(settings.database_url)
    people = add_subscribers(engine, settings, count=60, opted_out_every=10)
    engine.dispose()
    fake_twilio.in_window.update(p["address"] for p in people if p["channel"] == "whatsapp" and not p["stale"])
    alert_id = run_alert(settings, TEXTS)
    with Worker(settings, tmp_path) as worker:
        result = wait_done(settings, alert_id, worker=worker)
    eligible = [p for p in people if not p["opted_out"]]
    assert result["queued"] == result["total"] == len(eligible) == 54
    for person in people:
        got = fake_twilio.to(person["address"])
        if person["opted_out"]:
            assert got == []
            continue
        assert len(got) == 1, person
        message = got[0]
        language = person["language"] if person["language"] in TEXTS else "fr"  # ht falls back to French
        if person["stale"]:  # outside WhatsApp's 24-hour window: the approved template of their language
            assert message["ContentSid"] == settings.whatsapp_alert_templates[language]
            assert "Body" not in message
            assert TEXTS[language] in json.loads(message["ContentVariables"])["1"]
        elif person["channel"] == "whatsapp":
            assert TEXTS[language] in message["Body"] and "ContentSid" not in message
        else:  # SMS in GSM-7, as every SMS of the assistant: "Más" costs a UCS-2 message three times the segments
            assert to_gsm7(TEXTS[language]) in message["Body"] and sms_info(message["Body"]).encoding == "GSM-7"
        assert message["StatusCallback"] == "https://bot.example.org/webhooks/twilio/status"
        assert message["From"] == ("whatsapp:+5255000000" if person["channel"] == "whatsapp" else "+5255000001")


def test_status_callbacks_roll_up_into_the_alert(database_url, fake_twilio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = queue_settings(database_url, "sqlite", fake_twilio.url, tmp_path, twilio_auth_token="test-auth-token-0123456789")
    engine = make_engine(settings.database_url)
    people = add_subscribers(engine, settings, count=10, stale_every=0)
    engine.dispose()
    fake_twilio.in_window.update(p["address"] for p in people)
    alert_id = run_alert(settings, {"es": "Prueba"})
    with Worker(settings, tmp_path) as worker:
        wait_done(settings, alert_id, worker=worker)
    sids = [m["sid"] for m in fake_twilio.accepted]
    plan = ["sent", "delivered", "delivered", "read", "read", "read", "failed", "undelivered", "sent", "sent"]
    with TestClient(create_app(settings), base_url=BASE) as client:
        for sid, status in zip(sids, plan, strict=True):
            extra = {"ErrorCode": "30003"} if status in ("failed", "undelivered") else {}
            form = form_of("status_delivered", MessageSid=sid, SmsSid=sid, MessageStatus=status, SmsStatus=status,
                           **extra)
            assert post_signed(client, form, "/webhooks/twilio/status").status_code == 204
        # a late "sent" does not move a read message back
        post_signed(client, form_of("status_delivered", MessageSid=sids[3], SmsSid=sids[3], MessageStatus="sent",
                                    SmsStatus="sent"), "/webhooks/twilio/status")
        body = client.get(f"/api/v1/alerts/{alert_id}", headers=ADMIN).json()
    assert body["status"] == "done"
    assert {k: body["counts"][k] for k in ("queued", "sent", "delivered", "read", "failed")} == \
        {"queued": 0, "sent": 3, "delivered": 2, "read": 3, "failed": 2}
    assert body["failures"] == {"30003": 2}


def test_worker_killed_mid_send_restarts_without_duplicates(database_url, queue_storage, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with FakeTwilio(latency=0.01) as fake:
        settings = queue_settings(database_url, queue_storage, fake.url, tmp_path, sms_mps=40, whatsapp_mps=40)
        engine = make_engine(settings.database_url)
        people = add_subscribers(engine, settings, count=240, opted_out_every=20)
        engine.dispose()
        fake.in_window.update(p["address"] for p in people if p["channel"] == "whatsapp" and not p["stale"])
        alert_id = run_alert(settings, TEXTS)
        worker = Worker(settings, tmp_path).start()
        try:
            wait_for(lambda: len(fake.accepted) >= 100, timeout=60, what="half of the alert")
            worker.kill()  # SIGKILL: no chance to tidy up
            killed_at = len(fake.accepted)
            worker.start()
            result = wait_done(settings, alert_id, worker=worker, timeout=90)
        finally:
            worker.stop()
        eligible = [p for p in people if not p["opted_out"]]
        assert killed_at < len(eligible)
        assert result["queued"] == len(eligible) == 228
        addressed = [m["To"] for m in fake.accepted]
        assert sorted(addressed) == sorted(p["address"] for p in eligible)  # exactly once each
        for sender in ("+5255000001", "whatsapp:+5255000000"):
            times = [r["at"] for r in fake.requests if r["From"] == sender]
            assert max_in_window(times, 1.0) <= 40


def test_retries_on_429_and_5xx_and_records_permanent_failures(database_url, fake_twilio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = queue_settings(database_url, "sqlite", fake_twilio.url, tmp_path, queue_workers=2)
    engine = make_engine(settings.database_url)
    people = add_subscribers(engine, settings, count=12, stale_every=0)
    engine.dispose()
    whatsapp = [p["address"] for p in people if p["channel"] == "whatsapp"]
    sms = [p["address"] for p in people if p["channel"] == "sms"]
    fake_twilio.in_window.update(whatsapp[1:])  # the first one's window closed on Twilio's side: 63016
    fake_twilio.opted_out.add(sms[0])  # opted out at the carrier: 21610
    fake_twilio.fail_next(429, retry_after=1)
    fake_twilio.fail_next(500)
    fake_twilio.fail_next(503)
    alert_id = run_alert(settings, {"es": "Prueba de reintentos"})
    with Worker(settings, tmp_path) as worker:
        result = wait_done(settings, alert_id, worker=worker)
    assert result["queued"] == 10 and result["failed"] == 2
    with TestClient(create_app(settings), base_url=BASE) as client:
        assert client.get(f"/api/v1/alerts/{alert_id}", headers=ADMIN).json()["failures"] == {"21610": 1, "63016": 1}
    assert len(fake_twilio.requests) == 12 + 3 + 0  # every message once more per forced failure
    assert sorted(m["To"] for m in fake_twilio.accepted) == sorted(whatsapp[1:] + sms[1:])
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:  # the carrier's STOP is remembered: no more alerts to that number
        opted = conn.execute(select(CONTACTS.c.opted_out).where(CONTACTS.c.opted_out.is_(True))).all()
    engine.dispose()
    assert len(opted) == 1


def test_the_cli_sends_and_follows_an_alert(database_url, fake_twilio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = queue_settings(database_url, "sqlite", fake_twilio.url, tmp_path)
    engine = make_engine(settings.database_url)
    people = add_subscribers(engine, settings, count=8, stale_every=0)
    engine.dispose()
    fake_twilio.in_window.update(p["address"] for p in people)
    with Worker(settings, tmp_path):
        done = subprocess.run([sys.executable, "-m", "app.cli", "alerts", "send", "--country", "mx", "--text",
                               "es=Aviso de prueba", "--text", "en=Test notice", "--yes", "--timeout", "60"],
                              env=settings_env(settings), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "--- es: 2 subscribers" in done.stdout and "--- en: 6 subscribers" in done.stdout  # fr, ht: en
    assert "ALERTA (México)" in done.stdout and "Aviso de prueba" in done.stdout
    assert "8/8" in done.stdout and "queued 8" in done.stdout
    assert len(fake_twilio.accepted) == 8
    bad = subprocess.run([sys.executable, "-m", "app.cli", "alerts", "send", "--country", "XX", "--text", "es=x",
                          "--yes"], env=settings_env(settings), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown country 'XX'" in bad.stderr


def test_the_alerts_api_refuses_bad_alerts_and_needs_the_token(settings) -> None:  # type: ignore[no-untyped-def]
    settings = settings.model_copy(update={"api_token": "test-api-token"})
    with TestClient(create_app(settings), base_url=BASE) as client:
        assert client.post("/api/v1/alerts", json={"country": "MX", "texts": {"es": "x"}}).status_code == 401
        for body, reason in (({"country": "XX", "texts": {"es": "x"}}, "unknown country"),
                             ({"country": "MX", "texts": {"xx": "x"}}, "unknown language"),
                             ({"country": "MX", "texts": {"es": " "}}, "at least one language"),
                             ({"country": "MX", "texts": {"es": "x" * 901}}, "at most 900")):
            response = client.post("/api/v1/alerts", json=body, headers=ADMIN)
            assert response.status_code == 422 and reason in response.json()["detail"]
        assert client.get("/api/v1/alerts/999", headers=ADMIN).status_code == 404
        preview = client.post("/api/v1/alerts/preview", json={"country": "MX", "texts": {"es": "Aviso"}},
                              headers=ADMIN).json()
        assert preview[0]["recipients"] == 0 and preview[0]["sms_segments"] == 1
        assert preview[0]["text"].startswith("ALERTA (México)")


def test_operators_write_preview_send_and_follow_an_alert_in_the_console(database_url, fake_twilio,  # type: ignore[no-untyped-def]
                                                                         tmp_path: Path) -> None:
    from app.console import auth
    from tests.console.test_console import PASSWORD, log_in

    settings = queue_settings(database_url, "sqlite", fake_twilio.url, tmp_path)
    engine = make_engine(settings.database_url)
    people = add_subscribers(engine, settings, count=6, whatsapp_every=3, stale_every=1)
    engine.dispose()
    fake_twilio.in_window.update(p["address"] for p in people if not p["stale"])
    with TestClient(create_app(settings), base_url=BASE) as client:
        auth.add_user(client.app.state.engine, name="ana", password=PASSWORD, role="operator")
        log_in(client, "ana")
        page = client.get("/console/alerts")
        assert "México 6" in page.text  # who an alert would reach now
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        form = {"csrf_token": token, "country": "MX", "text_es": "Lluvias fuertes en Tapachula.",
                "text_en": "Heavy rain in Tapachula."}
        bad = client.post("/console/alerts/preview", data={**form, "text_es": "", "text_en": ""})
        assert bad.status_code == 422 and "escriba la alerta en al menos un idioma" in bad.text
        preview = client.post("/console/alerts/preview?lang=en", data=form)
        assert preview.status_code == 200
        assert "ALERTA (México)" in preview.text and "Heavy rain in Tapachula." in preview.text
        # es: people 0 and 4 (0 on WhatsApp, outside the window); en: 1, 5, and 2 (fr), 3 (ht, on WhatsApp)
        assert "es · 2 subscribers · 1 by WhatsApp template" in preview.text
        assert "en · 4 subscribers · 1 by WhatsApp template" in preview.text
        sent = client.post("/console/alerts", data=form, follow_redirects=False)
        assert sent.status_code == 303
        alert_page = sent.headers["location"]
        assert 'data-count="pending">6<' in client.get(alert_page).text
        with Worker(settings, tmp_path) as worker:
            wait_done(settings, int(alert_page.rsplit("/", 1)[1]), worker=worker)
        page = client.get(alert_page).text
        assert 'data-count="queued">6<' in page and 'http-equiv="refresh"' not in page
    assert len(fake_twilio.accepted) == 6


def test_serve_starts_a_queue_worker_that_sends_alerts_and_stops_with_it(fake_twilio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """What `make run` runs: the server, with the worker beside it on the SQLite queue."""

    import httpx

    from tests.conftest import free_port

    settings = queue_settings(f"sqlite:///{tmp_path / 'serve.db'}", "sqlite", fake_twilio.url, tmp_path)
    port = free_port()
    with (tmp_path / "serve.log").open("ab") as log:
        server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                                  env=settings_env(settings), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        def ready() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=60, what="migrantinfo serve")
        children = [int(pid) for task in Path(f"/proc/{server.pid}/task").iterdir()
                    for pid in (task / "children").read_text().split()]
        assert children, "serve started no worker"
        engine = make_engine(settings.database_url)
        people = add_subscribers(engine, settings, count=4, stale_every=0)
        engine.dispose()
        fake_twilio.in_window.update(p["address"] for p in people)
        response = httpx.post(f"http://127.0.0.1:{port}/api/v1/alerts", headers=ADMIN, timeout=10,
                              json={"country": "MX", "texts": {"es": "Aviso"}})
        assert response.status_code == 202
        wait_done(settings, response.json()["id"])
        assert len(fake_twilio.accepted) == 4
    finally:
        server.terminate()
        server.wait(timeout=30)

    def gone() -> bool:
        return not any(Path(f"/proc/{pid}").exists() and "zombie" not in
                       Path(f"/proc/{pid}/status").read_text().lower() for pid in children)

    wait_for(gone, timeout=20, what="the worker to stop with the server")


def test_an_alert_written_while_the_queue_is_down_is_sent_once_it_is_back(fake_twilio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    database_url = f"sqlite:///{tmp_path / 'down.db'}"
    settings = queue_settings(database_url, "redis", fake_twilio.url, tmp_path)
    engine = make_engine(settings.database_url)
    people = add_subscribers(engine, settings, count=6, stale_every=0)
    fake_twilio.in_window.update(p["address"] for p in people)
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})  # nothing listens on port 1
    alert_id = run_alert(down, {"es": "Aviso"})  # still 202: the alert and its deliveries are stored
    assert counts(engine, alert_id)["pending"] == 6
    with Worker(settings, tmp_path) as worker:  # the worker's recovery finds it
        result = wait_done(settings, alert_id, worker=worker, timeout=30)
    engine.dispose()
    assert result["queued"] == 6 and len(fake_twilio.accepted) == 6


def test_a_taken_over_delivery_is_looked_up_at_twilio_before_it_is_sent(database_url, fake_twilio,  # type: ignore[no-untyped-def]
                                                                        tmp_path: Path) -> None:
    """Two deliveries left claimed by a dead worker: one reached Twilio before it died, one did not (that person
    only got a bot reply meanwhile, which must not be taken for the alert)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from app.outbound import alerts
    from app.outbound.delivery import Deliverer

    settings = queue_settings(database_url, "sqlite", fake_twilio.url, tmp_path)
    engine = make_engine(settings.database_url)
    reached, missed = (p["address"] for p in add_subscribers(engine, settings, count=2, whatsapp_every=0))
    text = "ALERTA (México)\n\nAviso de prueba"
    alert_id = alerts.create(engine, country="MX", composed={"es": text}, created_by="test")
    earlier = datetime.now(UTC) - timedelta(seconds=10)
    with engine.begin() as conn:
        conn.execute(update(DELIVERIES).values(status="claimed", attempts=1, claimed_at=earlier,
                                                      lease_until=earlier + timedelta(seconds=2)))
    for to, body in ((reached, to_gsm7(text)), (missed, "Escriba MENU para ver los temas.")):
        fake_twilio.accepted.append({"To": to, "From": "+5255000001", "Body": body, "sid": new_sid(),
                                     "at": earlier.timestamp(), "created": earlier + timedelta(seconds=1)})
    Deliverer(settings, engine).run(alert_id)
    assert len(fake_twilio.to(reached)) == 1  # found at Twilio: not sent again
    assert [m["Body"] for m in fake_twilio.to(missed)][-1] == to_gsm7(text)  # the bot's reply was not the alert
    assert counts(engine, alert_id)["queued"] == 2
    engine.dispose()
