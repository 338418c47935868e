"""Hand-over to a person: open while the bot is paused, an operator replies through Twilio, then closes it.

The person's address is kept encrypted, only while the hand-over is open: closing it wipes the address.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine, RowMapping

from app.channels.whatsapp import in_window
from app.config import Settings
from app.crypto import AddressBox
from app.i18n import N_, Refusal
from app.outbound.ratelimit import SenderLimits
from app.outbound.twilio_rest import SendError, Twilio, sender_for
from app.privacy import mask_text
from app.storage.models import CONTACTS, HANDOVERS, MESSAGES, utcnow


class HandoverError(Refusal):
    """The operator's action cannot be done; the message says why."""


@dataclass
class Opened:
    id: int
    new: bool  # False: it was open already (maybe its priority rose)


def open_for(conn: Connection, contact_id: int) -> RowMapping | None:
    return conn.execute(select(HANDOVERS).where(HANDOVERS.c.contact_id == contact_id,
                                                HANDOVERS.c.status == "open")).mappings().first()


def open_(conn: Connection, *, contact_id: int, channel: str, language: str, country: str | None,
          sealed_address: str, sender: str, danger: bool) -> Opened:
    """Open a hand-over for a contact, or raise the priority of the one already open."""
    now = utcnow()
    current = open_for(conn, contact_id)
    if current is not None:
        touch(conn, current["id"], danger=danger, address_encrypted=sealed_address, channel=channel)
        return Opened(current["id"], new=False)
    new_id = conn.execute(insert(HANDOVERS).values(
        contact_id=contact_id, status="open", priority=1 if danger else 0, reason="danger" if danger else "asked",
        channel=channel, language=language, country=country, address_encrypted=sealed_address, sender=sender,
        opened_at=now, last_inbound_at=now).returning(HANDOVERS.c.id)).scalar_one()
    return Opened(int(new_id), new=True)


def touch(conn: Connection, handover_id: int, *, danger: bool, **more: object) -> None:
    """The person wrote again: note when, and make it urgent if they are in danger."""
    values: dict[str, object] = {"last_inbound_at": utcnow(), **more}
    if danger:
        values.update(priority=1, reason="danger")
    conn.execute(update(HANDOVERS).where(HANDOVERS.c.id == handover_id).values(values))


def _closing(by: str) -> dict[str, object]:
    """What closing a hand-over writes: the number goes with it."""
    return {"status": "closed", "closed_at": utcnow(), "closed_by": by, "address_encrypted": None}


def close_all(conn: Connection, *, contact_id: int, by: str) -> None:
    """Close a contact's hand-overs (STOP, erase) and wipe their addresses."""
    conn.execute(update(HANDOVERS).where(HANDOVERS.c.contact_id == contact_id, HANDOVERS.c.status == "open")
                 .values(_closing(by)))


def queue(engine: Engine) -> list[dict]:
    """Open hand-overs, the most urgent and the oldest first."""
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(HANDOVERS).where(HANDOVERS.c.status == "open")
            .order_by(HANDOVERS.c.priority.desc(), HANDOVERS.c.opened_at, HANDOVERS.c.id)).mappings()]


def get(engine: Engine, handover_id: int) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(select(HANDOVERS).where(HANDOVERS.c.id == handover_id)).mappings().first()
    return dict(row) if row else None


def conversation(engine: Engine, handover: dict, *, limit: int = 100) -> list[dict]:
    """The person's messages (masked) and what was sent to them, oldest first."""
    if handover["contact_id"] is None:
        return []
    with engine.connect() as conn:
        rows = conn.execute(select(MESSAGES.c.direction, MESSAGES.c.text, MESSAGES.c.engine, MESSAGES.c.created_at)
                            .where(MESSAGES.c.contact_id == handover["contact_id"], MESSAGES.c.test.is_(False))
                            .order_by(MESSAGES.c.id.desc()).limit(limit)).mappings().all()
    out = []
    for row in reversed(rows):
        out.append({"direction": row["direction"], "text": row["text"], "at": row["created_at"],
                    "by": "operator" if row["engine"] == "operator" else ("bot" if row["direction"] == "out" else "")})
    return out


def window_open(engine: Engine, handover: dict) -> bool:
    """SMS can always be answered; WhatsApp only within 24 hours of the person's last message."""
    if handover["channel"] != "whatsapp":
        return True
    with engine.connect() as conn:
        last = conn.execute(select(CONTACTS.c.last_inbound_at).where(CONTACTS.c.id == handover["contact_id"])).scalar()
    return in_window(last, utcnow())


def reply(engine: Engine, handover_id: int, text: str, *, by: str, twilio: Twilio, limits: SenderLimits,
          box: AddressBox, settings: Settings) -> str:
    """Send an operator's reply through Twilio's REST API; returns the MessageSid."""
    text = text.replace("\x00", "").strip()  # PostgreSQL refuses NUL in text
    if not text:
        raise HandoverError(N_("write a reply first"))
    if len(text) > 1600:
        raise HandoverError(N_("a message holds at most 1600 characters"))
    handover = get(engine, handover_id)
    if handover is None or handover["status"] != "open" or not handover["address_encrypted"]:
        raise HandoverError(N_("this hand-over is closed"))
    if not window_open(engine, handover):
        raise HandoverError(N_("the person last wrote more than 24 hours ago: WhatsApp allows only an approved "
                               "template now, not a free reply"))
    to = box.open(handover["address_encrypted"])
    sender = sender_for(handover["channel"], handover["sender"], settings)
    if not sender:
        raise HandoverError(N_("no sender number: set TWILIO_SMS_FROM / TWILIO_WHATSAPP_FROM"))
    slot = limits.acquire(sender, timeout=10)
    if slot is None:
        raise HandoverError(N_("the sender's rate limit is full; try again in a moment"))
    try:
        with slot:  # counted until a second after the request completed, whatever its outcome
            sent = twilio.send(to=to, from_=sender, body=text)
    except SendError as exc:
        raise HandoverError(N_("Twilio did not take the message: {reason}"), reason=str(exc)) from None
    with engine.begin() as conn:
        conn.execute(insert(MESSAGES).values(
            contact_id=handover["contact_id"], direction="out", channel=handover["channel"], text=mask_text(text),
            language=handover["language"], status="done", engine="operator", test=False, created_at=utcnow(),
            reply=json.dumps({"sid": sent.sid, "by": by})))
    return sent.sid


def close(engine: Engine, handover_id: int, *, by: str) -> None:
    with engine.begin() as conn:
        done = conn.execute(update(HANDOVERS).where(HANDOVERS.c.id == handover_id, HANDOVERS.c.status == "open")
                            .values(_closing(by)))
    if not done.rowcount:
        raise HandoverError(N_("this hand-over is closed already"))


def farewell(handover: dict, locales_dir: Path) -> str:
    """What the person is told when the office closes the conversation, in their language."""
    from app.i18n import Texts

    return Texts(handover["language"] or "es", locales_dir).gettext(
        "Our team has closed this conversation. The assistant answers again: write MENU for topics.")


def age(handover: dict) -> str:
    opened: datetime = handover["opened_at"]
    minutes = int((utcnow() - (opened if opened.tzinfo else opened.replace(tzinfo=utcnow().tzinfo))).total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
