"""The queue worker's sending loop: claim one delivery, wait for the sender's rate, send, record.

Each (alert, contact) pair is one row, claimed with a lease. A worker that dies mid-send leaves its row
claimed; when the lease runs out another worker takes it, first asks Twilio whether the message was created
(so nobody gets it twice), and only then sends it.
"""

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Engine

from app.channels.render import to_gsm7
from app.channels.twilio import status_rank
from app.channels.whatsapp import in_window
from app.config import Settings
from app.crypto import box_for
from app.outbound.alerts import (
    ALERTS,
    CONTACTS,
    DELIVERIES,
    SUBSCRIPTIONS,
    pick_language,
    unsubscribe,
)
from app.outbound.ratelimit import SenderLimits
from app.outbound.twilio_rest import OPTED_OUT, SendError, Twilio, sender_for
from app.storage.models import STATUSES, utcnow

log = logging.getLogger(__name__)


@dataclass
class Claim:
    id: int
    alert_id: int
    contact_id: int | None
    subscription_id: int | None
    attempts: int
    earlier_claim: datetime | None  # set when an earlier attempt may have reached Twilio


class Deliverer:
    """Sends the deliveries of alerts; safe to run in many threads and processes at once."""

    def __init__(self, settings: Settings, engine: Engine, *, twilio: Twilio | None = None,
                 limits: SenderLimits | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.twilio = twilio or Twilio(settings)
        self.limits = limits or SenderLimits(settings)
        self.box = box_for(settings.address_keys, settings.hash_secret)
        self.lease = timedelta(seconds=settings.alert_lease_seconds)

    # --- the loop ---

    def run(self, alert_id: int) -> int:
        """Deliver an alert until every delivery is final; returns how many this loop sent."""
        sent, beat = 0, 0.0
        while True:
            claim = self.claim(alert_id)
            if claim is None:
                if self.finish_if_done(alert_id):
                    return sent
                time.sleep(min(0.2, self.settings.alert_lease_seconds / 4))  # others are on it, or back-off
                continue
            if time.monotonic() - beat > 1.0:
                beat = time.monotonic()
                touch(self.engine, alert_id)
            sent += self.deliver(claim)

    def claim(self, alert_id: int) -> Claim | None:
        """Take the next delivery that is due: pending, or claimed by a worker whose lease ran out."""
        now = utcnow()
        due = and_(DELIVERIES.c.alert_id == alert_id, or_(
            and_(DELIVERIES.c.status == "pending",
                 or_(DELIVERIES.c.next_attempt_at.is_(None), DELIVERIES.c.next_attempt_at <= now)),
            and_(DELIVERIES.c.status == "claimed", DELIVERIES.c.lease_until < now)))
        with self.engine.begin() as conn:
            row = conn.execute(select(DELIVERIES.c.id, DELIVERIES.c.contact_id, DELIVERIES.c.subscription_id,
                                      DELIVERIES.c.attempts, DELIVERIES.c.claimed_at)
                               .where(due).order_by(DELIVERIES.c.id).limit(1)
                               .with_for_update(skip_locked=True)).first()
            if row is None:
                return None
            taken = conn.execute(update(DELIVERIES).where(DELIVERIES.c.id == row.id, due).values(
                status="claimed", lease_until=now + self.lease, claimed_at=now, attempts=row.attempts + 1,
                updated_at=now))
            if taken.rowcount != 1:
                return None
        return Claim(row.id, alert_id, row.contact_id, row.subscription_id, row.attempts + 1, row.claimed_at)

    def finish_if_done(self, alert_id: int) -> bool:
        with self.engine.begin() as conn:
            open_ = conn.execute(select(DELIVERIES.c.id).where(
                DELIVERIES.c.alert_id == alert_id, DELIVERIES.c.status.in_(("pending", "claimed"))).limit(1)).first()
            if open_ is not None:
                return False
            conn.execute(update(ALERTS).where(ALERTS.c.id == alert_id, ALERTS.c.status == "sending")
                         .values(status="done", finished_at=utcnow()))
        return True

    # --- one delivery ---

    def deliver(self, claim: Claim) -> int:
        """Send one claimed delivery and record the outcome; 1 if a message was created."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(SUBSCRIPTIONS.c.address_encrypted, SUBSCRIPTIONS.c.channel, SUBSCRIPTIONS.c.sender,
                       CONTACTS.c.language, CONTACTS.c.opted_out, CONTACTS.c.last_inbound_at, ALERTS.c.texts)
                .select_from(SUBSCRIPTIONS).join(CONTACTS, CONTACTS.c.id == SUBSCRIPTIONS.c.contact_id)
                .join(ALERTS, ALERTS.c.id == claim.alert_id)
                .where(SUBSCRIPTIONS.c.id == claim.subscription_id)).first()
        if row is None or row.opted_out:
            self.record(claim, status="skipped", error="unsubscribed before sending")
            return 0
        to = self.box.open(row.address_encrypted)
        sender = sender_for(row.channel, row.sender, self.settings)
        if not sender:
            self.record(claim, status="failed", error=f"no sender number for {row.channel}: set TWILIO_*_FROM")
            return 0
        composed = json.loads(row.texts)
        language = pick_language(composed, row.language)
        template = None
        if row.channel == "whatsapp" and not in_window(row.last_inbound_at, utcnow()):
            template = (self.settings.whatsapp_alert_templates.get(language)
                        or self.settings.whatsapp_alert_templates.get("default"))
            if not template:
                self.record(claim, status="skipped", error="outside the WhatsApp window and no approved template")
                return 0
        text = composed[language]
        body = to_gsm7(text) if row.channel == "sms" else text
        try:
            if claim.earlier_claim is not None:  # an earlier attempt may have been taken by Twilio
                sid = self.twilio.find_sent(to=to, from_=sender, since=claim.earlier_claim,
                                            text=text if template else body)
                if sid:
                    log.warning("alert %s delivery %s was already sent (%s): not sent again", claim.alert_id,
                                claim.id, sid)
                    self.record(claim, status="queued", sid=sid, template=template is not None)
                    return 0
            self.twilio.prepare()
            slot = self.limits.acquire(sender, timeout=self.settings.alert_lease_seconds / 2)
            if slot is None:
                self.retry(claim, after=0.0)
                return 0
            with slot:  # counted until a second after the request completed, whatever its outcome
                if template:
                    sent = self.twilio.send(to=to, from_=sender, content_sid=template, variables={"1": text})
                else:
                    sent = self.twilio.send(to=to, from_=sender, body=body)
        except SendError as exc:
            return self.failed(claim, exc)
        self.record(claim, status=sent.status, sid=sent.sid, template=template is not None)
        return 1

    def failed(self, claim: Claim, exc: SendError) -> int:
        if exc.ambiguous and claim.attempts < self.settings.alert_max_attempts:
            # Keep it claimed with a lease that ends after the back-off: the next taker asks Twilio first.
            with self.engine.begin() as conn:
                conn.execute(update(DELIVERIES).where(DELIVERIES.c.id == claim.id).values(
                    lease_until=utcnow() + timedelta(seconds=self.backoff(claim)), error=str(exc)[:200],
                    updated_at=utcnow()))
            return 0
        if exc.retryable and claim.attempts < self.settings.alert_max_attempts:
            log.info("alert %s delivery %s: %s; retrying", claim.alert_id, claim.id, exc)
            self.retry(claim, after=exc.retry_after if exc.retry_after is not None else self.backoff(claim),
                       error=str(exc))
            return 0
        log.warning("alert %s delivery %s failed: %s", claim.alert_id, claim.id, exc)
        self.record(claim, status="failed", error=str(exc), code=exc.code)
        if exc.code == OPTED_OUT and claim.contact_id is not None:  # the carrier says STOP: we remember it too
            with self.engine.begin() as conn:
                conn.execute(update(CONTACTS).where(CONTACTS.c.id == claim.contact_id).values(
                    opted_out=True, opted_out_at=utcnow()))
                unsubscribe(conn, contact_id=claim.contact_id)
        return 0

    def backoff(self, claim: Claim) -> float:
        return self.settings.alert_retry_seconds * 2 ** (claim.attempts - 1)

    def retry(self, claim: Claim, *, after: float, error: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(DELIVERIES).where(DELIVERIES.c.id == claim.id).values(
                status="pending", claimed_at=None, lease_until=None, error=(error or "")[:200] or None,
                attempts=claim.attempts if error else claim.attempts - 1,  # waiting for a rate slot is no attempt
                next_attempt_at=utcnow() + timedelta(seconds=after), updated_at=utcnow()))

    def record(self, claim: Claim, *, status: str, sid: str | None = None, template: bool = False,
               error: str | None = None, code: int | None = None) -> None:
        """The outcome of a delivery; a status callback that came first is not moved back."""
        with self.engine.begin() as conn:
            if sid:
                known = conn.execute(select(STATUSES.c.status, STATUSES.c.error_code)
                                     .where(STATUSES.c.message_sid == sid)).first()
                if known is not None and status_rank(known.status) > status_rank(status):
                    status, code = known.status, known.error_code
            conn.execute(update(DELIVERIES).where(DELIVERIES.c.id == claim.id).values(
                status=status, message_sid=sid, template=template, error=(error or "")[:200] or None,
                error_code=code, lease_until=None, next_attempt_at=None, updated_at=utcnow()))


def record_callback(engine: Engine, *, sid: str, status: str, error_code: int | None) -> None:
    """A status callback for an alert's message moves its delivery forward (never back)."""
    with engine.begin() as conn:
        row = conn.execute(select(DELIVERIES.c.id, DELIVERIES.c.status).where(DELIVERIES.c.message_sid == sid)).first()
        if row is None or status_rank(status) < status_rank(row.status):
            return
        values: dict[str, object] = {"status": status, "updated_at": utcnow()}
        if error_code is not None:
            values["error_code"] = error_code
        conn.execute(update(DELIVERIES).where(DELIVERIES.c.id == row.id).values(values))


def stalled(engine: Engine, *, lease_seconds: float) -> list[int]:
    """Alerts still sending whose workers have not been heard of for a lease: their worker died."""
    cutoff = utcnow() - timedelta(seconds=lease_seconds)
    with engine.connect() as conn:
        return list(conn.execute(select(ALERTS.c.id).where(
            ALERTS.c.status == "sending", or_(ALERTS.c.heartbeat_at.is_(None), ALERTS.c.heartbeat_at < cutoff)
        )).scalars())


def touch(engine: Engine, alert_id: int) -> None:
    """A sign of life of the alert's workers (see `stalled`)."""
    with engine.begin() as conn:
        conn.execute(update(ALERTS).where(ALERTS.c.id == alert_id).values(heartbeat_at=utcnow()))
