"""A first deployment: several processes migrating one empty database at once, and an image without bot/."""

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app.main import create_app
from app.understanding.router import NoTrainingData
from tests.conftest import ROOT, make_settings, settings_env


@pytest.fixture
def empty_postgres(postgres_url: str | None):  # type: ignore[no-untyped-def]
    if postgres_url is None:
        pytest.skip("TEST_DATABASE_URL names no PostgreSQL database")
    admin = create_engine(make_url(postgres_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    name = f"migrantinfo_empty_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_six_processes_migrate_one_empty_database_at_once(empty_postgres: str, tmp_path: Path) -> None:
    env = settings_env(make_settings(empty_postgres))
    processes = [subprocess.Popen([sys.executable, "-m", "app.cli", "db", "upgrade"], env=env, cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(6)]
    outputs = [(p.wait(timeout=120), p.stdout.read().decode(errors="replace")) for p in processes]  # type: ignore[union-attr]
    for p in processes:
        p.stdout.close()  # type: ignore[union-attr]
    assert [code for code, _ in outputs] == [0] * 6, "\n".join(out for _, out in outputs)
    assert not any("UniqueViolation" in out or "Traceback" in out for _, out in outputs)
    engine = create_engine(make_url(empty_postgres).set(drivername="postgresql+psycopg"))
    with engine.connect() as conn:
        assert "messages" in inspect(conn).get_table_names()
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    engine.dispose()


def test_the_app_refuses_to_start_without_training_data(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'test.db'}", bot_dir=tmp_path / "no-bot", content_watch_seconds=0)
    with pytest.raises(NoTrainingData, match="no training examples in .*no-bot"):
        with TestClient(create_app(settings)):
            pass


def test_the_image_ships_the_training_data() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "COPY bot/ bot/" in dockerfile and "BOT_DIR=/app/bot" in dockerfile
    assert not any(pattern in ("bot", "bot/", "bot/data", "bot/data/nlu") for pattern in ignored)
    assert list((ROOT / "bot" / "data" / "nlu").glob("*.yml"))


def test_a_database_at_the_last_migration_starts_without_alembic(tmp_path: Path) -> None:
    """The app skips Alembic (10 MB, a tenth of a second) when nothing is to migrate: the head it reads from the
    migration files is Alembic's own, and a database one migration behind is still brought up to it."""
    from alembic.script import ScriptDirectory

    from app.storage.db import alembic_config, current_revision, head_revision, make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    assert head_revision() == ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    from alembic import command

    command.downgrade(alembic_config(engine), "-1")
    assert current_revision(engine) != head_revision()
    upgrade(engine)
    assert current_revision(engine) == head_revision() and inspect(engine).has_table("alembic_version")
    engine.dispose()
    code = ("import sys; from app.storage.db import make_engine, upgrade; "
            f"upgrade(make_engine({str('sqlite:///' + str(tmp_path / 'test.db'))!r})); "
            "print('alembic' in sys.modules)")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"
