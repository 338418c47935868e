"""Shared fixtures: a real SQLite file and (when TEST_DATABASE_URL is set) a real PostgreSQL database."""

import os
import socket
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
from app.db import make_engine, upgrade
from app.main import create_app

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "test-auth-token-0123456789"
BASE = "https://bot.example.org"
TABLES = ("messages", "contacts", "delivery_statuses", "console_sessions", "login_failures", "users")


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


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str | None) -> str:
    """Every store and webhook test runs on both databases."""
    if request.param == "sqlite":
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
        locales_dir=ROOT / "locales",
        flood_max_replies=1000,
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
        deadline = time.monotonic() + 90
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
