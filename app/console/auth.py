"""Console accounts: argon2 password hashes, server-side sessions that expire, CSRF tokens, login throttling."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.models import ConsoleSession, LoginFailure, User, utcnow

ROLES = ("editor", "operator", "admin")
USERS = User.__table__  # type: ignore[attr-defined]
SESSIONS = ConsoleSession.__table__  # type: ignore[attr-defined]
FAILURES = LoginFailure.__table__  # type: ignore[attr-defined]
_hasher = PasswordHasher()
# Verified when the name is unknown, so a wrong name costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password")


class AuthError(ValueError):
    """The login or the account cannot be accepted; the message says why."""


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


def log_in(engine: Engine, *, name: str, password: str, hours: float, max_failures: int,
           window_seconds: int) -> str:
    """Check the password and open a session; returns the session token for the cookie."""
    now = utcnow()
    with engine.begin() as conn:
        since = now - timedelta(seconds=window_seconds)
        failures = conn.execute(select(func.count()).select_from(FAILURES).where(
            FAILURES.c.name == name, FAILURES.c.at >= since)).scalar_one()
        if failures >= max_failures:
            raise AuthError("too many failed attempts: wait a few minutes and try again")
        user = conn.execute(select(USERS).where(USERS.c.name == name)).first()
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
            valid = user is not None
        except (VerificationError, InvalidHashError):
            valid = False
        if not valid:  # recorded, and committed, before the refusal is raised
            conn.execute(insert(FAILURES).values(name=name, at=now))
    if not valid:
        raise AuthError("wrong name or password")
    with engine.begin() as conn:
        conn.execute(delete(FAILURES).where(FAILURES.c.name == name))
        conn.execute(delete(SESSIONS).where(SESSIONS.c.expires_at < now))
        token = secrets.token_urlsafe(32)
        conn.execute(insert(SESSIONS).values(token_hash=_token_hash(token), user_id=user.id,
                                             csrf_token=secrets.token_urlsafe(24),
                                             expires_at=now + timedelta(hours=hours)))
    return token


def account_for(engine: Engine, token: str | None) -> Account | None:
    """The account of a live session token, or None."""
    if not token:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(USERS.c.id, USERS.c.name, USERS.c.role, SESSIONS.c.csrf_token, SESSIONS.c.expires_at)
            .join(SESSIONS, SESSIONS.c.user_id == USERS.c.id)
            .where(SESSIONS.c.token_hash == _token_hash(token))
        ).first()
    if row is None or row.expires_at <= utcnow():
        return None
    return Account(row.id, row.name, row.role, row.csrf_token)


def log_out(engine: Engine, token: str | None) -> None:
    if token:
        with engine.begin() as conn:
            conn.execute(delete(SESSIONS).where(SESSIONS.c.token_hash == _token_hash(token)))


def csrf_matches(account: Account, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(account.csrf_token.encode(), str(sent).encode())
