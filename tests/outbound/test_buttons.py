"""Numbered choices on WhatsApp go as quick-reply buttons through Twilio's REST API when the account has the
templates (made by `migrantinfo whatsapp templates` through the Content API); otherwise, or when Twilio refuses
them, as text in TwiML. A tap answers as a typed number does."""

import json
import re

import pytest
from fastapi.testclient import TestClient

from app.cli import main as cli
from app.config import get_settings
from app.knowledge.retrieval import Match
from app.main import create_app
from app.outbound.buttons import create_templates
from app.outbound.twilio_rest import Twilio
from tests.conftest import BASE, form_of, make_settings, new_sid, post_signed
from tests.fake_twilio import ACCOUNT, FakeTwilio

WHATSAPP = "whatsapp:+5215512349876"


@pytest.fixture
def fake_twilio():  # type: ignore[no-untyped-def]
    with FakeTwilio() as fake:
        fake.in_window.add(WHATSAPP)
        yield fake


def templates_on(fake: FakeTwilio, database_url: str) -> dict[str, str]:
    settings = make_settings(database_url, twilio_account_sid=ACCOUNT, twilio_api_base_url=fake.url)
    return create_templates(Twilio(settings))


@pytest.fixture
def client(database_url: str, fake_twilio: FakeTwilio):  # type: ignore[no-untyped-def]
    settings = make_settings(database_url, twilio_account_sid=ACCOUNT, twilio_api_base_url=fake_twilio.url,
                             whatsapp_choice_templates=templates_on(fake_twilio, database_url))
    with TestClient(create_app(settings), base_url=BASE) as test_client:
        yield test_client


def say(client: TestClient, address: str = WHATSAPP, **fields: str) -> list[str]:
    form = form_of("whatsapp_text", From=address, MessageSid=new_sid(), SmsMessageSid="", SmsSid="", **fields)
    response = post_signed(client, form)
    assert response.status_code == 200
    return re.findall(r"<Message>(.*?)</Message>", response.text, re.S)


def close_entries(client: TestClient, n: int) -> list[Match]:
    kb = client.app.state.knowledge.get()
    ids = [e.id for e in kb.entries_for("MX", "asylum") if kb.entry_scope[e.id] == "MX"][:n]
    return [Match(entry_id, "asylum", 0.5 - i / 100, 0.3) for i, entry_id in enumerate(ids)]


def offered(client: TestClient, matches: list[Match], address: str = WHATSAPP) -> list[str]:
    understander = client.app.state.assistant.understander
    real, understander.search = understander.search, lambda text, countries: matches
    try:
        return say(client, address, Body="una pregunta sobre el refugio en mexico")
    finally:
        understander.search = real


def test_the_templates_are_made_through_the_content_api(fake_twilio: FakeTwilio, database_url: str,
                                                        capsys: pytest.CaptureFixture) -> None:
    sids = templates_on(fake_twilio, database_url)
    assert set(sids) == {"2", "3"}
    for n, sid in sids.items():
        quick = fake_twilio.templates[sid]["types"]["twilio/quick-reply"]
        assert [a["id"] for a in quick["actions"]] == [str(i) for i in range(1, int(n) + 1)]
        assert quick["body"] == "{{1}}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
        env.setenv("TWILIO_AUTH_TOKEN", "test-auth-token-0123456789")
        env.setenv("TWILIO_API_BASE_URL", fake_twilio.url)
        get_settings.cache_clear()
        try:
            assert cli(["whatsapp", "templates"]) == 0
        finally:
            get_settings.cache_clear()
    printed = capsys.readouterr().out
    line = next(x for x in printed.splitlines() if x.startswith("WHATSAPP_CHOICE_TEMPLATES="))
    assert set(json.loads(line.split("=", 1)[1].strip("'"))) == {"2", "3"}
    assert len(fake_twilio.templates) == 4  # two made above, two by the command


@pytest.mark.parametrize("n", [2, 3])
def test_choices_go_as_buttons_and_a_tap_picks_the_entry(client: TestClient, fake_twilio: FakeTwilio, n: int) -> None:
    matches = close_entries(client, n)
    assert offered(client, matches) == []  # nothing in TwiML: the message went through the REST API
    [sent] = fake_twilio.to(WHATSAPP)
    assert sent["ContentSid"] == client.app.state.settings.whatsapp_choice_templates[str(n)]
    text = json.loads(sent["ContentVariables"])["1"]
    kb = client.app.state.knowledge.get()
    assert text.split("\n")[1:] == [f"{i}. {kb.entry_title(m.entry, 'es', 'MX')}" for i, m in enumerate(matches, 1)]
    tapped = say(client, Body="2", ButtonText="2", ButtonPayload="2", MessageType="button")
    assert kb.entry_answer(matches[1].entry, "es", "MX").whatsapp.split("\n\n")[0] in "\n".join(tapped)


def test_without_a_template_or_when_twilio_refuses_the_choices_are_text(client: TestClient,
                                                                        fake_twilio: FakeTwilio) -> None:
    outside = "whatsapp:+5215512340000"  # not in the window: Twilio refuses session-only buttons
    replies = offered(client, close_entries(client, 2), outside)
    assert len(replies) == 1 and replies[0].count("\n") == 2
    assert fake_twilio.to(outside) == [] and any(r.get("To") == outside for r in fake_twilio.requests)
    fake_twilio.fail_next(500)
    assert len(offered(client, close_entries(client, 3))) == 1  # a failing Twilio: the text, in TwiML
    assert offered(client, close_entries(client, 2)) == []  # Twilio back: buttons again


def test_sms_and_answers_other_than_choices_stay_in_twiml(client: TestClient, fake_twilio: FakeTwilio) -> None:
    sms = form_of("sms_text", Body="una pregunta sobre el refugio en mexico", MessageSid=new_sid())
    understander = client.app.state.assistant.understander
    real, understander.search = understander.search, lambda text, countries: close_entries(client, 2)
    try:
        assert "<Message>" in post_signed(client, sms).text
    finally:
        understander.search = real
    assert say(client, Body="MENU")
    assert fake_twilio.accepted == []
