"""Shared fixtures: a real SQLite file and (when TEST_DATABASE_URL is set) a real PostgreSQL database."""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from twilio.request_validator import RequestValidator

from app.config import ROOT, Settings
from app.main import create_app
from app.storage.db import make_engine, upgrade

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "test-auth-token-0123456789"
BASE = "https://bot.example.org"
SNAPSHOTS = Path(tempfile.mkdtemp(prefix="migrantinfo-snapshot-"))  # shared: a test of snapshots names its own
atexit.register(shutil.rmtree, SNAPSHOTS, ignore_errors=True)
# One trained engine for every app and process of the run (CLI commands inherit the environment, workers and
# uvicorn get it from settings_env): trained by the first, loaded by the others.
ENGINE_CACHE = Path(tempfile.mkdtemp(prefix="migrantinfo-engine-"))
atexit.register(shutil.rmtree, ENGINE_CACHE, ignore_errors=True)
os.environ["ENGINE_CACHE_DIR"] = str(ENGINE_CACHE)
TABLES = ("alert_deliveries", "alerts", "subscriptions", "handovers", "messages", "contacts", "delivery_statuses",
          "console_sessions", "login_attempts", "users")


def _postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A scratch PostgreSQL database for this run, dropped at the end."""
    url = _postgres_url()
    if url is None:
        yield None
        return
    name = f"migrantinfo_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    scratch = make_url(url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(scratch)
    upgrade(engine)
    engine.dispose()
    yield scratch
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "empty_database: the SQLite database starts empty, its migrations not run")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once: each test copies it rather than running every migration again."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection closed: the WAL is written back into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str | None) -> str:
    """Every store and webhook test runs on both databases, migrated (on SQLite, unless marked empty_database)."""
    if request.param == "sqlite":
        if not request.node.get_closest_marker("empty_database"):
            shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "test.db")
        return f"sqlite:///{tmp_path / 'test.db'}"
    if postgres_url is None:
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail("REQUIRE_POSTGRES is set but TEST_DATABASE_URL names no PostgreSQL database")
        pytest.skip("TEST_DATABASE_URL is not set")
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return postgres_url


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        database_url=database_url,
        twilio_auth_token=TOKEN,
        hash_secret="test-hash-secret-0123456789",
        public_base_url=BASE,
        content_dir=ROOT / "content",
        content_snapshot_dir=SNAPSHOTS,
        engine_cache_dir=ENGINE_CACHE,
        locales_dir=ROOT / "locales",
        flood_max_replies=1000,
        queue_path=Path(tempfile.mkdtemp(prefix="migrantinfo-queue-")) / "queue.db",
        inbox_dir=Path(tempfile.mkdtemp(prefix="migrantinfo-inbox-")),
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=BASE) as test_client:
        yield test_client


def sign(url: str, params: dict[str, str] | list[tuple[str, str]], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, dict(params))


def form_of(name: str, **changes: str) -> dict[str, str]:
    """A captured Twilio body from tests/fixtures/twilio, with some fields changed."""
    raw = (FIXTURES / "twilio" / f"{name}.form").read_text().strip()
    params = dict(parse_qsl(raw, keep_blank_values=True))
    params.update(changes)
    return params


def post_signed(client: TestClient, params: dict[str, str], path: str = "/webhooks/twilio", *,
                signature: str | None = None):  # type: ignore[no-untyped-def]
    body = urlencode(params)
    headers = {"content-type": "application/x-www-form-urlencoded",
               "x-twilio-signature": sign(BASE + path, params) if signature is None else signature}
    return client.post(path, content=body, headers=headers)


def new_sid(prefix: str = "SM") -> str:
    return prefix + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """The real app under uvicorn on a loopback port, in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        # the first app of a test process trains the engine and builds the entries' index: over a minute on a
        # slow 2-core machine with the other test process busy
        deadline = time.monotonic() + 300
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives another process (a queue worker, uvicorn) the same settings."""
    import json

    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYENV_ROOT")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        env[name.upper()] = json.dumps(value) if isinstance(value, dict | list) else str(value)
    env["PYTHONPATH"] = str(ROOT)
    return env


class Worker:
    """`migrantinfo worker` as a real process, which a test may kill and start again."""

    def __init__(self, settings: Settings, log_dir: Path, name: str = "worker") -> None:
        self.env = settings_env(settings)
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Worker":
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=self.env, cwd=ROOT,
                                            stdout=log, stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> "Worker":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def wait_for(predicate, *, timeout: float, what: str, every: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


@pytest.fixture(params=["sqlite", "redis"])
def queue_storage(request: pytest.FixtureRequest) -> str:
    """The queue runs on both of its storages: Huey's SQLite file and Redis."""
    if request.param == "redis":
        require_redis()
    return request.param


def require_redis() -> None:
    """Skip without Redis, or fail where CI promises every service (REQUIRE_POSTGRES)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError:
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}")
        pytest.skip("Redis is not running")


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def queue_settings(database_url: str, storage: str, twilio_url: str, tmp_path: Path, **overrides: object) -> Settings:
    """Settings for a run of the queue against the loopback Twilio, on one storage, with its own names."""
    from tests.fake_twilio import ACCOUNT

    values: dict[str, object] = dict(
        twilio_account_sid=ACCOUNT, twilio_api_base_url=twilio_url, queue_name=f"test-{uuid.uuid4().hex[:10]}",
        queue_path=tmp_path / "queue.db", redis_url=REDIS_URL if storage == "redis" else "",
        sms_mps=1000, whatsapp_mps=1000, alert_lease_seconds=2.0, alert_retry_seconds=0.2, queue_workers=4, alert_loops=4,
        whatsapp_alert_templates={"es": "HX" + "e" * 32, "en": "HX" + "a" * 32, "fr": "HX" + "f" * 32,
                                  "ht": "HX" + "c" * 32},
        twilio_sms_from="+5255000001", twilio_whatsapp_from="whatsapp:+5255000000", api_token="test-api-token",
        content_watch_seconds=0,
    )
    values.update(overrides)
    return make_settings(database_url, **values)
