"""The database engine (SQLite with WAL by default, PostgreSQL with psycopg 3) and its migrations."""

import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import create_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, *, timeout_seconds: float = 5.0) -> Engine:
    """An engine whose every statement is time-boxed, so a reply never waits on the database for long."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": timeout_seconds}, pool_size=8
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    millis = int(timeout_seconds * 1000)
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=8,
        pool_timeout=timeout_seconds,
        connect_args={"connect_timeout": max(1, int(timeout_seconds)), "options": f"-c statement_timeout={millis}"},
    )


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy, not the sqlite3 module, open transactions: savepoints and rollbacks then work.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front, so concurrent writers wait (busy timeout) instead of
    # failing when a read transaction later tries to write. A connection marked read_only only reads.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("read_only") else "BEGIN IMMEDIATE")


def reachable(engine: Engine) -> bool:
    """Whether the database answers a trivial query (for /readyz and the console's Health page)."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    except Exception:
        return False


def alembic_config(engine: Engine) -> "Config":
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the latest migration (Alembic is loaded only when there is one to run)."""
    if current_revision(engine) == head_revision():
        return
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def head_revision() -> str | None:
    """The last migration: the one no other follows (None if the chain has several heads: Alembic decides)."""
    found = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text()
        revision = re.search(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", source, re.M)
        down = re.search(r"^down_revision\s*=\s*(?:['\"]([^'\"]+)['\"]|None)", source, re.M)
        if revision is None or down is None:
            return None
        found[revision.group(1)] = down.group(1)
    heads = set(found) - set(found.values())
    return heads.pop() if len(heads) == 1 else None


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None for a new database)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return versions[0] if len(versions) == 1 else None
