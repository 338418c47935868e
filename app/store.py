"""The conversation store: contacts, the message log, duplicate deliveries and delivery statuses."""

import json
import time
from datetime import timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.db import session_scope
from app.models import Contact, DeliveryStatus, Message, utcnow

# Statuses only move forward; a late "sent" must not overwrite "delivered".
STATUS_RANK = {"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3, "receiving": 3,
               "received": 3, "delivered": 4, "read": 5, "partially_delivered": 4, "undelivered": 6,
               "failed": 6, "canceled": 6}


def claim(engine: Engine, *, sid: str, channel: str, stale_after: float) -> bool:
    """Own this MessageSid: True on first delivery, or when an earlier attempt failed or was abandoned.

    The unique constraint on message_sid decides, so two workers can never both process one message.
    """
    try:
        with session_scope(engine) as session:
            session.add(Message(direction="in", message_sid=sid, channel=channel, status="processing"))
        return True
    except IntegrityError:
        pass
    cutoff = utcnow() - timedelta(seconds=stale_after)
    with engine.begin() as conn:
        taken = conn.execute(
            update(Message)
            .where(
                Message.message_sid == sid,  # type: ignore[arg-type]
                or_(Message.status == "failed",  # type: ignore[arg-type]
                    and_(Message.status == "processing", Message.created_at < cutoff)),  # type: ignore[arg-type]
            )
            .values(status="processing", created_at=utcnow())
        )
        return taken.rowcount == 1


def stored_reply(engine: Engine, *, sid: str, wait: float) -> list[str] | None:
    """The reply already given to a MessageSid, waiting a while if another worker is still on it."""
    deadline = time.monotonic() + wait
    while True:
        with Session(engine) as session:
            row = session.execute(
                select(Message.status, Message.reply).where(Message.message_sid == sid)  # type: ignore[arg-type]
            ).first()
        if row is not None and row[0] in ("done", "failed"):
            return json.loads(row[1]) if row[1] else []
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


def release(engine: Engine, *, sid: str, bodies: list[str]) -> None:
    """Mark an attempt as failed, keeping the apology it answered with; a retry may process it again."""
    with engine.begin() as conn:
        conn.execute(
            update(Message)
            .where(Message.message_sid == sid)  # type: ignore[arg-type]
            .values(status="failed", reply=json.dumps(bodies, ensure_ascii=False))
        )


def contact_for(session: Session, *, address_hash: str, channel: str, language: str, country: str | None) -> Contact:
    """The contact of an address hash, created on first contact (safely against a concurrent first message)."""
    query = select(Contact).where(Contact.address_hash == address_hash)  # type: ignore[arg-type]
    contact = session.execute(query).scalars().first()  # type: ignore[call-overload]
    if contact is not None:
        return contact
    try:
        with session.begin_nested():
            contact = Contact(address_hash=address_hash, channel=channel, language=language, country=country)
            session.add(contact)
        return contact
    except IntegrityError:
        return session.execute(query).scalars().one()  # type: ignore[call-overload]


def load_state(contact: Contact) -> dict:
    return json.loads(contact.state or "{}")


def save_state(contact: Contact, state: dict) -> None:
    contact.state = json.dumps(state, ensure_ascii=False, separators=(",", ":"))
    contact.updated_at = utcnow()


def replies_in_window(session: Session, *, contact_id: int, seconds: int) -> int:
    """Replies sent to a contact in the last `seconds`."""
    since = utcnow() - timedelta(seconds=seconds)
    query = select(func.count()).where(
        Message.contact_id == contact_id, Message.direction == "out", Message.created_at >= since  # type: ignore[arg-type]
    )
    return int(session.execute(query).scalar_one())  # type: ignore[call-overload]


def finish(session: Session, *, sid: str, values: dict, bodies: list[str]) -> None:
    """Store the outcome of an inbound message and the reply given to it."""
    session.execute(
        update(Message)
        .where(Message.message_sid == sid)  # type: ignore[arg-type]
        .values(status="done", reply=json.dumps(bodies, ensure_ascii=False), **values)
    )


def log_outbound(session: Session, *, contact_id: int | None, channel: str, bodies: list[str], language: str) -> None:
    for body in bodies:
        session.add(Message(contact_id=contact_id, direction="out", channel=channel, text=body, language=language))


def erase_contact(session: Session, *, contact_id: int) -> int:
    """Delete every stored record of a person; inbound rows keep only their MessageSid for de-duplication."""
    session.execute(
        update(Message)
        .where(Message.contact_id == contact_id, Message.direction == "in")  # type: ignore[arg-type]
        .values(contact_id=None, text=None, reply=None, intent=None, topic=None, country=None, language=None,
                confidence=None, engine=None)
    )
    deleted = session.execute(delete(Message).where(Message.contact_id == contact_id))  # type: ignore[arg-type]
    session.execute(delete(Contact).where(Contact.id == contact_id))  # type: ignore[arg-type]
    return deleted.rowcount


def record_status(engine: Engine, *, sid: str, status: str, error_code: int | None) -> None:
    """Keep the most advanced delivery status reported for an outbound message."""
    rank = STATUS_RANK.get(status, 0)
    for _ in range(2):
        try:
            with session_scope(engine) as session:
                row = session.execute(
                    select(DeliveryStatus).where(DeliveryStatus.message_sid == sid)  # type: ignore[arg-type]
                ).scalars().first()  # type: ignore[call-overload]
                if row is None:
                    session.add(DeliveryStatus(message_sid=sid, status=status, error_code=error_code))
                elif rank >= STATUS_RANK.get(row.status, 0):
                    row.status, row.updated_at = status, utcnow()
                    row.error_code = error_code if error_code is not None else row.error_code
            return
        except IntegrityError:
            continue  # a concurrent callback created the row first: apply ours on top


def purge(engine: Engine, *, retention_days: int) -> int:
    """Remove message texts and stored replies older than the retention period."""
    cutoff = utcnow() - timedelta(days=retention_days)
    with engine.begin() as conn:
        result = conn.execute(
            update(Message)
            .where(Message.created_at < cutoff, or_(Message.text.is_not(None), Message.reply.is_not(None)))  # type: ignore[union-attr]
            .values(text=None, reply=None)
        )
        return result.rowcount
