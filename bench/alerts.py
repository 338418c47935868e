"""Alert benchmark: one alert to 10,000 subscribers through the real queue, a worker killed halfway.

Run from the project root: `.venv/bin/python bench/alerts.py [--subscribers 10000] [--queue sqlite|redis]
[--database-url postgresql://...]`. The loopback Twilio answers like the Messages API with `--latency` per
request; SMS and WhatsApp senders are limited to `--sms-mps` and `--whatsapp-mps`. Prints run time, messages per
second and the checks: exactly one message per eligible subscriber, none to the opted-out, templates where the
WhatsApp window is closed, and the rate limit never exceeded.
"""

import argparse
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from app.main import create_app  # noqa: E402
from app.outbound.alerts import counts  # noqa: E402
from app.outbound.ratelimit import SenderLimits  # noqa: E402
from app.storage.db import make_engine, upgrade  # noqa: E402
from tests.conftest import BASE, Worker, queue_settings  # noqa: E402
from tests.fake_twilio import FakeTwilio, busiest_window  # noqa: E402
from tests.population import add_subscribers  # noqa: E402

SMS_FROM, WHATSAPP_FROM = "+5255000001", "whatsapp:+5255000000"
TEXTS = {"es": "Cierre temporal del cruce fronterizo de Ciudad Hidalgo. Siga las indicaciones oficiales.",
         "en": "The Ciudad Hidalgo border crossing is closed for now. Follow official instructions.",
         "fr": "Le passage frontalier de Ciudad Hidalgo est fermé pour le moment. Suivez les consignes officielles."}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--queue", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the loopback Twilio takes per request")
    parser.add_argument("--sms-mps", type=int, default=100, help="e.g. a short code")
    parser.add_argument("--whatsapp-mps", type=int, default=80)
    parser.add_argument("--loops", type=int, default=24)
    parser.add_argument("--no-kill", action="store_true", help="do not kill the worker halfway")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="migrantinfo-bench-alerts-"))
    database_url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    # The loopback Twilio enforces the same limits on arrival (a strict 1 s window): a 429 there is our limit missed.
    with FakeTwilio(latency=args.latency, mps={SMS_FROM: args.sms_mps, WHATSAPP_FROM: args.whatsapp_mps}) as fake:
        settings = queue_settings(database_url, args.queue, fake.url, tmp, sms_mps=args.sms_mps,
                                  whatsapp_mps=args.whatsapp_mps, alert_loops=args.loops,
                                  queue_workers=args.loops + 2, alert_lease_seconds=5.0, log_level="WARNING")
        engine = make_engine(settings.database_url)
        upgrade(engine)
        if engine.dialect.name == "postgresql":
            from sqlalchemy import text

            with engine.begin() as conn:
                conn.execute(text("TRUNCATE alert_deliveries, alerts, subscriptions, handovers, messages, contacts, "
                                  "delivery_statuses RESTART IDENTITY CASCADE"))
        people = add_subscribers(engine, settings, count=args.subscribers, opted_out_every=50)
        fake.in_window.update(p["address"] for p in people if p["channel"] == "whatsapp" and not p["stale"])
        eligible = [p for p in people if not p["opted_out"]]
        print(f"{len(people)} subscribers: {len(eligible)} eligible, {len(people) - len(eligible)} opted out, "
              f"{sum(p['stale'] for p in eligible)} on WhatsApp outside the 24-hour window; "
              f"{engine.dialect.name} database, {args.queue} queue, Twilio latency {args.latency * 1000:.0f} ms, "
              f"limits SMS {args.sms_mps}/s WhatsApp {args.whatsapp_mps}/s, {args.loops} sending loops")

        worker = Worker(settings, tmp).start()
        time.sleep(1.5)  # the worker's start, as in production it is already running
        started, started_at = time.monotonic(), time.time()
        with TestClient(create_app(settings), base_url=BASE) as client:
            alert_id = client.post("/api/v1/alerts", json={"country": "MX", "texts": TEXTS},
                                   headers={"authorization": "Bearer test-api-token"}).json()["id"]
        killed_at = None
        try:
            while True:
                result = counts(engine, alert_id)
                if killed_at is None and not args.no_kill and len(fake.accepted) >= len(eligible) // 2:
                    worker.kill()
                    killed_at = (len(fake.accepted), time.monotonic() - started)
                    worker.start()
                if result["pending"] == 0:
                    break
                if worker.process.poll() is not None:
                    raise SystemExit("the worker died:\n" + worker.log()[-2000:])
                time.sleep(0.5)
        finally:
            elapsed = time.monotonic() - started
            worker.stop()

    received = Counter(m["To"] for m in fake.accepted)
    eligible_set = {p["address"] for p in eligible}
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    to_opted_out = sum(1 for p in people if p["opted_out"] and received[p["address"]])
    missing = sum(1 for a in eligible_set if not received[a])
    by_address = {m["To"]: m for m in fake.accepted}
    wrong_kind = sum(1 for p in eligible if p["address"] in by_address
                     and bool(by_address[p["address"]].get("ContentSid")) != p["stale"])
    busiest = {sender: busiest_window([r["at"] for r in fake.requests if r["From"] == sender], 1.0)
               for sender in (SMS_FROM, WHATSAPP_FROM)}
    peaks = {sender: peak for sender, (peak, _) in busiest.items()}
    reconciled = len(re.findall(r"was already sent", worker.log()))
    print()
    print(f"alert {alert_id}: {result['queued']} queued at Twilio, {result['failed']} failed, "
          f"{result['skipped']} skipped, in {elapsed:.1f} s = {len(fake.accepted) / elapsed:.0f} messages/s")
    if killed_at:
        print(f"worker killed (SIGKILL) after {killed_at[0]} messages at {killed_at[1]:.1f} s, restarted at once; "
              f"{reconciled} in-flight deliveries found already sent at Twilio on recovery")
    print(f"requests to Twilio: {len(fake.requests)} for {len(fake.accepted)} messages "
          f"({fake.rate_violations} answered 429 by the loopback Twilio's own 1 s window, and sent again)")
    print(f"exactly once: missing {missing}, duplicates {duplicates}, to opted-out {to_opted_out}, "
          f"template mismatches {wrong_kind}")
    for sender, peak in peaks.items():
        limit = args.whatsapp_mps if sender.startswith("whatsapp:") else args.sms_mps
        share = sum(1 for m in fake.accepted if m["From"] == sender)
        print(f"{sender}: {share} messages, busiest 1 s window of arrivals at Twilio {peak} (limit {limit}/s, "
              f"at most {SenderLimits(settings).per_second(sender)} in flight or completed within 1 s): "
              f"{'held' if peak <= limit else 'EXCEEDED'} (at {busiest[sender][1] - started_at:.1f} s)")
    ideal = max(sum(1 for p in eligible if p["channel"] == "sms") / args.sms_mps,
                sum(1 for p in eligible if p["channel"] == "whatsapp") / args.whatsapp_mps)
    print(f"Twilio's rates alone allow it in {ideal:.1f} s: the run took {elapsed / ideal:.2f}x that "
          f"(with {settings.rate_headroom:.0%} headroom kept under each rate)")
    ok = not (missing or duplicates or to_opted_out or wrong_kind) and all(
        peak <= (args.whatsapp_mps if s.startswith("whatsapp:") else args.sms_mps) for s, peak in peaks.items())
    print("RESULT:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
