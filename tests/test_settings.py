"""One settings object: defaults that work, placeholders refused in production."""

import pytest
from pydantic import ValidationError

from app.config import Settings
from app.crypto import AddressBox, InvalidToken, new_key


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


PRODUCTION = dict(environment="production", hash_secret="h" * 32, twilio_auth_token="t" * 32,
                  public_base_url="https://bot.example.org", api_token="a" * 32)


def test_production_with_real_secrets_starts() -> None:
    settings = Settings(_env_file=None, **PRODUCTION, address_keys=new_key())  # type: ignore[call-arg]
    assert settings.signature_required


@pytest.mark.parametrize("api_token", ["", "short"])
def test_production_refuses_an_open_json_api(api_token: str) -> None:
    with pytest.raises(ValidationError, match="API_TOKEN must be a random secret"):
        Settings(_env_file=None, **{**PRODUCTION, "api_token": api_token}, address_keys=new_key())  # type: ignore[call-arg]


def test_production_with_rasa_needs_the_action_token() -> None:
    with pytest.raises(ValidationError, match="RASA_ACTION_TOKEN"):
        Settings(_env_file=None, **PRODUCTION, address_keys=new_key(), engine="rasa")  # type: ignore[call-arg]
    settings = Settings(_env_file=None, **PRODUCTION, address_keys=new_key(), engine="rasa",  # type: ignore[call-arg]
                        rasa_action_token="r" * 32)
    assert settings.action_token == "r" * 32


def test_in_development_the_action_token_comes_from_the_hash_secret() -> None:
    one = Settings(_env_file=None, hash_secret="one-secret-0123456789")  # type: ignore[call-arg]
    two = Settings(_env_file=None, hash_secret="two-secret-0123456789")  # type: ignore[call-arg]
    assert len(one.action_token) >= 32 and one.action_token != two.action_token
    assert "one-secret" not in one.action_token


def test_production_serves_no_api_description(database_url: str) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.conftest import BASE, make_settings

    settings = make_settings(database_url, **{**PRODUCTION, "public_base_url": BASE}, address_keys=new_key())
    with TestClient(create_app(settings), base_url=BASE) as client:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            assert client.get(path).status_code == 404, path
        assert client.get("/healthz").status_code == 200
        assert client.post("/api/v1/messages", json={"sender": "+1555", "text": "hola"}).status_code == 401
    with TestClient(create_app(make_settings(database_url)), base_url=BASE) as client:
        assert client.get("/openapi.json").status_code == 200  # development keeps it


def test_production_needs_a_key_for_the_addresses_it_keeps() -> None:
    with pytest.raises(ValueError, match="ADDRESS_KEYS"):
        Settings(_env_file=None, environment="production", hash_secret="h" * 32,  # type: ignore[call-arg]
                 twilio_auth_token="t" * 32, public_base_url="https://bot.example.org")


def test_addresses_are_sealed_and_keys_can_be_rotated() -> None:
    old, new = new_key(), new_key()
    token = AddressBox(old, hash_secret="x").seal("whatsapp:+50688887777")
    assert "50688887777" not in token
    rotated = AddressBox(f"{new},{old}", hash_secret="x")
    assert rotated.open(token) == "whatsapp:+50688887777"
    assert AddressBox(new, hash_secret="x").open(rotated.rotate(token)) == "whatsapp:+50688887777"
    with pytest.raises(InvalidToken):
        AddressBox(new, hash_secret="x").open(token)


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
