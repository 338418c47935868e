"""The inbox journal on its own: what it owes, what it hands over, how it rotates."""

from pathlib import Path

import pytest

from app.conversation import inbox as inbox_module
from app.conversation.inbox import Inbox, journals
from app.crypto import box_for
from app.messages import Inbound

BOX = box_for("", "test-hash-secret-0123456789")


def message(n: int) -> Inbound:
    return Inbound(sid=f"SM{n:032d}", channel="whatsapp", address=f"whatsapp:+52155000{n:05d}", text=f"hola {n}",
                   location=(14.9, -92.26) if n == 0 else None, to="whatsapp:+5215500000000")


def test_a_journal_owes_what_has_no_reply_and_seals_the_number(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path, BOX)
    for n in range(3):
        inbox.received(message(n))
        inbox.released(message(n).sid)
    inbox.answered(message(1).sid)
    assert inbox.pending == 2
    [(path, owed, alive)] = journals(tmp_path)
    assert owed == 2 and alive
    assert "+52155000" not in path.read_text() and "hola" not in path.read_text()  # sealed
    assert [m.sid for m in inbox.due(older_than=0)] == [message(0).sid, message(2).sid]
    assert inbox.due(older_than=0) == []  # busy until released
    inbox.close()


def test_a_new_process_adopts_the_journal_of_a_dead_one(tmp_path: Path) -> None:
    dead = Inbox(tmp_path, BOX)
    for n in range(2):
        dead.received(message(n))
    dead.answered(message(1).sid)
    dead.close()  # it still owes one: the file stays, and nobody holds its lock any more
    [(_, owed, alive)] = journals(tmp_path)
    assert owed == 1 and not alive
    alive_inbox = Inbox(tmp_path, BOX)
    assert alive_inbox.adopt_orphans() == 1
    assert len(journals(tmp_path)) == 1  # the orphan is gone, its message is in the new journal
    [msg] = alive_inbox.due(older_than=0)
    assert msg == message(0)  # every field came back, the location too
    alive_inbox.released(msg.sid)
    alive_inbox.answered(msg.sid)
    alive_inbox.close()
    assert journals(tmp_path) == []


def test_a_long_journal_starts_anew_with_only_what_is_owed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inbox_module, "ROTATE_BYTES", 2000)
    inbox = Inbox(tmp_path, BOX)
    first = inbox._path
    for n in range(20):
        inbox.received(message(n))
        inbox.released(message(n).sid)
        inbox.answered(message(n).sid)
    inbox.received(message(99))
    assert inbox._path != first and not first.exists()
    [(path, owed, _)] = journals(tmp_path)
    assert owed == 1 and path.stat().st_size < 2000
    inbox.close()


def test_a_message_id_that_cannot_be_written_down_is_refused(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path, BOX)
    with pytest.raises(ValueError):
        inbox.received(Inbound(sid="SM 1\nD SM2", channel="sms", address="+1"))
    inbox.close()
