"""Console accounts: argon2 password hashes, server-side sessions that expire, CSRF tokens, login throttling."""

import hashlib
import hmac
import ipaddress
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.storage.models import CONSOLE_SESSIONS, LOGIN_ATTEMPTS, USERS, utcnow

log = logging.getLogger(__name__)
ROLES = ("editor", "operator", "admin")
NAMES_PER_CLIENT = 4  # one address may try this many names' worth of attempts (an office behind one NAT)
_hasher = PasswordHasher()
# Verified when the name is unknown, so a wrong name costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password")


class AuthError(ValueError):
    """The login or the account cannot be accepted; the message says why."""


class LoginThrottled(AuthError):
    """Too many attempts from this address (for this name) within the window: refused without checking."""


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    csrf_token: str


def add_user(engine: Engine, *, name: str, password: str, role: str) -> None:
    """Create a console account; the password is stored only as an argon2 hash."""
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 10:
        raise AuthError("the password must have at least 10 characters")
    try:
        with engine.begin() as conn:
            conn.execute(insert(USERS).values(name=name, password_hash=_hasher.hash(password), role=role,
                                              created_at=utcnow()))
    except IntegrityError:
        raise AuthError(f"a user named {name!r} exists already") from None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _key(*parts: str) -> str:
    """A counter's key: a hash, so the table holds neither addresses nor names."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def client_of(host: str | None) -> str:
    """The address a login comes from; IPv6 counts per /64, the block one machine usually holds."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return host or "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _reserve(conn: Connection, key: str, *, now: datetime, since: datetime) -> int:
    """Count one more attempt under a key in one atomic statement; returns the attempts in the window so far."""
    upsert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stale = LOGIN_ATTEMPTS.c.window_started_at < since
    statement = upsert(LOGIN_ATTEMPTS).values(key=key, attempts=1, window_started_at=now).on_conflict_do_update(
        index_elements=[LOGIN_ATTEMPTS.c.key],
        set_={"attempts": case((stale, 1), else_=LOGIN_ATTEMPTS.c.attempts + 1),
              "window_started_at": case((stale, now), else_=LOGIN_ATTEMPTS.c.window_started_at)},
    ).returning(LOGIN_ATTEMPTS.c.attempts)
    return int(conn.execute(statement).scalar_one())


def log_in(engine: Engine, *, name: str, password: str, client: str, hours: float, max_failures: int,
           window_seconds: int) -> str:
    """Check the password and open a session; returns the session token for the cookie.

    Every attempt is counted before the password is checked, per client address and per (address, name), so
    parallel guesses cannot slip through between a count and an insert, and a stranger elsewhere cannot lock
    an operator out. A success gives its attempts back.
    """
    now = utcnow()
    since = now - timedelta(seconds=window_seconds)
    keys = _key("client", client), _key("name", client, name)  # always in this order: no deadlocks
    with engine.begin() as conn:
        per_client = _reserve(conn, keys[0], now=now, since=since)
        per_name = _reserve(conn, keys[1], now=now, since=since)
    if per_name > max_failures or per_client > max_failures * NAMES_PER_CLIENT:
        raise LoginThrottled("too many failed attempts: wait a few minutes and try again")
    with engine.connect() as conn:
        user = conn.execute(select(USERS).where(USERS.c.name == name)).first()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        valid = True
    except (VerificationError, InvalidHashError):
        valid = False
    if user is None or not valid:
        raise AuthError("wrong name or password")
    with engine.begin() as conn:
        conn.execute(update(LOGIN_ATTEMPTS).where(LOGIN_ATTEMPTS.c.key == keys[0], LOGIN_ATTEMPTS.c.attempts > 0)
                     .values(attempts=LOGIN_ATTEMPTS.c.attempts - 1))
        conn.execute(delete(LOGIN_ATTEMPTS).where(LOGIN_ATTEMPTS.c.key == keys[1]))
        conn.execute(delete(CONSOLE_SESSIONS).where(CONSOLE_SESSIONS.c.expires_at < now))
        token = secrets.token_urlsafe(32)
        conn.execute(insert(CONSOLE_SESSIONS).values(token_hash=_token_hash(token), user_id=user.id,
                                             csrf_token=secrets.token_urlsafe(24),
                                             expires_at=now + timedelta(hours=hours)))
    try:  # counters of windows gone by; apart, so that it can never cost the login
        with engine.begin() as conn:
            conn.execute(delete(LOGIN_ATTEMPTS).where(LOGIN_ATTEMPTS.c.window_started_at < since))
    except DBAPIError:
        log.warning("old login counters were not cleaned up; the next login tries again", exc_info=True)
    return token


def account_for(engine: Engine, token: str | None) -> Account | None:
    """The account of a live session token, or None."""
    if not token:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(USERS.c.id, USERS.c.name, USERS.c.role, CONSOLE_SESSIONS.c.csrf_token, CONSOLE_SESSIONS.c.expires_at)
            .join(CONSOLE_SESSIONS, CONSOLE_SESSIONS.c.user_id == USERS.c.id)
            .where(CONSOLE_SESSIONS.c.token_hash == _token_hash(token))
        ).first()
    if row is None or row.expires_at <= utcnow():
        return None
    return Account(row.id, row.name, row.role, row.csrf_token)


def log_out(engine: Engine, token: str | None) -> None:
    if token:
        with engine.begin() as conn:
            conn.execute(delete(CONSOLE_SESSIONS).where(CONSOLE_SESSIONS.c.token_hash == _token_hash(token)))


def csrf_matches(account: Account, sent: object) -> bool:
    """Whether the token sent (a form field of any kind, or a header) is the session's."""
    return bool(sent) and hmac.compare_digest(account.csrf_token.encode(), str(sent).encode())
