"""One settings object for the whole app, read from the environment and an optional .env file."""

import hashlib
import hmac
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = "change-me"


class Settings(BaseSettings):
    """Every setting of the assistant; see the table in README.md."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    database_url: str = f"sqlite:///{ROOT / 'var' / 'migrantinfo.db'}"
    db_timeout_seconds: float = 5.0

    twilio_auth_token: str = ""
    api_token: str = ""
    hash_secret: str = PLACEHOLDER

    engine: Literal["embedded", "rasa"] = "embedded"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_seconds: float = 3.0
    rasa_action_token: str = ""  # Rasa sends it with each custom-action call (bot/endpoints.yml); see action_token
    rasa_breaker_seconds: float = Field(30.0, ge=0)  # after Rasa fails, the embedded engine answers this long
    understanding_threshold: float = Field(0.3, ge=0.0, le=1.0)
    entry_threshold: float = Field(0.4, ge=0.0, le=1.0)  # calibrated confidence to answer a specific entry
    entry_min_score: float = Field(0.22, ge=0.0, le=1.0)  # the least similarity for an entry to be answered or offered
    bot_dir: Path = ROOT / "bot"
    engine_cache_dir: Path = ROOT / "var" / "engine-cache"  # the trained embedded engine, shared by processes
    content_dir: Path = ROOT / "content"
    content_snapshot_dir: Path = ROOT / "var" / "content-last-good"  # served after a restart over broken files
    content_watch_seconds: float = 2.0
    locales_dir: Path = ROOT / "locales"
    default_language: str = "es"

    sms_max_segments: int = Field(3, ge=1, le=10)
    whatsapp_max_chars: int = Field(1600, ge=100, le=1600)

    # Twilio waits 15 s; past this budget an apology answers and the message is answered later (the inbox).
    reply_budget_seconds: float = Field(8.0, gt=0, le=10)
    duplicate_wait_seconds: float = 6.0
    inbox_dir: Path = ROOT / "var" / "inbox"  # the journal of messages not answered yet, one file per process
    inbox_replay_seconds: float = Field(5.0, gt=0)  # how often what the journal owes is looked at
    inbox_replay_after_seconds: float = Field(30.0, gt=0)  # how old an unanswered message is before its replay

    flood_max_replies: int = 20
    flood_window_seconds: int = 60
    flood_silence_seconds: int = 900

    retention_days: int = Field(30, ge=0)
    console_session_hours: float = 12.0
    login_max_failures: int = 5
    login_window_seconds: int = 900
    log_level: str = "INFO"

    # Outbound messages (alerts, operators' replies) through Twilio's REST API, from the queue worker.
    twilio_account_sid: str = ""
    twilio_api_base_url: str = "https://api.twilio.com"  # the tests point it at a loopback server
    twilio_timeout_seconds: float = 10.0
    twilio_sms_from: str = ""  # used when a subscriber's own sender number is not known
    twilio_whatsapp_from: str = ""
    sms_mps: int = Field(1, ge=1)  # messages per second of each SMS sender (long code: 1)
    whatsapp_mps: int = Field(80, ge=1)  # messages per second of each WhatsApp sender
    # Admit this share less than each rate. The limiter holds the rate at Twilio's end whatever the delays (see
    # app/outbound/ratelimit.py), so it needs no headroom for them; what it leaves is room for the TwiML replies the webhook
    # sends from the same numbers, which the limiter does not count (people answering an alert, STOP, ...).
    rate_headroom: float = Field(0.05, ge=0, lt=1)
    whatsapp_alert_templates: dict[str, str] = {}  # language -> approved ContentSid (HX...) with one variable
    # number of choices ("2", "3") -> ContentSid of a twilio/quick-reply template made by `migrantinfo whatsapp
    # templates`: numbered choices then go as buttons (sent through the REST API, inside the 24-hour window)
    whatsapp_choice_templates: dict[str, str] = {}
    address_keys: str = ""  # Fernet keys, comma-separated, the first encrypts; see README
    redis_url: str = ""  # shared queue and rate limits for several workers; empty: SQLite queue, local limits
    queue_path: Path = ROOT / "var" / "queue.db"
    queue_name: str = "migrantinfo"  # several deployments may share one Redis under different names
    queue_workers: int = Field(20, ge=1, le=128)  # task threads per worker process
    alert_loops: int = Field(16, ge=1, le=128)  # sending loops per alert, spread over all workers' threads
    alert_lease_seconds: float = Field(60.0, gt=0)
    alert_max_attempts: int = Field(5, ge=1)
    alert_retry_seconds: float = Field(2.0, ge=0)  # first back-off; doubles per attempt
    handover_on_danger: bool = True

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def signature_required(self) -> bool:
        """Signatures may only be skipped in development with no auth token configured."""
        return self.is_production or bool(self.twilio_auth_token)

    @property
    def action_token(self) -> str:
        """What /rasa/webhook requires: RASA_ACTION_TOKEN, or one derived from HASH_SECRET for the Rasa the app starts."""
        if self.rasa_action_token:
            return self.rasa_action_token
        return hmac.new(self.hash_secret.encode(), b"rasa-action-token", hashlib.sha256).hexdigest()

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> "Settings":
        if not self.is_production:
            return self
        problems = []
        if self.hash_secret in ("", PLACEHOLDER) or len(self.hash_secret) < 16:
            problems.append("HASH_SECRET must be a random secret of at least 16 characters")
        if self.twilio_auth_token in ("", PLACEHOLDER):
            problems.append("TWILIO_AUTH_TOKEN must be your Twilio auth token")
        if self.public_base_url.startswith("http://127.0.0.1") or not self.public_base_url.startswith("https://"):
            problems.append("PUBLIC_BASE_URL must be the public https:// address Twilio calls")
        if not self.address_keys:
            problems.append("ADDRESS_KEYS must hold a Fernet key (migrantinfo keys new) to encrypt addresses")
        if len(self.api_token) < 16:
            problems.append("API_TOKEN must be a random secret of at least 16 characters: without it the JSON API "
                            "(which can opt anyone out) and /metrics are open to anyone")
        if self.engine == "rasa" and len(self.rasa_action_token) < 16:
            problems.append("RASA_ACTION_TOKEN must be a random secret of at least 16 characters, the same for Rasa "
                            "(ENGINE=rasa): without it anyone can call the custom action")
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self


@lru_cache
def get_settings() -> Settings:
    """The settings, loaded once; tests build their own Settings instead."""
    return Settings()
