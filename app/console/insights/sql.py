"""The insights' figures, aggregated in the database: messages per day and value, problems, opt-outs, failures.

Counts are grouped in the database (GROUP BY day and value, a few hundred rows back whatever the size of the
log); only the grouping of unanswered texts runs in Python, over the newest GROUP_LIMIT of them, because
folding accents and dropping common words cannot be written portably in SQL. Test messages (the console's
simulator) are left out everywhere.

On SQLite every transaction starts with BEGIN IMMEDIATE (app/storage/db.py), so even a read holds the writer lock: each
query runs on its own short connection, and a message being answered waits for one query at most.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Date, and_, case, cast, exists, func, literal_column, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ColumnElement, Select
from sqlmodel import col

from app.console.insights.words import similarity_key
from app.privacy import mask_text
from app.storage.models import Contact, DeliveryStatus, Message, utcnow

DIMENSIONS = ("channel", "country", "topic", "language", "engine")
EVENTS = {"opt_out": "opt_out", "erase_done": "erasure"}  # intent -> name in the CSV
FAILED = ("failed", "undelivered")
LOW_CONFIDENCE = 0.5
GROUP_LIMIT = 500  # the newest unanswered or low-confidence texts grouped in Python


def first_day(days: int, *, now: datetime | None = None) -> date:
    return (now or utcnow()).date() - timedelta(days=days - 1)


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_of(engine: Engine) -> ColumnElement:
    """The UTC calendar day of a message, computed by the database."""
    if engine.dialect.name == "postgresql":
        # A literal, not a bound parameter: PostgreSQL would see two different $n in SELECT and GROUP BY.
        return cast(func.timezone(literal_column("'UTC'"), Message.created_at), Date)
    return func.date(Message.created_at)


def _day_text(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _inbound(since: datetime) -> tuple[ColumnElement, ...]:
    return col(Message.direction) == "in", col(Message.test).is_(False), col(Message.created_at) >= since


def _problem() -> ColumnElement:
    """Unanswered, or answered by an engine with a low confidence (keywords are always sure)."""
    return or_(col(Message.answered).is_(False),
               and_(col(Message.answered).is_(True), col(Message.confidence) < LOW_CONFIDENCE,
                    col(Message.engine) != "keywords"))


def _rows(engine: Engine, statement: Select) -> list:
    with engine.connect() as conn:  # one short connection per query (see the module's docstring)
        return list(conn.execute(statement).all())


def daily_counts(engine: Engine, since: datetime) -> dict[str, Counter]:
    """Inbound messages per (day, value) of each dimension, and opt-outs and erasures per day ("event")."""
    day = day_of(engine)
    counts: dict[str, Counter] = {}
    for dimension in DIMENSIONS:
        column = getattr(Message, dimension)
        rows = _rows(engine, select(day, column, func.count()).where(*_inbound(since)).group_by(day, column))
        counts[dimension] = Counter({(_day_text(d), value): n for d, value, n in rows})
    rows = _rows(engine, select(day, col(Message.intent), func.count())
                 .where(*_inbound(since), col(Message.intent).in_(EVENTS))
                 .group_by(day, col(Message.intent)))
    counts["event"] = Counter({(_day_text(d), EVENTS[intent]): n for d, intent, n in rows})
    return counts


def problem_totals(engine: Engine, since: datetime) -> tuple[int, int]:
    """All unanswered and low-confidence messages of the period (with or without a stored text)."""
    low = and_(col(Message.answered).is_(True), col(Message.confidence) < LOW_CONFIDENCE,
               col(Message.engine) != "keywords")
    row = _rows(engine, select(func.coalesce(func.sum(case((col(Message.answered).is_(False), 1), else_=0)), 0),
                               func.coalesce(func.sum(case((low, 1), else_=0)), 0))
                .where(*_inbound(since), _problem()))[0]
    return int(row[0]), int(row[1])


@dataclass
class Group:
    """Unanswered or low-confidence texts that say the same thing."""

    key: str
    texts: list[str] = field(default_factory=list)  # distinct masked texts, newest first
    count: int = 0
    unanswered: int = 0
    low_confidence: int = 0
    languages: Counter = field(default_factory=Counter)
    last_seen: datetime | None = None

    @property
    def sample(self) -> str:
        return self.texts[0] if self.texts else ""


def problem_groups(engine: Engine, since: datetime, *, limit: int = GROUP_LIMIT) -> tuple[list[Group], int]:
    """The newest `limit` problem texts of the period grouped by similarity_key, largest groups first;
    and how many texts were grouped."""
    rows = _rows(engine, select(col(Message.text), col(Message.answered), col(Message.language),
                                col(Message.created_at))
                 .where(*_inbound(since), col(Message.text).is_not(None), _problem())
                 .order_by(col(Message.created_at).desc(), col(Message.id).desc()).limit(limit))
    groups: dict[str, Group] = {}
    for text, answered, language, created_at in rows:
        masked = mask_text(text)  # stored masked already: masked again in case the rules grew since
        group = groups.setdefault(similarity_key(masked), Group(key=similarity_key(masked), last_seen=created_at))
        group.count += 1
        if answered:
            group.low_confidence += 1
        else:
            group.unanswered += 1
        if language:
            group.languages[language] += 1
        if masked not in group.texts:
            group.texts.append(masked)
    # Groups were made newest first, and the sort is stable: among equal counts, the most recent leads.
    return sorted(groups.values(), key=lambda g: -g.count), len(rows)


@dataclass
class EntryUse:
    """How often a specific entry was served, and what people said when asked whether it was useful."""

    entry: str
    served: int
    useful: int
    not_useful: int


def entry_uses(engine: Engine, since: datetime) -> list[EntryUse]:
    """Per entry: answers given and feedback received in the period, most served first."""
    feedback = col(Message.intent) == "feedback"
    rows = _rows(engine, select(
        col(Message.entry),
        func.sum(case((feedback, 0), else_=1)),
        func.sum(case((and_(feedback, col(Message.useful).is_(True)), 1), else_=0)),
        func.sum(case((and_(feedback, col(Message.useful).is_(False)), 1), else_=0)),
    ).where(*_inbound(since), col(Message.entry).is_not(None)).group_by(col(Message.entry)))
    uses = [EntryUse(entry, int(served or 0), int(yes or 0), int(no or 0)) for entry, served, yes, no in rows]
    return sorted(uses, key=lambda u: (-u.served, u.entry))


def opted_out_contacts(engine: Engine) -> int:
    """People opted out now; contacts seen only through the simulator are left out."""
    real = exists().where(col(Message.contact_id) == col(Contact.id), col(Message.test).is_(False))
    return int(_rows(engine, select(func.count()).select_from(Contact)
                     .where(col(Contact.opted_out).is_(True), real))[0][0])


@dataclass
class Failure:
    code: int | None
    failed: int = 0
    undelivered: int = 0

    @property
    def total(self) -> int:
        return self.failed + self.undelivered


def delivery_failures(engine: Engine, since: datetime) -> list[Failure]:
    """Failed and undelivered messages of the period by Twilio ErrorCode, most frequent first.

    The simulator sends nothing through Twilio, so no status of a test message can be among them.
    """
    rows = _rows(engine, select(col(DeliveryStatus.error_code), col(DeliveryStatus.status), func.count())
                 .where(col(DeliveryStatus.status).in_(FAILED), col(DeliveryStatus.updated_at) >= since)
                 .group_by(col(DeliveryStatus.error_code), col(DeliveryStatus.status)))
    failures: dict[int | None, Failure] = {}
    for code, status, n in rows:
        failure = failures.setdefault(code, Failure(code))
        if status == "failed":
            failure.failed += n
        else:
            failure.undelivered += n
    return sorted(failures.values(), key=lambda f: (-f.total, f.code if f.code is not None else -1))
