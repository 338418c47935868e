"""The inbox journal: every inbound message is on disk before anything can fail, and answered later if it was not.

Each process appends to a journal file of its own, on which it holds an exclusive lock: an "R" line when a
message arrives (the message sealed, since it holds a phone number) and a "D" line once its reply is committed.
A message without its "D" is pending. When its reply budget ran out, the database was locked or Rasa hung, the
process replays it after a while; a process that finds the journal of a dead one (nobody holds its lock) adopts
that journal's pending messages. A replayed answer leaves through Twilio's REST API: the webhook's response is
long gone by then.
"""

import fcntl
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.crypto import AddressBox, InvalidToken
from app.messages import Inbound

log = logging.getLogger(__name__)
SID = re.compile(r"[A-Za-z0-9_-]{1,64}")
ROTATE_BYTES = 1 << 20  # start a new journal past this size, carrying over only what is still pending


@dataclass
class Pending:
    sid: str
    received_at: float  # time.time()
    sealed: str
    attempts: int = 0


class Inbox:
    """The journal of one process, and the messages it still owes an answer."""

    def __init__(self, folder: Path, box: AddressBox) -> None:
        self.folder = folder
        self.box = box
        self._lock = threading.Lock()
        self._pending: dict[str, Pending] = {}
        self._busy: set[str] = set()  # being handled right now, by a webhook or by a replay
        folder.mkdir(parents=True, exist_ok=True)
        self._fd, self._path = self._new_journal()

    def _new_journal(self) -> tuple[int, Path]:
        path = self.folder / f"journal-{os.getpid()}-{uuid.uuid4().hex[:8]}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd, path

    def received(self, msg: Inbound) -> None:
        """Write the message down before anything else happens to it."""
        if not SID.fullmatch(msg.sid):
            raise ValueError("a message id of letters and digits is needed")
        entry = Pending(msg.sid, time.time(), self.box.seal(json.dumps(_fields(msg), ensure_ascii=False)))
        with self._lock:
            os.write(self._fd, _line(entry))
            self._pending.setdefault(entry.sid, entry)
            self._busy.add(entry.sid)

    def answered(self, sid: str) -> None:
        """Its reply is committed: nothing more is owed."""
        with self._lock:
            if self._pending.pop(sid, None) is None:
                return
            os.write(self._fd, f"D {sid}\n".encode())
            if not self._pending and os.fstat(self._fd).st_size > ROTATE_BYTES:
                self._rotate()

    def released(self, sid: str) -> None:
        """Nobody is handling it any more (answered or not)."""
        with self._lock:
            self._busy.discard(sid)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def due(self, *, older_than: float) -> list[Inbound]:
        """Pending messages nobody handles that arrived more than `older_than` seconds ago, now marked busy."""
        cutoff = time.time() - older_than
        out = []
        with self._lock:
            for entry in self._pending.values():
                if entry.received_at <= cutoff and entry.sid not in self._busy:
                    try:
                        msg = _inbound(json.loads(self.box.open(entry.sealed)))
                    except (InvalidToken, ValueError, KeyError, TypeError):
                        log.error("journal entry sid=%s cannot be opened with ADDRESS_KEYS; dropped", entry.sid)
                        continue
                    self._busy.add(entry.sid)
                    out.append(msg)
        return out

    def failed_attempt(self, sid: str) -> int:
        """Count a replay that failed for another reason than an unavailable database; returns the count."""
        with self._lock:
            entry = self._pending.get(sid)
            if entry is None:
                return 0
            entry.attempts += 1
            return entry.attempts

    def give_up(self, sid: str) -> None:
        """Stop owing an answer the replays could not give (the store lists it for an operator)."""
        self.answered(sid)

    def adopt_orphans(self) -> int:
        """Take over the pending messages of journals whose process is gone."""
        adopted = 0
        for path in sorted(self.folder.glob("journal-*.log")):
            if path == self._path:
                continue
            with _orphan(path) as orphan:
                if not orphan:
                    continue
                for entry in _read_pending(path):
                    with self._lock:
                        if entry.sid in self._pending:
                            continue
                        os.write(self._fd, _line(entry))
                        self._pending[entry.sid] = entry
                    adopted += 1
                path.unlink(missing_ok=True)
        if adopted:
            log.warning("adopted %d unanswered messages from the journals of stopped processes", adopted)
        return adopted

    def _rotate(self) -> None:
        old_fd, old_path = self._fd, self._path
        self._fd, self._path = self._new_journal()
        for entry in self._pending.values():
            os.write(self._fd, _line(entry))
        os.close(old_fd)
        old_path.unlink(missing_ok=True)

    def close(self) -> None:
        """Close the journal; remove it when nothing is pending (otherwise the next process adopts it)."""
        with self._lock:
            os.close(self._fd)
            if not self._pending:
                self._path.unlink(missing_ok=True)


def journals(folder: Path) -> list[tuple[Path, int, bool]]:
    """Each journal in the folder: its path, how many messages it still owes, and whether its process runs."""
    found = []
    for path in sorted(folder.glob("journal-*.log")):
        with _orphan(path) as orphan:
            if orphan is not None:
                found.append((path, len(_read_pending(path)), not orphan))
    return found


@contextmanager
def _orphan(path: Path) -> Iterator[bool | None]:
    """Whether a journal's process is gone (then its lock is ours until the block ends); None if it is gone too."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False  # its process holds the lock: alive
            return
        yield True if path.exists() else None  # another process may have adopted and removed it meanwhile
    finally:
        os.close(fd)  # and the lock with it


def _line(entry: Pending) -> bytes:
    return f"R {entry.sid} {entry.received_at:.3f} {entry.sealed}\n".encode()


def _read_pending(path: Path) -> list[Pending]:
    pending: dict[str, Pending] = {}
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split(" ")
        if parts[0] == "R" and len(parts) == 4 and SID.fullmatch(parts[1]):
            try:
                pending.setdefault(parts[1], Pending(parts[1], float(parts[2]), parts[3]))
            except ValueError:
                continue  # a line cut short by a crash
        elif parts[0] == "D" and len(parts) == 2:
            pending.pop(parts[1], None)
    return list(pending.values())


def _fields(msg: Inbound) -> dict:
    return {"sid": msg.sid, "channel": msg.channel, "address": msg.address, "text": msg.text,
            "media_types": list(msg.media_types), "location": list(msg.location) if msg.location else None,
            "choice": msg.choice, "carrier_keyword": msg.carrier_keyword, "test": msg.test, "to": msg.to}


def _inbound(fields: dict) -> Inbound:
    location = fields.get("location")
    return Inbound(sid=fields["sid"], channel=fields["channel"], address=fields["address"], text=fields["text"],
                   media_types=tuple(fields.get("media_types") or ()),
                   location=(float(location[0]), float(location[1])) if location else None,
                   choice=fields.get("choice"), carrier_keyword=fields.get("carrier_keyword"),
                   test=bool(fields.get("test")), to=fields.get("to") or "")
