"""The conversation store on both databases: duplicates, concurrency, privacy, retention, migrations."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, inspect, select, text, update
from sqlmodel import Session

from app.messages import Inbound
from app.privacy import hash_address, mask_text
from app.storage import store
from app.storage.db import make_engine, upgrade
from app.storage.models import Contact, Message, utcnow
from tests.api.test_twilio_webhook import count, messages_of
from tests.conftest import BASE, LiveServer, form_of, new_sid, post_signed, sign


def inbound_rows(client, sid: str) -> int:  # type: ignore[no-untyped-def]
    return count(client, Message, Message.message_sid == sid)


def test_a_retried_message_gets_the_stored_reply_and_is_processed_once(client) -> None:
    params = form_of("sms_text", MessageSid=new_sid())
    first = post_signed(client, params)
    again = post_signed(client, params)
    assert first.status_code == again.status_code == 200
    assert first.text == again.text
    assert inbound_rows(client, params["MessageSid"]) == 1
    assert count(client, Message, Message.direction == "out") == 1


def test_duplicates_do_not_advance_the_conversation(client) -> None:
    sender = "+529620000001"
    post_signed(client, form_of("sms_text", MessageSid=new_sid(), From=sender, Body="hola"))
    stop = form_of("sms_text", MessageSid=new_sid(), From=sender, Body="BORRAR")
    question = post_signed(client, stop)
    assert post_signed(client, stop).text == question.text  # not "nothing was deleted"
    assert count(client, Contact) == 1


def test_concurrent_duplicates_in_threads_are_processed_once(client) -> None:
    assistant = client.app.state.assistant
    msg = Inbound(sid=new_sid(), channel="sms", address="+529620000002", text="ASILO MX")
    barrier = threading.Barrier(8)

    def deliver(_: int) -> list[str]:
        barrier.wait()
        return assistant.handle(msg).bodies

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(deliver, range(8)))
    assert all(r == results[0] for r in results) and results[0]
    assert inbound_rows(client, msg.sid) == 1
    assert count(client, Message, Message.direction == "out") == 1


def test_concurrent_duplicates_over_http_on_a_real_server(settings) -> None:
    params = form_of("whatsapp_text", MessageSid=new_sid())
    body = urlencode(params)
    headers = {"content-type": "application/x-www-form-urlencoded",
               "x-twilio-signature": sign(BASE + "/webhooks/twilio", params)}
    with LiveServer(settings) as server:
        barrier = threading.Barrier(6)

        def deliver(_: int) -> httpx.Response:
            barrier.wait()
            return httpx.post(server.url + "/webhooks/twilio", content=body, headers=headers, timeout=20)

        with ThreadPoolExecutor(6) as pool:
            responses = list(pool.map(deliver, range(6)))
        engine = make_engine(settings.database_url)
        with Session(engine) as session:
            rows = session.execute(select(func.count()).where(Message.message_sid == params["MessageSid"])).scalar_one()
            out = session.execute(select(func.count()).where(Message.direction == "out")).scalar_one()
        engine.dispose()
    assert {r.status_code for r in responses} == {200}
    assert len({r.text for r in responses}) == 1
    assert rows == 1 and out >= 1


def test_a_failed_attempt_leaves_nothing_and_a_retry_is_processed(client, monkeypatch) -> None:
    assistant = client.app.state.assistant
    msg = Inbound(sid=new_sid(), channel="sms", address="+529620000003", text="ASILO MX")
    monkeypatch.setattr(store, "finish", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full")))
    assert assistant.handle(msg).bodies == [assistant.apology(msg)]
    assert inbound_rows(client, msg.sid) == 0 and count(client, Contact) == 0
    monkeypatch.undo()
    assert "COMAR" in assistant.handle(msg).bodies[0]
    assert inbound_rows(client, msg.sid) == 1


def test_no_phone_number_is_stored_in_clear(client, database_url: str) -> None:
    sender = "+529629876543"
    params = form_of("sms_text", MessageSid=new_sid(), From=sender,
                     Body="hola, mi numero es +52 962 987 6543 y mi correo ana@example.org")
    post_signed(client, params)
    post_signed(client, form_of("whatsapp_text", MessageSid=new_sid()))  # carries ProfileName=Maria
    post_signed(client, form_of("sms_text", MessageSid=new_sid(), From=sender, Body="ALERTAS"))  # kept encrypted
    post_signed(client, form_of("whatsapp_text", MessageSid=new_sid(), Body="PERSONA"))  # kept encrypted
    engine = client.app.state.engine
    dump = []
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                dump.append(" ".join(str(v) for v in row))
    everything = "\n".join(dump)
    for secret in ("9629876543", "962 987 6543", "50688887777", "ana@example.org", "Maria"):
        assert secret not in everything
    assert "[phone]" in everything and "[email]" in everything
    with Session(engine) as session:
        hashes = session.execute(select(Contact.address_hash)).scalars().all()
    assert hash_address(sender, secret=client.app.state.settings.hash_secret) in hashes


def test_one_person_is_one_contact_on_sms_and_whatsapp(client) -> None:
    post_signed(client, form_of("sms_text", MessageSid=new_sid(), From="+50688887777", Body="hola"))
    post_signed(client, form_of("whatsapp_text", MessageSid=new_sid(), From="whatsapp:+50688887777"))
    assert count(client, Contact) == 1


@pytest.mark.parametrize("raw, masked", [
    ("llámame al 5512345678", "llámame al [phone]"),
    ("mi cel +52 (55) 1234-5678.", "mi cel [phone]."),
    ("escribe a juan.perez+x@mail.example.com", "escribe a [email]"),
    ("tengo 3 hijos y 25 años", "tengo 3 hijos y 25 años"),
])
def test_masking(raw: str, masked: str) -> None:
    assert mask_text(raw) == masked


def test_purge_removes_texts_past_retention(client) -> None:
    post_signed(client, form_of("sms_text", MessageSid=new_sid(), Body="hola"))
    post_signed(client, form_of("sms_text", MessageSid=new_sid(), Body="MENU"))
    engine = client.app.state.engine
    with engine.begin() as conn:
        oldest = conn.execute(select(func.min(Message.id))).scalar_one()
        conn.execute(update(Message).where(Message.id <= oldest + 1)
                     .values(created_at=utcnow() - timedelta(days=40)))
    removed = store.purge(engine, retention_days=30)
    assert removed == 2
    with Session(engine) as session:
        old = session.execute(select(Message).where(Message.id <= oldest + 1)).scalars().all()
        recent = session.execute(select(Message).where(Message.id > oldest + 1)).scalars().all()
    assert all(m.text is None and m.reply is None for m in old)
    assert any(m.text for m in recent)
    assert store.purge(engine, retention_days=30) == 0


@pytest.mark.empty_database  # the migrations themselves run here, from an empty SQLite file
def test_migrations_create_the_tables_and_are_idempotent(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"contacts", "messages", "delivery_statuses", "alembic_version"} <= tables


def test_message_sid_is_unique_in_the_schema(client) -> None:
    engine = client.app.state.engine
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        with Session(engine) as session:
            session.add(Message(direction="in", message_sid="SMdup", channel="sms"))
            session.add(Message(direction="in", message_sid="SMdup", channel="sms"))
            session.commit()


def test_a_duplicate_waits_for_the_first_delivery_and_gets_its_reply(client) -> None:
    """Another worker holds the MessageSid in an open transaction; the duplicate waits, then answers alike."""
    engine = client.app.state.engine
    sid = new_sid()
    results: list = []
    with engine.connect() as conn:
        transaction = conn.begin()
        store.claim(conn, sid=sid, channel="sms")
        worker = threading.Thread(target=lambda: results.append(
            post_signed(client, form_of("sms_text", MessageSid=sid))))
        worker.start()
        worker.join(timeout=0.5)
        assert worker.is_alive(), "the duplicate must wait for the first delivery"
        store.finish(conn, sid=sid, values={}, bodies=["the first reply"])
        transaction.commit()
    worker.join(timeout=20)
    [response] = results
    assert messages_of(client, response.text) == ["the first reply"]
    assert inbound_rows(client, sid) == 1 and count(client, Message, Message.direction == "out") == 0


@pytest.mark.empty_database  # the migrations themselves run here, from an empty SQLite file
def test_the_migrations_build_exactly_the_models_tables(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    engine = make_engine(database_url)
    upgrade(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert differences == []
