"""The console in a real browser: Debian's Chromium driven by Playwright, against the app on loopback.

Screenshots of each page are written under test-output/screenshots/.
"""

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from app.config import ROOT
from app.console import auth
from app.messages import Inbound
from app.storage.db import make_engine, upgrade
from tests.conftest import LiveServer, make_settings
from tests.fake_twilio import ACCOUNT, FakeTwilio

SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "browser test password"


@pytest.fixture(scope="module")
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="module")
def server(fake_twilio: FakeTwilio) -> Iterator[LiveServer]:
    folder = Path(tempfile.mkdtemp(prefix="browser-test-"))
    settings = make_settings(f"sqlite:///{folder / 'browser.db'}", twilio_account_sid=ACCOUNT,
                             twilio_api_base_url=fake_twilio.url)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    auth.add_user(engine, name="olga", password=PASSWORD, role="operator")
    engine.dispose()
    with LiveServer(settings) as live:
        # a real unanswered question from a person, for the insights page
        live_app = live.server.config.app
        live_app.state.assistant.handle(Inbound(sid="SMbrowser1", channel="sms", address="+5215511112222",
                                                text="quien gano el partido de futbol ayer"))
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("the browser tests need Debian's chromium (make test installs it: apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})  # a phone
    tab = context.new_page()
    tab.goto(f"{server.url}/console/login")
    tab.fill("#name", "olga")
    tab.fill("#password", PASSWORD)
    tab.click("button[type=submit]")
    expect(tab).to_have_url(f"{server.url}/console/health")
    yield tab
    context.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_login_and_health(page: Page) -> None:
    expect(page.locator("h1")).to_have_text("Health")
    expect(page.locator("body")).to_contain_text("reachable")
    shot(page, "health")


def test_three_turn_conversation_in_the_simulator(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/console/simulator")
    page.select_option("#channel", "sms")
    page.select_option("#country", "MX")
    for turn, text in enumerate(("hola", "1", "ASILO MX"), start=1):
        page.fill("#message", text)
        page.click("#send")
        expect(page.locator("#chat-log")).to_contain_text(text)
        page.wait_for_function("(n) => document.querySelectorAll('#chat-log .reply').length >= n", arg=turn)
    log = page.locator("#chat-log").inner_text()
    assert "COMAR" in log and "segment" in log.lower() and "asylum" in log
    shot(page, "simulator")


def test_coverage_matrix(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/console/content?country=MX")
    expect(page.locator("body")).to_contain_text("Asylum")
    shot(page, "content")
    page.locator('a[href*="topic=asylum"][href*="country=MX"][href*="language=es"]').first.click()
    expect(page.locator("body")).to_contain_text("COMAR")
    expect(page.locator("body")).to_contain_text("GSM-7")
    shot(page, "content-answer")


def test_an_entry_found_not_useful_shows_in_the_insights(page: Page, server: LiveServer) -> None:
    assistant = server.server.config.app.state.assistant
    sender = "whatsapp:+5511955554444"
    first = assistant.handle(Inbound(sid="SMentry1", channel="whatsapp", address=sender,
                                     text="el acnur me va a cobrar por ayudarme?"))
    entry = first.understanding.entry
    assert entry is not None
    assistant.handle(Inbound(sid="SMentry2", channel="whatsapp", address=sender, text="2"))
    page.goto(f"{server.url}/console/insights")
    row = page.locator(f'#entries tr.entry-use[data-entry="{entry}"]')
    expect(row).to_contain_text(entry)
    cells = row.locator("td.n")
    expect(cells.nth(0)).to_have_text("1")  # served
    expect(cells.nth(2)).to_have_text("1")  # not useful
    shot(page, "insights-entries")


def test_an_unanswered_question(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/console/insights")
    expect(page.locator("body")).to_contain_text("partido")
    shot(page, "insights")


def test_an_operator_answers_the_urgent_hand_over_first(page: Page, server: LiveServer, fake_twilio: FakeTwilio) -> None:
    assistant = server.server.config.app.state.assistant
    assistant.handle(Inbound(sid="SMbrowser2", channel="sms", address="+5215533334444", to="+5215500000000",
                             text="PERSONA"))
    assistant.handle(Inbound(sid="SMbrowser3", channel="sms", address="+50255556666", to="+50200000000",
                             text="me quieren matar, ayuda"))
    page.goto(f"{server.url}/console/handovers")
    rows = page.locator("tr.handover")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Urgent")
    shot(page, "handovers")
    rows.first.locator("a").click()
    expect(page.locator("body")).to_contain_text("me quieren matar")
    page.fill("#reply", "We are here. Are you safe now?")
    page.click("button[type=submit]:has-text('Send')")
    expect(page.locator(".conversation")).to_contain_text("We are here. Are you safe now?")
    shot(page, "handover")
    assert [m["To"] for m in fake_twilio.accepted] == ["+50255556666"]
    page.click("button:has-text('Close')")
    expect(page.locator("tr.handover")).to_have_count(1)


def test_an_operator_previews_and_sends_an_alert(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/console/alerts")
    page.select_option("#country", "GT")
    page.fill("#text_es", "Lluvias fuertes: los albergues de la capital reciben personas.")
    page.fill("#text_en", "Heavy rain: shelters in the capital are open.")
    page.click("button:has-text('Preview')")
    expect(page.locator(".preview")).to_have_count(2)
    expect(page.locator("body")).to_contain_text("ALERTA (Guatemala)")
    shot(page, "alert-preview")
    page.click("#send-alert")
    expect(page.locator("h1")).to_contain_text("Alert")
    expect(page.locator('td[data-count="total"]')).to_have_text("0")  # nobody subscribed to Guatemala yet
    shot(page, "alert")


def test_the_content_security_policy_blocks_nothing_of_the_console(page: Page, server: LiveServer) -> None:
    """Every console page loads under its policy (no inline script) and may not be framed by another site."""
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    for path in ("/console/health", "/console/simulator", "/console/content", "/console/insights",
                 "/console/handovers", "/console/alerts"):
        response = page.goto(f"{server.url}{path}")
        assert response is not None and response.ok, path
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff" and headers["cache-control"] == "no-store", path
    page.goto(f"{server.url}/console/simulator")
    page.fill("#message", "hola")
    page.click("#send")
    page.wait_for_function("() => document.querySelectorAll('#chat-log .reply').length >= 1")
    assert violations == []
