"""Insights benchmark: a year of messages in a database, then the time of each insights query.

Run from the project root: `.venv/bin/python bench/console.py [--rows 300000] [--database-url URL]`.
Without --database-url a fresh SQLite file is made in a temporary folder (and removed at the end); with a
PostgreSQL URL, the tables of that (scratch!) database are emptied and filled.
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, insert, text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.console.insights import sql as insights  # noqa: E402
from app.storage.db import make_engine, upgrade  # noqa: E402
from app.storage.models import Contact, DeliveryStatus, Message, utcnow  # noqa: E402

CHANNELS = (("whatsapp", 60), ("sms", 35), ("web", 5))
COUNTRIES = (("MX", 30), ("GT", 15), ("HN", 10), ("HT", 12), ("CR", 8), ("PA", 8), ("SV", 5), (None, 12))
TOPICS = ("asylum", "documents", "work", "health", "education", "emergency", "services", "return", "missing",
          "disasters", "violence", "trafficking", "scams", "children")
LANGUAGES = (("es", 60), ("en", 10), ("ht", 15), ("fr", 5), ("pt", 5), ("nl", 5))
STEMS = ("¿Dónde puedo {verb} {thing} en {place}?", "quiero {verb} {thing}", "how do I {verb} {thing} in {place}",
         "Kote m ka {verb} {thing}?", "{thing} {place} por favor", "preciso {verb} {thing}")
VERBS = ("vender", "comprar", "alquilar", "arreglar", "encontrar", "buy", "sell", "rent", "fix", "find")
THINGS = ("mi carro", "una casa", "un teléfono", "bitcoin", "mi perro", "a bike", "una moto", "tickets", "comida")
PLACES = ("Tapachula", "Panamá", "Costa Rica", "Guatemala", "Port-au-Prince")


def pick(weighted: tuple) -> object:
    values, weights = zip(*weighted, strict=True)
    return random.choices(values, weights)[0]


def fill(engine: Engine, rows: int, *, batch: int = 20_000) -> None:
    """`rows` inbound messages spread over 365 days in time order, with contacts and delivery statuses."""
    with engine.begin() as conn:
        for table in (DeliveryStatus, Message, Contact):
            conn.execute(delete(table))
    now = utcnow()
    start = now - timedelta(days=365)
    contacts = max(rows // 15, 1)
    with engine.begin() as conn:
        conn.execute(insert(Contact), [
            {"address_hash": f"{i:064x}", "channel": "sms", "opted_out": random.random() < 0.03, "state": "{}",
             "window_replies": 0, "created_at": start, "updated_at": start} for i in range(contacts)])
    step = timedelta(days=365) / rows
    for first in range(0, rows, batch):
        values = []
        for i in range(first, min(first + batch, rows)):
            roll = random.random()
            topic = random.choice(TOPICS) if random.random() < 0.6 else None
            engine_name = "keywords" if random.random() < 0.35 else "embedded"
            answered = roll > 0.08
            intent = "opt_out" if roll > 0.995 else "erase_done" if roll > 0.994 else (topic or "greet")
            values.append({
                "contact_id": random.randrange(1, contacts + 1), "direction": "in", "message_sid": f"SM{i:032x}",
                "channel": pick(CHANNELS), "status": "done", "intent": intent, "topic": topic,
                "country": pick(COUNTRIES), "language": pick(LANGUAGES), "engine": engine_name,
                "confidence": random.random() if engine_name == "embedded" else 1.0, "answered": answered,
                "latency_ms": random.uniform(1, 40), "test": random.random() < 0.02,
                "text": random.choice(STEMS).format(verb=random.choice(VERBS), thing=random.choice(THINGS),
                                                    place=random.choice(PLACES)),
                "created_at": start + step * i})
        with engine.begin() as conn:
            conn.execute(insert(Message), values)
    with engine.begin() as conn:
        conn.execute(insert(DeliveryStatus), [
            {"message_sid": f"SMout{i:032x}", "status": random.choice(("failed", "undelivered")) if random.random() < 0.04
             else "delivered", "error_code": random.choice((30003, 30005, 30007, 63016, None)),
             "updated_at": start + timedelta(days=365) * random.random()} for i in range(rows // 5)])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))


def page(engine: Engine, since: datetime) -> None:
    """What GET /console/insights asks the database."""
    insights.daily_counts(engine, since)
    insights.problem_totals(engine, since)
    insights.problem_groups(engine, since)
    insights.opted_out_contacts(engine)
    insights.delivery_failures(engine, since)


def timed(run: Callable[[], object], *, repeat: int) -> tuple[float, float]:
    """Median and worst time of a call, in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    random.seed(7)
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'insights.db'}"
        engine = make_engine(url, timeout_seconds=60)
        upgrade(engine)
        started = time.perf_counter()
        fill(engine, args.rows)
        print(f"{engine.dialect.name}: {args.rows} messages over 365 days inserted in "
              f"{time.perf_counter() - started:.1f} s")
        print(f"{'query':<22}{'days':>6}{'median ms':>12}{'worst ms':>10}")
        for days in (30, 365):
            since = insights.start_of(insights.first_day(days))
            for dimension in insights.DIMENSIONS:
                column = getattr(Message, dimension)
                day = insights.day_of(engine)
                statement = insights.select(day, column, insights.func.count()).where(
                    *insights._inbound(since)).group_by(day, column)
                median, worst = timed(lambda s=statement: insights._rows(engine, s), repeat=args.repeat)
                print(f"{'per day by ' + dimension:<22}{days:>6}{median:>12.1f}{worst:>10.1f}")
            for name, run in (("all daily counts", lambda s=since: insights.daily_counts(engine, s)),
                              ("problem totals", lambda s=since: insights.problem_totals(engine, s)),
                              ("problem groups (500)", lambda s=since: insights.problem_groups(engine, s)),
                              ("opted-out contacts", lambda: insights.opted_out_contacts(engine)),
                              ("delivery failures", lambda s=since: insights.delivery_failures(engine, s)),
                              ("whole page, queries", lambda s=since: page(engine, s))):
                median, worst = timed(run, repeat=args.repeat)
                print(f"{name:<22}{days:>6}{median:>12.1f}{worst:>10.1f}")
        engine.dispose()


if __name__ == "__main__":
    main()
