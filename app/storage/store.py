"""The conversation store: contacts, the message log, duplicate deliveries and delivery statuses.

Statements are SQLAlchemy Core on one connection, so a message costs one short transaction.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from app.storage.models import CONTACTS, DELIVERIES, HANDOVERS, MESSAGES, STATUSES, SUBSCRIPTIONS, utcnow

# Built once: constructing statements per message costs more than running them.
_CLAIM = insert(MESSAGES).values(direction="in", message_sid=bindparam("sid"), channel=bindparam("channel"),
                                 status="processing", test=bindparam("test"), created_at=bindparam("now"))
_CONTACT = select(CONTACTS).where(CONTACTS.c.address_hash == bindparam("address_hash"))
# the contact and the hand-over open for it, if any, in one statement: every message needs both
_CONTACT_AND_HANDOVER = select(CONTACTS, HANDOVERS.c.id.label("open_handover")).outerjoin(
    HANDOVERS, and_(HANDOVERS.c.contact_id == CONTACTS.c.id, HANDOVERS.c.status == "open")
).where(CONTACTS.c.address_hash == bindparam("address_hash")).order_by(HANDOVERS.c.id).limit(1)
_NEW_CONTACT = insert(CONTACTS).values(
    address_hash=bindparam("address_hash"), channel=bindparam("channel"), language=bindparam("language"),
    country=bindparam("country"), opted_out=False, state="{}", window_replies=0, created_at=bindparam("now"),
    updated_at=bindparam("now"))
_SAVE_CONTACT = update(CONTACTS).where(CONTACTS.c.id == bindparam("contact_id")).values(
    {name: bindparam(name) for name in ("channel", "language", "country", "opted_out", "opted_out_at",
                                        "silenced_until", "last_inbound_at", "updated_at", "state",
                                        "window_started_at", "window_replies")})
_FINISH = update(MESSAGES).where(MESSAGES.c.message_sid == bindparam("sid")).values(
    {name: bindparam(name) for name in ("status", "reply", "contact_id", "text", "intent", "topic", "country",
                                        "language", "confidence", "engine", "answered", "latency_ms", "entry",
                                        "useful")})
_OUTBOUND = insert(MESSAGES).values(
    {name: bindparam(name) for name in ("contact_id", "direction", "channel", "text", "language", "status",
                                        "test", "created_at")})


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
    window_started_at: datetime | None = None
    window_replies: int = 0
    state: dict = field(default_factory=dict)
    open_handover: int | None = None  # the id of the hand-over open for this contact, read with it


def claim(conn: Connection, *, sid: str, channel: str, test: bool = False) -> None:
    """Own a MessageSid inside the current transaction, or raise Duplicate.

    The unique constraint decides: a concurrent delivery of the same MessageSid waits on it until this
    transaction ends, then fails, so a message is processed and logged once.
    """
    try:
        conn.execute(_CLAIM, {"sid": sid, "channel": channel, "test": test, "now": utcnow()})
    except IntegrityError:
        raise Duplicate(sid) from None


def inbound_state(engine: Engine, *, sid: str) -> tuple[str | None, list[str]]:
    """The status of an inbound message and the reply stored for it (None when it is not stored)."""
    with engine.connect() as conn:
        row = conn.execute(select(MESSAGES.c.status, MESSAGES.c.reply).where(MESSAGES.c.message_sid == sid)).first()
    if row is None:
        return None, []
    return row.status, json.loads(row.reply) if row.reply else []


def mark_inbound(engine: Engine, *, sid: str, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(MESSAGES).where(MESSAGES.c.message_sid == sid).values(status=status))


def record_failed(engine: Engine, *, sid: str, channel: str, test: bool) -> None:
    """Keep the trace of a message that could not be answered, for an operator (its text is not kept)."""
    try:
        with engine.begin() as conn:
            conn.execute(_CLAIM, {"sid": sid, "channel": channel, "test": test, "now": utcnow()})
            conn.execute(update(MESSAGES).where(MESSAGES.c.message_sid == sid).values(status="failed"))
    except IntegrityError:
        pass  # it was stored meanwhile


# Inbound messages an operator should look at: answered late but not delivered, or never answered.
UNANSWERED = ("late", "unsent", "failed")


def unanswered(engine: Engine, *, limit: int = 100) -> list:
    """The inbound messages whose answer did not reach the person, newest first."""
    with engine.connect() as conn:
        return list(conn.execute(
            select(MESSAGES.c.message_sid, MESSAGES.c.channel, MESSAGES.c.status, MESSAGES.c.text,
                   MESSAGES.c.created_at)
            .where(MESSAGES.c.direction == "in", MESSAGES.c.status.in_(UNANSWERED), MESSAGES.c.test.is_(False))
            .order_by(MESSAGES.c.created_at.desc()).limit(limit)))


def stored_reply(engine: Engine, *, sid: str, wait: float) -> list[str] | None:
    """The reply already given to a MessageSid, waiting a while if another worker is still on it."""
    deadline = time.monotonic() + wait
    while True:
        status, bodies = inbound_state(engine, sid=sid)
        if status == "done":
            return bodies
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


def contact_for(conn: Connection, *, address_hash: str, channel: str,
                defaults: Callable[[], tuple[str, str | None]]) -> ContactRow:
    """The contact of an address hash, created on first contact with the (language, country) of `defaults`."""
    key = {"address_hash": address_hash}
    row = conn.execute(_CONTACT_AND_HANDOVER, key).first()
    if row is None:
        language, country = defaults()
        try:
            with conn.begin_nested():
                conn.execute(_NEW_CONTACT, {**key, "channel": channel, "language": language, "country": country,
                                            "now": utcnow()})
        except IntegrityError:
            pass  # a concurrent first message created it
        row = conn.execute(_CONTACT_AND_HANDOVER, key).one()
    return ContactRow(id=row.id, address_hash=row.address_hash, language=row.language, country=row.country,
                      opted_out=row.opted_out, opted_out_at=row.opted_out_at, silenced_until=row.silenced_until,
                      last_inbound_at=row.last_inbound_at, window_started_at=row.window_started_at,
                      window_replies=row.window_replies, state=json.loads(row.state or "{}"),
                      open_handover=row.open_handover)


def peek_contact(conn: Connection, *, address_hash: str) -> tuple[str | None, str | None, dict] | None:
    """Language, country and state of a contact, read without changing anything."""
    row = conn.execute(_CONTACT, {"address_hash": address_hash}).first()
    return None if row is None else (row.language, row.country, json.loads(row.state or "{}"))


def save_contact(conn: Connection, contact: ContactRow, *, channel: str) -> None:
    conn.execute(_SAVE_CONTACT, {
        "contact_id": contact.id, "channel": channel, "language": contact.language, "country": contact.country,
        "opted_out": contact.opted_out, "opted_out_at": contact.opted_out_at,
        "silenced_until": contact.silenced_until, "last_inbound_at": contact.last_inbound_at,
        "updated_at": utcnow(), "state": json.dumps(contact.state, ensure_ascii=False, separators=(",", ":")),
        "window_started_at": contact.window_started_at, "window_replies": contact.window_replies,
    })


def count_reply(contact: ContactRow, *, now: datetime, window_seconds: int) -> int:
    """Count one more reply in the contact's current window (a new window when the last one is over)."""
    if contact.window_started_at is None or now - contact.window_started_at >= timedelta(seconds=window_seconds):
        contact.window_started_at, contact.window_replies = now, 0
    contact.window_replies += 1
    return contact.window_replies


FINISH_FIELDS = ("contact_id", "text", "intent", "topic", "country", "language", "confidence", "engine",
                 "answered", "latency_ms", "entry", "useful")


def finish(conn: Connection, *, sid: str, values: dict, bodies: list[str], status: str = "done") -> None:
    """Store the outcome of an inbound message and the reply given to it ("late": still to be sent)."""
    params = dict.fromkeys(FINISH_FIELDS)
    params.update(values, sid=sid, status=status, reply=json.dumps(bodies, ensure_ascii=False))
    conn.execute(_FINISH, params)


def log_outbound(conn: Connection, *, contact_id: int, channel: str, bodies: list[str], language: str,
                 test: bool = False) -> None:
    now = utcnow()
    for body in bodies:
        conn.execute(_OUTBOUND, {"contact_id": contact_id, "direction": "out", "channel": channel, "text": body,
                                 "language": language, "status": "done", "test": test, "created_at": now})


def erase_contact(conn: Connection, *, contact_id: int) -> int:
    """Delete every stored record of a person; inbound rows keep only their MessageSid for de-duplication."""
    conn.execute(update(MESSAGES).where(MESSAGES.c.contact_id == contact_id, MESSAGES.c.direction == "in").values(
        contact_id=None, text=None, reply=None, intent=None, topic=None, country=None, language=None,
        confidence=None, engine=None))
    deleted = conn.execute(delete(MESSAGES).where(MESSAGES.c.contact_id == contact_id))
    conn.execute(update(DELIVERIES).where(DELIVERIES.c.contact_id == contact_id).values(
        contact_id=None, subscription_id=None))
    conn.execute(delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.contact_id == contact_id))
    conn.execute(delete(HANDOVERS).where(HANDOVERS.c.contact_id == contact_id))
    conn.execute(delete(CONTACTS).where(CONTACTS.c.id == contact_id))
    return deleted.rowcount


def record_status(engine: Engine, *, sid: str, status: str, error_code: int | None,
                  rank: Callable[[str], int]) -> None:
    """Keep the most advanced delivery status reported for an outbound message, as the channel ranks them."""
    ranked = rank(status)
    for _ in range(2):
        try:
            with engine.begin() as conn:
                row = conn.execute(select(STATUSES).where(STATUSES.c.message_sid == sid)).first()
                if row is None:
                    conn.execute(insert(STATUSES).values(message_sid=sid, status=status, error_code=error_code,
                                                         updated_at=utcnow()))
                elif ranked >= rank(row.status):
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
