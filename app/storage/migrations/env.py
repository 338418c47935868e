"""Alembic environment: runs against the engine the app hands over."""

from alembic import context
from sqlmodel import SQLModel

from app.storage import models  # noqa: F401  (registers the tables)

# Any number that no other program on the same PostgreSQL server uses for an advisory lock.
MIGRATION_LOCK = 0x6D6967726E74

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        # Several processes start at once (uvicorn workers, queue workers): one migrates, the others wait for it
        # here and then find nothing left to do. The lock ends with this transaction.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
