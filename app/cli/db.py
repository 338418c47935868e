"""`migrantinfo db upgrade` and `migrantinfo purge`."""

import argparse

from app.config import get_settings


def db_upgrade(_: argparse.Namespace) -> int:
    from app.storage.db import make_engine, upgrade

    settings = get_settings()
    upgrade(make_engine(settings.database_url, timeout_seconds=settings.db_timeout_seconds))
    print("database is at the latest migration")
    return 0


def purge(_: argparse.Namespace) -> int:
    from app.storage import store
    from app.storage.db import make_engine

    settings = get_settings()
    engine = make_engine(settings.database_url, timeout_seconds=settings.db_timeout_seconds)
    count = store.purge(engine, retention_days=settings.retention_days)
    print(f"removed the texts of {count} messages older than {settings.retention_days} days")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply the migrations").set_defaults(func=db_upgrade)
    commands.add_parser("purge", help="remove message texts past retention").set_defaults(func=purge)
