"""The console's Insights page and its CSV: counts per day and value, unanswered groups, opt-outs, erasures,
delivery failures; test messages left out; on SQLite and PostgreSQL."""

import csv
import io
import re
from collections import Counter
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import event, select, update

from app.console import auth
from app.console.insights.export import _cell
from app.console.insights.words import similarity_key
from app.messages import Inbound
from app.storage.models import Message, utcnow
from tests.conftest import new_sid, post_signed
from tests.console.test_console import PASSWORD, log_in

BITCOIN = ("What is the price of bitcoin today?", "price of Bitcoin today")
PIZZA = ("quiero comprar una pizza grande", "Quiero comprar pizzas grandes!")


class Log:
    """Sends messages through the real path and keeps what the insights should count."""

    def __init__(self, client) -> None:  # type: ignore[no-untyped-def]
        self.assistant = client.app.state.assistant
        self.rows: list[dict] = []  # the inbound rows that should count, as the store keeps them

    def send(self, sender: str, text: str, *, channel: str = "sms", test: bool = False):  # type: ignore[no-untyped-def]
        address = f"whatsapp:{sender}" if channel == "whatsapp" else sender
        sid = new_sid()
        outcome = self.assistant.handle(Inbound(sid=sid, channel=channel, address=address, text=text, test=test))
        u = outcome.understanding
        if not test:
            self.rows.append({"sid": sid, "sender": sender, "channel": channel, "country": u.country,
                              "topic": u.topic, "language": u.language, "engine": u.engine, "intent": u.intent})
            if u.intent == "erase_done":  # the person's earlier rows keep their channel and day only
                for row in self.rows[:-1]:
                    if row["sender"] == sender:
                        row.update(country=None, topic=None, language=None, engine=None, intent=None)
        return u


def days_ago(days: int, hour: int) -> datetime:
    return datetime.combine(utcnow().date() - timedelta(days=days), time(hour), tzinfo=UTC)


def move(client, sender_sids: list[str], when: datetime) -> None:  # type: ignore[no-untyped-def]
    with client.app.state.engine.begin() as conn:
        conn.execute(update(Message).where(Message.message_sid.in_(sender_sids)).values(created_at=when))  # type: ignore[union-attr]


def read_csv(response) -> list[dict]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def card(page: str, name: str) -> int:
    return int(re.search(rf'id="total-{name}"><strong>(\d+)</strong>', page).group(1))


@pytest.fixture
def seeded(client):  # type: ignore[no-untyped-def]
    """Ana (editor) logged in; a few people on SMS and WhatsApp, two days, some simulator messages."""
    engine = client.app.state.engine
    if engine.dialect.name == "postgresql":  # days must be UTC days whatever the session's time zone
        event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute("SET TIME ZONE 'America/Mexico_City'"))
        engine.dispose()
    auth.add_user(engine, name="ana", password=PASSWORD, role="editor")
    log_in(client, "ana")
    log = Log(client)
    log.send("+5215512345678", "ASILO MX")
    log.send("+5215512345678", BITCOIN[0])
    log.send("+14155550100", BITCOIN[1], channel="whatsapp")
    log.send("+14155550100", "llama al +52 55 1234 5678 por el bitcoin", channel="whatsapp")
    log.send("+50937123456", PIZZA[0], channel="whatsapp")
    log.send("+50937123456", "=HYPERLINK(\"http://x\")", channel="whatsapp")
    log.send("+5511988887777", "quero trabalhar no Brasil")
    log.send("+5215599990000", "hola")
    log.send("+5215599990000", "STOP")
    log.send("+50499998888", "hola")
    log.send("+50499998888", "BORRAR")
    assert log.send("+50499998888", "SI").intent == "erase_done"
    for text in (*BITCOIN, "STOP", "ASILO MX"):  # the simulator: never counted
        log.send("+10000000001", text, channel="web", test=True)
    # Two messages three days ago at 02:00 UTC (the evening before, in Mexico City), one 40 days ago.
    earlier = [log.send("+5024411223", PIZZA[1]), log.send("+5024411223", "ASILO GT")]
    assert earlier[0].intent == "out_of_scope"
    move(client, [row["sid"] for row in log.rows[-2:]], days_ago(3, 2))
    log.send("+5024411224", "hola")
    move(client, [log.rows[-1]["sid"]], days_ago(40, 12))
    return log


def expected_days(client, log: Log, dimension: str, *, days: int = 30) -> Counter:  # type: ignore[no-untyped-def]
    """(day, value) -> count: the values the pipeline gave, on the days the rows are stored under."""
    with client.app.state.engine.connect() as conn:
        stored = dict(conn.execute(select(Message.message_sid, Message.created_at)).all())
    first = utcnow().date() - timedelta(days=days - 1)
    counts: Counter = Counter()
    for row in log.rows:
        day = stored[row["sid"]].astimezone(UTC).date()
        if day >= first:
            counts[(day.isoformat(), row[dimension] or "")] += 1
    return counts


def test_login_is_required(client) -> None:
    for path in ("/console/insights", "/console/insights.csv", "/console/insights.csv?table=unanswered"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/console/login"


def test_counts_per_day_and_value_leave_test_messages_out(client, seeded: Log) -> None:
    rows = read_csv(client.get("/console/insights.csv?days=30"))
    assert set(rows[0]) == {"day", "dimension", "value", "count"}
    for dimension in ("channel", "country", "topic", "language", "engine"):
        found = Counter({(r["day"], r["value"]): int(r["count"]) for r in rows if r["dimension"] == dimension})
        assert found == expected_days(client, seeded, dimension), dimension
    channels = Counter()
    for r in rows:
        if r["dimension"] == "channel":
            channels[r["value"]] += int(r["count"])
    assert "web" not in channels and sum(channels.values()) == len(seeded.rows) - 1  # the 40-day-old one is out
    three_days_ago = (utcnow().date() - timedelta(days=3)).isoformat()
    assert {(r["value"], r["count"]) for r in rows if r["dimension"] == "channel" and r["day"] == three_days_ago} \
        == {("sms", "2")}
    today = utcnow().date().isoformat()
    events = {(r["day"], r["value"]): r["count"] for r in rows if r["dimension"] == "event"}
    assert events == {(today, "opt_out"): "1", (today, "erasure"): "1"}
    # A longer period takes in the message of 40 days ago.
    longer = read_csv(client.get("/console/insights.csv?days=90"))
    assert sum(int(r["count"]) for r in longer if r["dimension"] == "channel") == len(seeded.rows)


def test_page_shows_the_counts(client, seeded: Log) -> None:
    page = client.get("/console/insights?days=30", headers={"accept-language": "en"})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    assert card(text, "inbound") == len(seeded.rows) - 1
    unanswered = sum(1 for r in seeded.rows[:-1] if r["intent"] == "out_of_scope")
    assert card(text, "unanswered") == unanswered
    assert card(text, "opt-outs") == 1 and card(text, "erasures") == 1
    assert "People who have opted out now: 1." in text  # the simulator's STOP is not among them
    assert "<svg" in text and "<script src" not in text and "stylesheet" not in text
    # Bars by country, topic and language, with names in the console's language.
    assert re.search(r'id="by-country">.*Mexico \(MX\)', text, re.S)
    assert re.search(r'id="by-language">.*Portuguese \(pt\)', text, re.S)
    assert re.search(r'id="by-topic">.*\(asylum\)', text, re.S)
    spanish = client.get("/console/insights", headers={"accept-language": "es"}).text
    assert "México (MX)" in spanish and "portugués (pt)" in spanish


def test_unanswered_questions_are_grouped_by_similarity(client, seeded: Log) -> None:
    page = client.get("/console/insights?days=30", headers={"accept-language": "en"}).text
    groups = re.findall(r'<tr class="group">\s*<td class="n">(\d+)</td>\s*<td><blockquote>(.*?)</blockquote>', page)
    assert groups[0][0] == "2" and groups[1][0] == "2"  # largest first
    assert {g[1] for g in groups[:2]} == {"price of Bitcoin today", "quiero comprar una pizza grande"}
    assert "[phone]" in page and "1234 5678" not in page
    assert "ASILO" not in page.split('id="unanswered"')[1].split("</section>")[0]
    # The CSV has every group; the simulator's bitcoin questions are not counted; no formula runs.
    rows = read_csv(client.get("/console/insights.csv?days=30&table=unanswered"))
    bitcoin = next(r for r in rows if "itcoin today" in r["sample_text"])
    assert (bitcoin["count"], bitcoin["unanswered"], bitcoin["normalised"]) == ("2", "2", "bitcoin price today")
    assert bitcoin["other_texts"] == "What is the price of bitcoin today?"
    assert any(r["sample_text"] == "'=HYPERLINK(\"http://x\")" for r in rows)
    assert all("5678" not in value for r in rows for value in r.values())
    # Three days ago is inside 30 days; a one-day period leaves the older pizza out.
    pizza = next(r for r in rows if r["normalised"] == "comprar grande pizza")
    assert pizza["count"] == "2"
    today = read_csv(client.get("/console/insights.csv?days=1&table=unanswered"))
    assert next(r for r in today if r["normalised"] == "comprar grande pizza")["count"] == "1"


def test_delivery_failures_by_error_code(client, seeded: Log) -> None:
    for status, code in (("failed", "30003"), ("failed", "30003"), ("undelivered", "30003"),
                         ("undelivered", "30005"), ("failed", ""), ("delivered", ""), ("sent", "")):
        params = {"MessageSid": new_sid(), "MessageStatus": status, "AccountSid": "AC0"}
        if code:
            params["ErrorCode"] = code
        assert post_signed(client, params, "/webhooks/twilio/status").status_code == 204
    rows = read_csv(client.get("/console/insights.csv?table=failures"))
    assert [(r["error_code"], r["failed"], r["undelivered"], r["total"]) for r in rows] == [
        ("30003", "2", "1", "3"), ("", "1", "0", "1"), ("30005", "0", "1", "1")]
    page = client.get("/console/insights", headers={"accept-language": "en"}).text
    assert card(page, "failures") == 5
    assert 'href="https://www.twilio.com/docs/api/errors/30003"' in page and "no code" in page


def test_engine_fallbacks_are_the_process_counter(client, seeded: Log) -> None:
    page = client.get("/console/insights", headers={"accept-language": "en"}).text
    assert "The engine is embedded, with nothing behind it to fall back to." in page
    understander = client.app.state.assistant.understander
    understander.primary = type("Rasa", (), {"name": "rasa"})()
    understander.fallbacks = 7
    try:
        page = client.get("/console/insights", headers={"accept-language": "en"}).text
    finally:
        understander.primary = None
    assert "7 messages were understood by the embedded engine because rasa did not answer." in page


def test_similarity_key_and_csv_cells() -> None:
    assert similarity_key("¿Dónde puedo VACUNAR a mi perro?") == similarity_key("vacunar perros donde")
    assert similarity_key("Kote m ka jwenn travay?") == similarity_key("kote mwen ka jwenn TRAVAY")
    assert similarity_key("Hola") == "hola"  # only common words: the words themselves
    assert _cell("=1+1") == "'=1+1" and _cell("-2") == "'-2" and _cell(None) == "" and _cell(3) == 3
