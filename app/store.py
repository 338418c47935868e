"""The conversation store: contacts, the message log, duplicate deliveries and delivery statuses.

Statements are SQLAlchemy Core on one connection, so a message costs one short transaction.
"""

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from app.models import Contact, DeliveryStatus, Message, utcnow

CONTACTS = Contact.__table__  # type: ignore[attr-defined]
MESSAGES = Message.__table__  # type: ignore[attr-defined]
STATUSES = DeliveryStatus.__table__  # type: ignore[attr-defined]

# Statuses only move forward; a late "sent" must not overwrite "delivered".
STATUS_RANK = {"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3, "receiving": 3,
               "received": 3, "delivered": 4, "read": 5, "partially_delivered": 4, "undelivered": 6,
               "failed": 6, "canceled": 6}


class Duplicate(Exception):
    """This MessageSid was already answered (or is being answered by another worker)."""


@dataclass
class ContactRow:
    """A contact as the pipeline reads and changes it."""

    id: int
    address_hash: str
    language: str | None
    country: str | None
    opted_out: bool
    opted_out_at: datetime | None
    silenced_until: datetime | None
    last_inbound_at: datetime | None
    state: dict = field(default_factory=dict)


def claim(conn: Connection, *, sid: str, channel: str) -> None:
    """Own a MessageSid inside the current transaction, or raise Duplicate.

    The unique constraint decides: a concurrent delivery of the same MessageSid waits on it until this
    transaction ends, then fails, so a message is processed and logged once.
    """
    try:
        conn.execute(insert(MESSAGES).values(direction="in", message_sid=sid, channel=channel,
                                             status="processing", created_at=utcnow()))
    except IntegrityError:
        raise Duplicate(sid) from None


def stored_reply(engine: Engine, *, sid: str, wait: float) -> list[str] | None:
    """The reply already given to a MessageSid, waiting a while if another worker is still on it."""
    deadline = time.monotonic() + wait
    while True:
        with engine.connect() as conn:
            row = conn.execute(select(MESSAGES.c.status, MESSAGES.c.reply).where(MESSAGES.c.message_sid == sid)).first()
        if row is not None and row.status == "done":
            return json.loads(row.reply) if row.reply else []
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


def contact_for(conn: Connection, *, address_hash: str, channel: str, language: str,
                country: str | None) -> ContactRow:
    """The contact of an address hash, created on first contact (safely against a concurrent first message)."""
    query = select(CONTACTS).where(CONTACTS.c.address_hash == address_hash)
    row = conn.execute(query).first()
    if row is None:
        try:
            with conn.begin_nested():
                now = utcnow()
                conn.execute(insert(CONTACTS).values(address_hash=address_hash, channel=channel, language=language,
                                                     country=country, opted_out=False, state="{}",
                                                     created_at=now, updated_at=now))
        except IntegrityError:
            pass  # a concurrent first message created it
        row = conn.execute(query).one()
    return ContactRow(id=row.id, address_hash=row.address_hash, language=row.language, country=row.country,
                      opted_out=row.opted_out, opted_out_at=row.opted_out_at, silenced_until=row.silenced_until,
                      last_inbound_at=row.last_inbound_at, state=json.loads(row.state or "{}"))


def save_contact(conn: Connection, contact: ContactRow, *, channel: str) -> None:
    conn.execute(update(CONTACTS).where(CONTACTS.c.id == contact.id).values(
        channel=channel, language=contact.language, country=contact.country, opted_out=contact.opted_out,
        opted_out_at=contact.opted_out_at, silenced_until=contact.silenced_until,
        last_inbound_at=contact.last_inbound_at, updated_at=utcnow(),
        state=json.dumps(contact.state, ensure_ascii=False, separators=(",", ":")),
    ))


def replies_in_window(conn: Connection, *, contact_id: int, seconds: int) -> int:
    """Replies sent to a contact in the last `seconds`."""
    since = utcnow() - timedelta(seconds=seconds)
    query = select(func.count()).select_from(MESSAGES).where(
        MESSAGES.c.contact_id == contact_id, MESSAGES.c.direction == "out", MESSAGES.c.created_at >= since)
    return int(conn.execute(query).scalar_one())


def finish(conn: Connection, *, sid: str, values: dict, bodies: list[str]) -> None:
    """Store the outcome of an inbound message and the reply given to it."""
    conn.execute(update(MESSAGES).where(MESSAGES.c.message_sid == sid).values(
        status="done", reply=json.dumps(bodies, ensure_ascii=False), **values))


def log_outbound(conn: Connection, *, contact_id: int, channel: str, bodies: list[str], language: str) -> None:
    if bodies:
        now = utcnow()
        conn.execute(insert(MESSAGES), [dict(contact_id=contact_id, direction="out", channel=channel, text=body,
                                             language=language, status="done", created_at=now) for body in bodies])


def erase_contact(conn: Connection, *, contact_id: int) -> int:
    """Delete every stored record of a person; inbound rows keep only their MessageSid for de-duplication."""
    conn.execute(update(MESSAGES).where(MESSAGES.c.contact_id == contact_id, MESSAGES.c.direction == "in").values(
        contact_id=None, text=None, reply=None, intent=None, topic=None, country=None, language=None,
        confidence=None, engine=None))
    deleted = conn.execute(delete(MESSAGES).where(MESSAGES.c.contact_id == contact_id))
    conn.execute(delete(CONTACTS).where(CONTACTS.c.id == contact_id))
    return deleted.rowcount


def record_status(engine: Engine, *, sid: str, status: str, error_code: int | None) -> None:
    """Keep the most advanced delivery status reported for an outbound message."""
    rank = STATUS_RANK.get(status, 0)
    for _ in range(2):
        try:
            with engine.begin() as conn:
                row = conn.execute(select(STATUSES).where(STATUSES.c.message_sid == sid)).first()
                if row is None:
                    conn.execute(insert(STATUSES).values(message_sid=sid, status=status, error_code=error_code,
                                                         updated_at=utcnow()))
                elif rank >= STATUS_RANK.get(row.status, 0):
                    conn.execute(update(STATUSES).where(STATUSES.c.id == row.id).values(
                        status=status, updated_at=utcnow(),
                        error_code=error_code if error_code is not None else row.error_code))
            return
        except IntegrityError:
            continue  # a concurrent callback created the row first: apply ours on top


def purge(engine: Engine, *, retention_days: int) -> int:
    """Remove message texts and stored replies older than the retention period."""
    cutoff = utcnow() - timedelta(days=retention_days)
    with engine.begin() as conn:
        result = conn.execute(update(MESSAGES).where(
            MESSAGES.c.created_at < cutoff, or_(MESSAGES.c.text.is_not(None), MESSAGES.c.reply.is_not(None))
        ).values(text=None, reply=None))
        return result.rowcount
