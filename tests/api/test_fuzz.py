"""Property-based fuzzing of the three doors (inbound webhook, status callback, JSON API), correctly signed so every
request reaches the parser: never a 5xx, a consistent database, and no number or address from the input in clear."""

import json
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, text

from app.channels.twilio import STATUS_RANK, STATUSES
from app.fields import INT_MAX
from tests.conftest import BASE, sign

FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
OURS = ["+50640001234", "whatsapp:+50640001234", "+5255000001"]  # our numbers (To) may be stored: not personal
KEYWORDS = ["STOP", "ALERTAS", "PERSONA", "BORRAR", "SI", "MENU", "ASILO MX", "1", "AYUDA", "KREYOL", "MAS"]

any_text = st.text(st.characters(codec="utf-8"), max_size=40)  # NUL and controls included; no lone surrogates
odd_sid = st.one_of(any_text, st.text("ABCDEFabcdef0123456789", min_size=60, max_size=80),
                    st.sampled_from(["SM1\nINFO forged", "SM\x00" + "a" * 32, "SM" + "é" * 32, ""]))
good_sid = st.builds(lambda kind, hex_: kind + hex_, st.sampled_from(["SM", "MM"]),
                     st.text("0123456789abcdef", min_size=32, max_size=32))


def mostly(usual: st.SearchStrategy, odd: st.SearchStrategy) -> st.SearchStrategy:
    """The usual value four times in five: most cases must get past the parser to test what lies behind it."""
    return st.sampled_from([True, True, True, True, False]).flatmap(lambda usual_one: usual if usual_one else odd)


@st.composite
def phones(draw: st.DrawFn) -> tuple[str, str]:
    """A phone number as people write it, and its digits (the secret)."""
    digits = draw(st.sampled_from(["52", "502", "509", "506", "1"])) + str(draw(st.integers(10**7, 10**9 - 1)))
    written, rest = ("+" if draw(st.booleans()) else ""), digits
    while rest:
        size = draw(st.integers(1, 4))
        written += rest[:size]
        rest = rest[size:]
        if rest:
            written += draw(st.sampled_from(["", " ", "-", ".", "/", ",", " / ", ") ", " ("]))
    return written, digits


emails = st.builds(lambda local, domain, tld: f"{local}@{domain}.{tld}",
                   st.text("abcdefghij0123456789._+-", min_size=1, max_size=12).filter(lambda s: s[0].isalnum()),
                   st.text("abcdefghij0123456789-", min_size=1, max_size=12).filter(lambda s: s[0].isalnum()),
                   st.sampled_from(["org", "com", "mx", "co.cr"]))


@st.composite
def texts(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A message body made of pieces: free text, numbers, addresses, keywords, now and then a huge run."""
    pieces, secrets = [], []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["text", "phone", "email", "keyword", "huge"]))
        if kind == "phone":
            written, digits = draw(phones())
            pieces.append(written)
            secrets.append(digits)
        elif kind == "email":
            address = draw(emails)
            pieces.append(address)
            secrets.append(address)
        elif kind == "keyword":
            pieces.append(draw(st.sampled_from(KEYWORDS)))
        elif kind == "huge":
            pieces.append(draw(st.sampled_from(["a", "9", "a.", "x@", "1 ", "é"])) * draw(st.integers(1000, 9000)))
        else:
            pieces.append(draw(any_text))
    return draw(st.sampled_from([" ", "", "\n", "\x00"])).join(pieces), secrets


@st.composite
def inbound_forms(draw: st.DrawFn) -> tuple[dict[str, str], list[str]]:
    whatsapp = draw(st.booleans())
    body, secrets = draw(texts())
    written, digits = draw(phones())
    sender = draw(mostly(st.just(("whatsapp:+" if whatsapp else "+") + digits), any_text))
    if sender.endswith(digits):
        secrets.append(digits)
    form = {"MessageSid": draw(mostly(good_sid, odd_sid)), "From": sender, "Body": body,
            "To": draw(mostly(st.sampled_from(OURS), any_text)), "AccountSid": "AC" + "0" * 32,
            "NumMedia": draw(mostly(st.just("0"), st.sampled_from(["1", "10", "11", "-1", "x", "٣", ""]))),
            "ApiVersion": "2010-04-01"}
    for name in draw(st.lists(st.sampled_from(["Latitude", "Longitude", "ButtonPayload", "ListId", "OptOutType",
                                               "MediaContentType0", "ProfileName", "WaId"]), max_size=3)):
        form[name] = draw(st.one_of(any_text, st.sampled_from(["country:CR", "9.93", "-200", "STOP", "nan"])))
    form.update(draw(st.dictionaries(st.text("ABCDEFGHIJabcdefghij0123456789", min_size=1, max_size=20), any_text,
                                     max_size=3)))
    if draw(st.booleans()) and draw(st.booleans()):
        form.pop(draw(st.sampled_from(sorted(form))))
    return form, secrets


status_forms = st.fixed_dictionaries(
    {"MessageSid": mostly(good_sid, odd_sid), "MessageStatus": mostly(st.sampled_from(sorted(STATUSES)), any_text)},
    optional={"ErrorCode": st.one_of(st.integers(0, 10**30).map(str), any_text,
                                     st.sampled_from(["30003", "²", "٣٠٠٠٣", "2147483648", " 63016 "])),
              "AccountSid": any_text, "To": st.sampled_from(OURS)})


@st.composite
def api_bodies(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    body, secrets = draw(texts())
    written, digits = draw(phones())
    payload: dict[str, object] = {"sender": draw(mostly(st.just("+" + digits), any_text)), "text": body,
                       "channel": draw(mostly(st.sampled_from(["sms", "whatsapp", "web"]), any_text))}
    if str(payload["sender"]).endswith(digits):
        secrets.append(digits)
    if not draw(st.sampled_from([True, True, True, True, False])):
        wrong = st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=2))
        payload[draw(st.sampled_from(["sender", "text", "channel", "extra"]))] = draw(wrong)
    sent = draw(mostly(st.just(payload), st.one_of(st.lists(st.integers(), max_size=2), st.none(), st.just("x"))))
    raw = json.dumps(sent).encode()
    if draw(st.booleans()) and draw(st.booleans()):  # a lone surrogate, as JSON escapes it
        raw = raw.replace(b'"text": "', b'"text": "\\ud800', 1)
    return raw, secrets


def post_form(client, path: str, params: dict[str, str]):  # type: ignore[no-untyped-def]
    """A form Twilio could have sent, signed the way Twilio signs it, so it passes the check and reaches the parser."""
    return client.post(path, content=urlencode(params), headers={
        "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": sign(BASE + path, params)})


def everything_stored(client) -> str:  # type: ignore[no-untyped-def]
    engine = client.app.state.engine
    with engine.connect() as conn:
        return "\n".join(" ".join(str(v) for v in row) for table in inspect(engine).get_table_names()
                         for row in conn.execute(text(f"SELECT * FROM {table}")))


def assert_nothing_in_clear(client, secrets: list[str]) -> None:  # type: ignore[no-untyped-def]
    dump = everything_stored(client)
    leaked = sorted({secret for secret in secrets if secret in dump})
    assert not leaked, f"stored in clear: {leaked[:5]}"


def inbound_statuses(client) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with client.app.state.engine.connect() as conn:
        rows = conn.execute(text("SELECT status, COUNT(*) FROM messages WHERE direction = 'in' GROUP BY status"))
        return {status: count for status, count in rows}


def apologies(client) -> set[str]:  # type: ignore[no-untyped-def]
    """The apology in every language: the answer when handling failed inside, which no input may cause."""
    from app.i18n import LANGUAGES, Texts

    locales = client.app.state.settings.locales_dir
    return {Texts(language, locales).gettext("Sorry, something went wrong on our side. Please try again, or write "
                                             "MENU.") for language in LANGUAGES}


def test_inbound_webhook_fuzz(client) -> None:
    secrets: list[str] = []
    answered = []
    sorry = apologies(client)

    @FUZZ
    @given(inbound_forms())
    def one(case: tuple[dict[str, str], list[str]]) -> None:
        params, found = case
        secrets.extend(found)
        response = post_form(client, "/webhooks/twilio", params)
        assert response.status_code in (200, 400, 413), (response.status_code, response.text[:200])
        if response.status_code == 200:
            root = ET.fromstring(response.text)
            assert root.tag == "Response" and not {m.text for m in root.findall("Message")} & sorry
            answered.append(params["MessageSid"])

    one()
    assert answered, "some fuzzed messages must get through to the dialogue"
    statuses = inbound_statuses(client)
    assert set(statuses) <= {"done", "late", "unsent"}, statuses  # none stuck in processing, none failed
    assert_nothing_in_clear(client, secrets)


def test_status_callback_fuzz(client) -> None:
    @FUZZ
    @given(status_forms)
    def one(params: dict[str, str]) -> None:
        response = post_form(client, "/webhooks/twilio/status", params)
        assert response.status_code in (204, 400), (response.status_code, response.text[:200])

    one()
    with client.app.state.engine.connect() as conn:
        rows = conn.execute(text("SELECT status, error_code FROM delivery_statuses")).all()
    assert rows, "some fuzzed callbacks must be recorded"
    assert all(status in STATUS_RANK and (code is None or 0 <= code <= INT_MAX) for status, code in rows)


def test_json_api_fuzz(client) -> None:
    secrets: list[str] = []
    sorry = apologies(client)

    @FUZZ
    @given(api_bodies())
    def one(case: tuple[bytes, list[str]]) -> None:
        raw, found = case
        secrets.extend(found)
        response = client.post("/api/v1/messages", content=raw, headers={"content-type": "application/json"})
        assert response.status_code in (200, 422), (response.status_code, response.text[:200])
        if response.status_code == 200:
            assert not {reply["text"] for reply in response.json()["replies"]} & sorry

    one()
    assert set(inbound_statuses(client)) <= {"done", "late", "unsent"}
    assert_nothing_in_clear(client, secrets)
