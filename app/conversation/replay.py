"""Late answers: the messages the journal still owes are handled again, and their replies sent through Twilio's REST API.

A message is owed when its reply budget ran out, its transaction failed (a locked database) or its process died.
Replayed, it goes through the same pipeline and is stored as "late" with its reply; once Twilio took the reply it
is "done". Where no reply can be sent (no Twilio account configured, the simulator, Twilio refusing, a message
that fails every time) it stays listed for an operator (`migrantinfo inbox`) as "unsent" or "failed".
"""

import logging
import threading
from collections.abc import Callable

from app.conversation.inbox import Inbox
from app.conversation.pipeline import Assistant
from app.messages import Inbound
from app.outbound.ratelimit import SenderLimits
from app.outbound.twilio_rest import SendError, Twilio, sender_for
from app.storage import store

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
Send = Callable[[Inbound, list[str]], bool]


def twilio_sender(twilio: Twilio, limits: SenderLimits) -> Send:
    """Send a late reply from the number the person wrote to; False when it cannot go out."""

    def send(msg: Inbound, bodies: list[str]) -> bool:
        if not msg.reachable or not twilio.configured:
            return False
        sender = sender_for(msg.channel, msg.to, twilio.settings)
        if not sender:
            return False
        for body in bodies:
            slot = limits.acquire(sender, timeout=10)
            if slot is None:
                return False
            try:
                with slot:
                    twilio.send(to=msg.address, from_=sender, body=body)
            except SendError as exc:
                log.warning("late reply refused by Twilio sid=%s: %s", msg.sid, exc)
                return False
        return True

    return send


def replay_due(assistant: Assistant, inbox: Inbox, send: Send, *, older_than: float) -> int:
    """Answer what is owed; returns how many messages were settled (answered, or listed for an operator).

    A round stops at the first message that finds the database locked or away: the others would too.
    """
    inbox.adopt_orphans()
    settled = 0
    due = inbox.due(older_than=older_than)
    try:
        while due:
            msg = due.pop(0)
            try:
                done = _replay(assistant, inbox, send, msg)
            finally:
                inbox.released(msg.sid)
            if done is None:
                break
            settled += done
    finally:
        for msg in due:
            inbox.released(msg.sid)
    return settled


def _replay(assistant: Assistant, inbox: Inbox, send: Send, msg: Inbound) -> int | None:
    """1 when the message is settled, 0 when it stays owed, None when the database is unavailable."""
    outcome = assistant.handle(msg, late=True)
    if outcome.transient:
        return None
    if outcome.failed:
        attempts = inbox.failed_attempt(msg.sid)
        if attempts < MAX_ATTEMPTS:
            return 0
        store.record_failed(assistant.engine, sid=msg.sid, channel=msg.channel, test=msg.test)
        log.error("gave up on sid=%s after %d attempts: listed for an operator", msg.sid, attempts)
        inbox.give_up(msg.sid)
        return 1
    status, bodies = store.inbound_state(assistant.engine, sid=msg.sid)
    if status == "late":  # answered now, or answered earlier by a replay that died before sending
        sent = bool(bodies) and send(msg, bodies)
        store.mark_inbound(assistant.engine, sid=msg.sid, status="done" if sent or not bodies else "unsent")
        log.info("late reply sid=%s %s", msg.sid, "sent" if sent else "not sent: listed for an operator")
    inbox.answered(msg.sid)
    return 1


class Replayer:
    """A thread that settles what the inbox owes every few seconds."""

    def __init__(self, assistant: Assistant, inbox: Inbox, send: Send, *, every: float, older_than: float) -> None:
        self._args = (assistant, inbox, send)
        self.every, self.older_than = every, older_than
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inbox-replay", daemon=True)

    def start(self) -> "Replayer":
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            try:
                replay_due(*self._args, older_than=self.older_than)
            except Exception:
                log.exception("inbox replay round failed")
            if self._stop.wait(self.every):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
