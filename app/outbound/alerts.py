"""Alerts: subscriptions, composing an alert in each language, fanning it out, and counting how it went.

Sending is the queue worker's job (app/outbound/delivery.py); everything here is plain database work.
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, delete, func, insert, literal, select, update
from sqlalchemy.engine import Connection, Engine

from app.channels.render import sms_info, to_gsm7
from app.channels.whatsapp import in_window
from app.config import Settings
from app.i18n import FALLBACKS, LANGUAGES, N_, Refusal, Texts
from app.knowledge.base import KnowledgeBase
from app.storage.models import ALERTS, CONTACTS, DELIVERIES, SUBSCRIPTIONS, utcnow

if TYPE_CHECKING:
    from app.outbound.queue import Queue  # huey is loaded only where a queue is built

log = logging.getLogger(__name__)
MAX_TEXT = 900  # an approved template's variable must hold the whole text, header and footer included

# How delivery statuses are counted in the console and the CLI.
GROUPS = {"pending": "pending", "claimed": "pending", "accepted": "queued", "scheduled": "queued",
          "queued": "queued", "sending": "queued", "sent": "sent", "delivered": "delivered", "read": "read",
          "failed": "failed", "undelivered": "failed", "canceled": "failed", "skipped": "skipped"}
COUNT_ORDER = ("pending", "queued", "sent", "delivered", "read", "failed", "skipped")


class AlertError(Refusal, ValueError):
    """An alert that cannot be sent as written."""


# --- subscriptions (called inside the pipeline's transaction) ---

def subscribe(conn: Connection, *, contact_id: int, country: str, channel: str, sealed_address: str,
              sender: str) -> bool:
    """Subscribe a contact to a country's alerts; False when it already was (its address is refreshed)."""
    values = {"channel": channel, "address_encrypted": sealed_address, "sender": sender}
    found = conn.execute(update(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.contact_id == contact_id,
                                                     SUBSCRIPTIONS.c.country == country).values(values))
    if found.rowcount:
        return False
    conn.execute(insert(SUBSCRIPTIONS).values(contact_id=contact_id, country=country, created_at=utcnow(), **values))
    return True


def unsubscribe(conn: Connection, *, contact_id: int, country: str | None = None) -> int:
    """End a contact's subscriptions (of one country, or all); their encrypted addresses go with them."""
    where = [SUBSCRIPTIONS.c.contact_id == contact_id]
    if country:
        where.append(SUBSCRIPTIONS.c.country == country)
    ids = select(SUBSCRIPTIONS.c.id).where(*where).scalar_subquery()
    conn.execute(update(DELIVERIES).where(DELIVERIES.c.subscription_id.in_(ids)).values(subscription_id=None))
    return conn.execute(delete(SUBSCRIPTIONS).where(*where)).rowcount


def reachable(*columns: ColumnElement[Any], country: str | None = None) -> Select[Any]:
    """The subscriptions an alert reaches (of one country, or all): their people have not opted out."""
    query = (select(*columns).select_from(SUBSCRIPTIONS).join(CONTACTS, CONTACTS.c.id == SUBSCRIPTIONS.c.contact_id)
             .where(CONTACTS.c.opted_out.is_(False)))
    return query.where(SUBSCRIPTIONS.c.country == country) if country else query


def subscribers_per_country(engine: Engine) -> dict[str, int]:
    """Who an alert would reach now, per country."""
    with engine.connect() as conn:
        rows = conn.execute(reachable(SUBSCRIPTIONS.c.country, func.count()).group_by(SUBSCRIPTIONS.c.country)).all()
    return dict(rows)


# --- writing an alert ---

def pick_language(available: dict[str, str] | list[str], language: str | None) -> str:
    """The subscriber's language if the alert has it, else along the fallback chain, else the first given."""
    codes = list(available)
    for code in (language, *FALLBACKS.get(language or "", ())):
        if code in codes:
            return code
    return codes[0]


def compose(text: str, *, language: str, country_name: str, locales_dir: Path) -> str:
    """The alert as a subscriber reads it: a header with the country, the text, how to stop alerts."""
    texts = Texts(language, locales_dir)
    return "\n\n".join((texts.gettext("ALERT ({country})", country=country_name), text.strip(),
                        texts.gettext("To stop alerts, write ALERTS OFF. STOP ends all messages.")))


def validate(country: str, texts: dict[str, str], *, countries: set[str]) -> dict[str, str]:
    """The texts to send, cleaned; AlertError says what is wrong."""
    if country not in countries:
        raise AlertError(N_("unknown country '{country}'; one of {choices}"), country=country,
                         choices=", ".join(sorted(countries)))
    cleaned = {lang.strip().lower(): (text or "").replace("\x00", "").strip() for lang, text in texts.items()}
    cleaned = {lang: text for lang, text in cleaned.items() if text}
    if not cleaned:
        raise AlertError(N_("write the alert in at least one language"))
    for lang, text in cleaned.items():
        if lang not in LANGUAGES:
            raise AlertError(N_("unknown language '{language}'; one of {choices}"), language=lang,
                             choices=", ".join(LANGUAGES))
        if len(text) > MAX_TEXT:
            raise AlertError(N_("the {language} text has {length} characters; at most {limit}"), language=lang,
                             length=len(text), limit=MAX_TEXT)
    return cleaned


@dataclass
class Preview:
    language: str
    text: str  # as sent on WhatsApp, header and footer included
    sms_text: str  # as sent by SMS: in GSM-7, like every SMS of the assistant
    sms_segments: int
    sms_encoding: str
    recipients: int  # subscribers who will read this language
    templates: int  # WhatsApp subscribers outside the 24-hour window: they get the approved template


def preview(engine: Engine, *, country: str, composed: dict[str, str]) -> list[Preview]:
    """What each language's subscribers will get, and how many of them there are."""
    now = utcnow()
    with engine.connect() as conn:
        rows = conn.execute(reachable(CONTACTS.c.language, SUBSCRIPTIONS.c.channel, CONTACTS.c.last_inbound_at,
                                      country=country)).all()
    recipients = dict.fromkeys(composed, 0)
    templates = dict.fromkeys(composed, 0)
    for language, channel, last_inbound in rows:
        lang = pick_language(composed, language)
        recipients[lang] += 1
        if channel == "whatsapp" and not in_window(last_inbound, now):
            templates[lang] += 1
    out = []
    for lang, text in composed.items():
        sms = to_gsm7(text)
        info = sms_info(sms)
        out.append(Preview(lang, text, sms, info.segments, info.encoding, recipients[lang], templates[lang]))
    return out


def create(engine: Engine, *, country: str, composed: dict[str, str], created_by: str) -> int:
    """Store an alert and one pending delivery per subscriber who has not opted out, in one transaction."""
    now = utcnow()
    with engine.begin() as conn:
        alert_id = conn.execute(insert(ALERTS).values(
            country=country, texts=json.dumps(composed, ensure_ascii=False), status="sending",
            created_by=created_by, created_at=now, heartbeat_at=now).returning(ALERTS.c.id)).scalar_one()
        eligible = reachable(literal(alert_id), SUBSCRIPTIONS.c.contact_id, SUBSCRIPTIONS.c.id, literal("pending"),
                             literal(0), literal(False), literal(now), country=country)
        conn.execute(insert(DELIVERIES).from_select(
            ["alert_id", "contact_id", "subscription_id", "status", "attempts", "template", "updated_at"], eligible))
    return int(alert_id)


# --- how it went ---

def counts(engine: Engine, alert_id: int) -> dict[str, int]:
    """Deliveries of an alert per group (pending, queued, sent, delivered, read, failed, skipped) and total."""
    return counts_of(engine, [alert_id])[alert_id]


def counts_of(engine: Engine, alert_ids: list[int]) -> dict[int, dict[str, int]]:
    """The counts of several alerts, in one query."""
    with engine.connect() as conn:
        rows = conn.execute(select(DELIVERIES.c.alert_id, DELIVERIES.c.status, func.count())
                            .where(DELIVERIES.c.alert_id.in_(alert_ids))
                            .group_by(DELIVERIES.c.alert_id, DELIVERIES.c.status)).all()
    result = {alert_id: dict.fromkeys((*COUNT_ORDER, "total"), 0) for alert_id in alert_ids}
    for alert_id, status, n in rows:
        result[alert_id][GROUPS.get(status, "queued")] += n
        result[alert_id]["total"] += n
    return result


def get(engine: Engine, alert_id: int) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(select(ALERTS).where(ALERTS.c.id == alert_id)).mappings().first()
    if row is None:
        return None
    return {**row, "texts": json.loads(row["texts"])}


def recent(engine: Engine, *, limit: int = 50) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(ALERTS).order_by(ALERTS.c.id.desc()).limit(limit)).mappings().all()
    return [{**row, "texts": json.loads(row["texts"])} for row in rows]


def failures(engine: Engine, alert_id: int) -> dict[str, int]:
    """Why deliveries failed: error code (or reason) -> count."""
    with engine.connect() as conn:
        rows = conn.execute(select(DELIVERIES.c.error_code, DELIVERIES.c.error, func.count())
                            .where(DELIVERIES.c.alert_id == alert_id,
                                   DELIVERIES.c.status.in_(("failed", "undelivered", "skipped")))
                            .group_by(DELIVERIES.c.error_code, DELIVERIES.c.error)).all()
    return {(str(code) if code else (error or "?")): n for code, error, n in rows}


def compose_all(kb: KnowledgeBase, *, country: str, texts: dict[str, str], locales_dir: Path) -> dict[str, str]:
    """Every language's text as sent; raises AlertError for a bad country, language or length."""
    cleaned = validate(country, texts, countries=set(kb.countries))
    return {lang: compose(text, language=lang, country_name=kb.country_name(country, lang), locales_dir=locales_dir)
            for lang, text in cleaned.items()}


def start(engine: Engine, queue: "Queue", *, kb: KnowledgeBase, settings: Settings, country: str,
          texts: dict[str, str], created_by: str) -> int:
    """Validate, compose, store and hand an alert to the queue; returns its id."""
    composed = compose_all(kb, country=country, texts=texts, locales_dir=settings.locales_dir)
    alert_id = create(engine, country=country, composed=composed, created_by=created_by)
    try:
        queue.start_alert(alert_id)
    except Exception:  # the alert is stored: a worker's recovery starts it once the queue is back
        log.exception("alert %s stored but not queued: a worker will start it when the queue is reachable", alert_id)
    return alert_id


def progress_line(counts: dict[str, int], *, width: int = 30) -> str:
    """A one-line progress bar: done = everything that is no longer waiting to be sent."""
    total = counts["total"]
    done = total - counts["pending"]
    filled = int(width * done / total) if total else width
    parts = " ".join(f"{name} {counts[name]}" for name in COUNT_ORDER if counts[name])
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}  {parts}"
