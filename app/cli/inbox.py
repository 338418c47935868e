"""`migrantinfo inbox`: what the inbox journals still owe."""

import argparse

from app.config import get_settings


def inbox(_: argparse.Namespace) -> int:
    """What the inbox journals still owe, and the messages whose answer did not reach the person."""
    from app.conversation.inbox import journals
    from app.storage import store
    from app.storage.db import make_engine

    settings = get_settings()
    owed = journals(settings.inbox_dir) if settings.inbox_dir.exists() else []
    for path, pending, alive in owed:
        print(f"{path.name}: {pending} not answered yet ({'its process runs' if alive else 'adopted at next start'})")
    engine = make_engine(settings.database_url, timeout_seconds=settings.db_timeout_seconds)
    rows = store.unanswered(engine)
    print(f"{sum(p for _, p, _ in owed)} messages in the journals; {len(rows)} answered late or not at all:")
    for row in rows:
        print(f"  {row.created_at:%Y-%m-%d %H:%M} {row.channel:9} {row.status:7} {row.message_sid}  {row.text or ''}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    commands.add_parser("inbox", help="messages not answered yet, or answered late").set_defaults(func=inbox)
