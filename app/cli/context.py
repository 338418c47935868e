"""What several commands start from: the settings, a migrated database and the knowledge base, as the server has them."""

import sys
from typing import TYPE_CHECKING

from app.config import Settings, get_settings

if TYPE_CHECKING:  # the commands import what they need when they run, so that `--help` stays quick
    from sqlalchemy.engine import Engine

    from app.knowledge.live import LiveKnowledge


def load_parts() -> "tuple[Settings, Engine, LiveKnowledge]":
    """The settings, a migrated database engine and the loaded knowledge base, as the server has them."""
    from app.knowledge.live import LiveKnowledge
    from app.storage.db import make_engine, upgrade

    settings = get_settings()
    engine = make_engine(settings.database_url, timeout_seconds=settings.db_timeout_seconds)
    upgrade(engine)
    knowledge = LiveKnowledge.start(settings.content_dir, locales_dir=settings.locales_dir,
                                    snapshot_dir=settings.content_snapshot_dir)
    if (exc := knowledge.last_error) is not None:
        if not knowledge.ready:
            raise SystemExit(f"{exc}\ncontent/ cannot be served and no good version was kept in "
                             f"{settings.content_snapshot_dir}: fix the files (migrantinfo content check)") from None
        print(f"{exc}\ncontent/ has errors: serving the last good version {knowledge.get().version} "
              f"from {settings.content_snapshot_dir}", file=sys.stderr)
    return settings, engine, knowledge
