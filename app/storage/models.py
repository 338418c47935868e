"""The tables: contacts (hashed addresses only), the message log and delivery statuses."""

from datetime import UTC, datetime

from sqlalchemy import Column, Index, Table, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Now, as an aware UTC datetime (SQLModel stores it as UTC on both databases)."""
    return datetime.now(UTC)


class Contact(SQLModel, table=True):
    """One person, known only by a keyed hash of their address."""

    __tablename__ = "contacts"

    id: int | None = Field(default=None, primary_key=True)
    address_hash: str = Field(max_length=64, unique=True, index=True)
    channel: str = Field(max_length=16)
    language: str | None = Field(default=None, max_length=8)
    country: str | None = Field(default=None, max_length=2)
    opted_out: bool = False
    opted_out_at: datetime | None = None
    silenced_until: datetime | None = None
    window_started_at: datetime | None = None  # the flood guard counts replies per window on the contact itself
    window_replies: int = 0
    state: str = Field(default="{}", sa_column=Column(Text, nullable=False, server_default="{}"))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    last_inbound_at: datetime | None = None


class Message(SQLModel, table=True):
    """The message log; an inbound row also holds the reply given, for duplicate deliveries."""

    __tablename__ = "messages"

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int | None = Field(default=None, foreign_key="contacts.id", index=True)
    direction: str = Field(max_length=3)  # "in" or "out"
    message_sid: str | None = Field(default=None, max_length=64, unique=True)
    channel: str = Field(max_length=16)
    status: str = Field(default="done", max_length=16)  # inbound: "processing" until the reply is stored
    reply: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    intent: str | None = Field(default=None, max_length=64)
    topic: str | None = Field(default=None, max_length=32)
    country: str | None = Field(default=None, max_length=2)
    language: str | None = Field(default=None, max_length=8)
    confidence: float | None = None
    engine: str | None = Field(default=None, max_length=16)
    latency_ms: float | None = None
    answered: bool | None = None
    entry: str | None = Field(default=None, max_length=64)  # the specific entry answered
    useful: bool | None = None  # the person's answer to "was it useful?" (on the row of that answer)
    test: bool = False  # the console's simulator: kept out of the insights
    created_at: datetime = Field(default_factory=utcnow, index=True)


class DeliveryStatus(SQLModel, table=True):
    """The latest delivery status Twilio reported for one outbound message."""

    __tablename__ = "delivery_statuses"

    id: int | None = Field(default=None, primary_key=True)
    message_sid: str = Field(max_length=64, unique=True)
    status: str = Field(max_length=32)  # Twilio's longest: partially_delivered
    error_code: int | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    """A person of the country office who uses the console."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, index=True)
    password_hash: str = Field(max_length=256)
    role: str = Field(max_length=16)  # editor | operator | admin
    created_at: datetime = Field(default_factory=utcnow)


class ConsoleSession(SQLModel, table=True):
    """A logged-in console session; the cookie holds a random token, the table only its hash."""

    __tablename__ = "console_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    csrf_token: str = Field(max_length=64)
    expires_at: datetime


class Subscription(SQLModel, table=True):
    """A person who asked for a country's alerts. The address is kept encrypted, only while subscribed."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("contact_id", "country"),)

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contacts.id", index=True)
    country: str = Field(max_length=2, index=True)
    channel: str = Field(max_length=16)
    address_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    sender: str = Field(default="", max_length=64)  # our number the person wrote to (not personal data)
    created_at: datetime = Field(default_factory=utcnow)


class Alert(SQLModel, table=True):
    """A message from the country office to everyone subscribed to a country's alerts."""

    __tablename__ = "alerts"

    id: int | None = Field(default=None, primary_key=True)
    country: str = Field(max_length=2, index=True)
    texts: str = Field(sa_column=Column(Text, nullable=False))  # JSON {language: text}
    status: str = Field(default="sending", max_length=16)  # sending | done
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    heartbeat_at: datetime | None = None  # the last time a queue worker delivered some of it
    finished_at: datetime | None = None


class AlertDelivery(SQLModel, table=True):
    """One alert to one contact: the unique pair is what makes sending idempotent."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "contact_id"),
                      Index("ix_alert_deliveries_claim", "alert_id", "status", "next_attempt_at"))

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alerts.id")
    contact_id: int | None = Field(default=None, foreign_key="contacts.id", index=True)
    subscription_id: int | None = Field(default=None, foreign_key="subscriptions.id")
    # pending -> sending -> queued/sent/delivered/read (Twilio) | failed | undelivered | skipped
    status: str = Field(default="pending", max_length=32)
    attempts: int = 0
    next_attempt_at: datetime | None = None
    lease_until: datetime | None = None
    claimed_at: datetime | None = None
    message_sid: str | None = Field(default=None, max_length=64, unique=True)
    template: bool = False
    error_code: int | None = None
    error: str | None = Field(default=None, max_length=200)
    updated_at: datetime = Field(default_factory=utcnow)


class Handover(SQLModel, table=True):
    """A conversation handed to a person of the office; the bot is silent while it is open."""

    __tablename__ = "handovers"

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int | None = Field(default=None, foreign_key="contacts.id", index=True)
    status: str = Field(default="open", max_length=16, index=True)  # open | closed
    priority: int = 0  # 1: a danger message opened it
    reason: str = Field(default="asked", max_length=16)  # asked | danger
    channel: str = Field(max_length=16)
    language: str | None = Field(default=None, max_length=8)
    country: str | None = Field(default=None, max_length=2)
    address_encrypted: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # wiped on close
    sender: str = Field(default="", max_length=64)
    opened_at: datetime = Field(default_factory=utcnow)
    last_inbound_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str | None = Field(default=None, max_length=64)


class LoginAttempt(SQLModel, table=True):
    """Console logins tried within a window, per client address and per (address, name); the key is a hash."""

    __tablename__ = "login_attempts"

    key: str = Field(primary_key=True, max_length=64)
    attempts: int = 0
    window_started_at: datetime = Field(default_factory=utcnow)


def _table(model: type[SQLModel]) -> Table:
    """The Core table of a model, for the statements that bypass the ORM."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # SQLModel sets it without declaring it
    return table


CONTACTS = _table(Contact)
MESSAGES = _table(Message)
STATUSES = _table(DeliveryStatus)
USERS = _table(User)
CONSOLE_SESSIONS = _table(ConsoleSession)
SUBSCRIPTIONS = _table(Subscription)
ALERTS = _table(Alert)
DELIVERIES = _table(AlertDelivery)
HANDOVERS = _table(Handover)
LOGIN_ATTEMPTS = _table(LoginAttempt)
