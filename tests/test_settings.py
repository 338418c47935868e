"""One settings object: defaults that work, placeholders refused in production."""

import pytest
from pydantic import ValidationError

from app.config import Settings


def test_defaults_work_with_no_env_file(monkeypatch) -> None:
    for name in ("DATABASE_URL", "TWILIO_AUTH_TOKEN", "ENVIRONMENT", "HASH_SECRET"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.environment == "development"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.signature_required is False  # development without a token: the only case


def test_a_configured_token_turns_signatures_on_even_in_development() -> None:
    assert Settings(_env_file=None, twilio_auth_token="abc").signature_required is True  # type: ignore[call-arg]


@pytest.mark.parametrize("overrides, problem", [
    ({}, "HASH_SECRET"),
    ({"hash_secret": "x" * 32}, "TWILIO_AUTH_TOKEN"),
    ({"hash_secret": "x" * 32, "twilio_auth_token": "t" * 32}, "PUBLIC_BASE_URL"),
])
def test_production_refuses_placeholder_secrets(overrides: dict, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Settings(_env_file=None, environment="production", **overrides)  # type: ignore[call-arg]


def test_production_with_real_secrets_starts() -> None:
    settings = Settings(_env_file=None, environment="production", hash_secret="h" * 32,  # type: ignore[call-arg]
                        twilio_auth_token="t" * 32, public_base_url="https://bot.example.org")
    assert settings.signature_required


def test_settings_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("SMS_MAX_SEGMENTS", "2")
    monkeypatch.setenv("FLOOD_MAX_REPLIES", "7")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.sms_max_segments, settings.flood_max_replies) == (2, 7)


def test_every_setting_is_documented() -> None:
    from app.config import ROOT

    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        documented = f"\n{name.upper()}=" in "\n" + example or f"\n# {name.upper()}=" in "\n" + example
        assert documented, f"{name.upper()} missing from .env.example"
        assert f"`{name.upper()}`" in readme, f"{name.upper()} missing from the README table"
