"""Many subscribers at once, for the alert tests and bench/alerts.py (straight into the tables)."""

from datetime import timedelta

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from app.config import Settings
from app.crypto import box_for
from app.privacy import hash_address
from app.storage.db import upgrade
from app.storage.models import CONTACTS, SUBSCRIPTIONS, utcnow

LANGUAGES = ("es", "en", "fr", "ht")


def add_subscribers(engine: Engine, settings: Settings, *, count: int, country: str = "MX", start: int = 0,
                    whatsapp_every: int = 2, stale_every: int = 5, opted_out_every: int = 0) -> list[dict]:
    """`count` subscribers: every `whatsapp_every`-th on WhatsApp, every `stale_every`-th of those outside the
    24-hour window, every `opted_out_every`-th opted out (0: none). Returns what each one is."""
    upgrade(engine)
    box = box_for(settings.address_keys, settings.hash_secret)
    now = utcnow()
    people, contacts = [], []
    for i in range(start, start + count):
        whatsapp = whatsapp_every and i % whatsapp_every == 0
        number = f"+5296{i:08d}"
        address = f"whatsapp:{number}" if whatsapp else number
        stale = bool(whatsapp and stale_every and (i // whatsapp_every) % stale_every == 0)
        person = {"address": address, "channel": "whatsapp" if whatsapp else "sms", "stale": stale,
                  "opted_out": bool(opted_out_every and i % opted_out_every == 1), "language": LANGUAGES[i % 4]}
        people.append(person)
        contacts.append({"address_hash": hash_address(address, secret=settings.hash_secret),
                         "channel": person["channel"], "language": person["language"], "country": country,
                         "opted_out": person["opted_out"], "state": "{}", "window_replies": 0,
                         "created_at": now, "updated_at": now,
                         "last_inbound_at": now - (timedelta(days=3) if stale else timedelta(minutes=5))})
    with engine.begin() as conn:
        for chunk in range(0, len(contacts), 1000):
            conn.execute(insert(CONTACTS), contacts[chunk:chunk + 1000])
        ids = dict(conn.execute(select(CONTACTS.c.address_hash, CONTACTS.c.id)).all())
        rows = [{"contact_id": ids[c["address_hash"]], "country": country, "channel": p["channel"],
                 "address_encrypted": box.seal(p["address"]),
                 "sender": "whatsapp:+5255000000" if p["channel"] == "whatsapp" else "+5255000001",
                 "created_at": now} for c, p in zip(contacts, people, strict=True)]
        for chunk in range(0, len(rows), 1000):
            conn.execute(insert(SUBSCRIPTIONS), rows[chunk:chunk + 1000])
    return people
