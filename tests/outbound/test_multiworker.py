"""Several app workers (uvicorn --workers 4) and queue workers over shared PostgreSQL and Redis."""

import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select, text

from app.storage.db import make_engine
from app.storage.models import MESSAGES
from tests.conftest import (
    REDIS_URL,
    ROOT,
    Worker,
    form_of,
    free_port,
    make_settings,
    new_sid,
    queue_settings,
    require_redis,
    settings_env,
    sign,
    wait_for,
)
from tests.fake_twilio import FakeTwilio, max_in_window
from tests.outbound.test_alerts import run_alert, wait_done
from tests.population import add_subscribers


@pytest.fixture
def shared(postgres_url: str | None) -> str:
    """A clean PostgreSQL database and a reachable Redis: what several machines share."""
    if postgres_url is None:
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail("REQUIRE_POSTGRES is set but TEST_DATABASE_URL names no PostgreSQL database")
        pytest.skip("TEST_DATABASE_URL names no PostgreSQL database")
    require_redis()
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE alert_deliveries, alerts, subscriptions, handovers, messages, contacts, "
                          "delivery_statuses RESTART IDENTITY CASCADE"))
    engine.dispose()
    return postgres_url


class AppWorkers:
    """`uvicorn app.main:create_app --factory --workers N` as a real process tree."""

    def __init__(self, settings, log: Path, workers: int = 4) -> None:  # type: ignore[no-untyped-def]
        self.port = free_port()
        self.env = settings_env(settings)
        self.env["PROMETHEUS_MULTIPROC_DIR"] = str(log.parent / f"metrics-{self.port}")
        Path(self.env["PROMETHEUS_MULTIPROC_DIR"]).mkdir()
        self.log = log
        self.workers = workers

    def __enter__(self) -> "AppWorkers":
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--workers", str(self.workers),
                 "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
                env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

        def ready() -> bool:
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=90, what="uvicorn with 4 workers", every=0.3)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def test_duplicate_deliveries_to_several_workers_give_one_reply(shared: str, tmp_path: Path) -> None:
    settings = make_settings(shared, redis_url=REDIS_URL, content_watch_seconds=0)
    form = form_of("sms_text", Body="ASILO MX", MessageSid=new_sid(), SmsMessageSid="", SmsSid="")
    body = urlencode(form)
    headers = {"content-type": "application/x-www-form-urlencoded",
               "x-twilio-signature": sign("https://bot.example.org/webhooks/twilio", form)}
    with AppWorkers(settings, tmp_path / "uvicorn.log") as app:
        def deliver(_: int) -> tuple[int, str]:
            with httpx.Client(base_url=app.url, timeout=20) as http:  # a new connection each: any worker
                response = http.post("/webhooks/twilio", content=body, headers=headers)
                return response.status_code, response.text

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(deliver, range(32)))
        metrics = httpx.get(f"{app.url}/metrics", timeout=10).text  # summed over the four workers
    assert 'migrantinfo_inbound_messages_total{channel="sms"} 1.0' in metrics
    assert "migrantinfo_duplicates_absorbed_total 31.0" in metrics
    assert {status for status, _ in answers} == {200}
    replies = {reply for _, reply in answers}
    assert len(replies) == 1 and "<Message>" in replies.pop()  # every copy got the same, real reply
    engine = make_engine(shared)
    with engine.connect() as conn:
        inbound = conn.execute(select(func.count()).where(MESSAGES.c.direction == "in")).scalar_one()
        outbound = conn.execute(select(func.count()).where(MESSAGES.c.direction == "out")).scalar_one()
    engine.dispose()
    assert inbound == 1 and outbound == 1

    # a restart loses nothing: a late retry of the same MessageSid after it is answered with what was stored
    with AppWorkers(settings, tmp_path / "uvicorn2.log", workers=2) as app:
        again = httpx.post(f"{app.url}/webhooks/twilio", content=body, headers=headers, timeout=20)
    assert again.status_code == 200 and again.text == answers[0][1]


def test_two_queue_workers_share_the_rate_limit_and_never_send_twice(shared: str, tmp_path: Path) -> None:
    with FakeTwilio(latency=0.005) as fake:
        # two threads per worker process and four sending loops: each process runs two of them
        settings = queue_settings(shared, "redis", fake.url, tmp_path, sms_mps=25, whatsapp_mps=25, queue_workers=2,
                                  alert_loops=4)
        engine = make_engine(settings.database_url)
        people = add_subscribers(engine, settings, count=150, stale_every=0)
        engine.dispose()
        fake.in_window.update(p["address"] for p in people)
        with Worker(settings, tmp_path, "worker-a") as a, Worker(settings, tmp_path, "worker-b") as b:
            for worker in (a, b):
                wait_for(lambda w=worker: "queue worker: redis storage" in w.log(), timeout=30, what="a worker")
            started = time.monotonic()
            alert_id = run_alert(settings, {"es": "Aviso"})
            result = wait_done(settings, alert_id, worker=b, timeout=60)
            elapsed = time.monotonic() - started
            wait_for(lambda: len(re.findall(r"this loop sent", a.log() + b.log())) == 4, timeout=10,
                     what="the four loops to end")
    assert result["queued"] == 150
    assert sorted(m["To"] for m in fake.accepted) == sorted(p["address"] for p in people)
    for sender in ("+5255000001", "whatsapp:+5255000000"):
        times = [r["at"] for r in fake.requests if r["From"] == sender]
        assert len(times) == 75 and max_in_window(times, 1.0) <= 25
    assert elapsed > 75 / 25 - 1  # the limit held: 75 messages per sender at 25 per second take about 3 s
    for name in ("worker-a", "worker-b"):  # both processes sent some, under the one limit
        assert re.search(r"this loop sent [1-9]", (tmp_path / f"{name}.log").read_text()), name
