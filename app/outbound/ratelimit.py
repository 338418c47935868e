"""Messages per second per sender, shared by every worker through Redis (or within one process).

Twilio counts a message when its request arrives, some time after we admitted it: on a loaded machine that delay
varies, and messages admitted over more than a second can arrive within one. So a message is counted here from
its admission until one second after its request to Twilio completed, and a sender gets a new message only while
fewer than its limit are counted. A message arrives between its admission and its completion, so any second at
Twilio's end holds at most the limit, whatever the delays: of the messages arriving within one second, the one
admitted last was admitted no later than its own arrival, and then every other one had been admitted already and
none had completed a second before (each completes after its arrival, within that second): all were counted, so
they were at most the limit. A slot whose holder died (a killed worker) expires once its request can no longer
arrive and count.
"""

import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol

from app.config import Settings

WINDOW = 1.0  # Twilio's window: a message is counted for this long after its request completed

# KEYS[1]: the sender's sorted set, member = slot, score = when it stops counting (Redis' own clock, so every host
# agrees): admission + hold while in flight, completion + WINDOW once released.
# ARGV: limit, hold (s), slot id, key lifetime (ms). Returns {1, now} when admitted, else {0, seconds until the
# earliest slot stops counting}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {1, tostring(now)}
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tostring(tonumber(first[2]) - now)}
"""
# ARGV: slot id, window (s), key lifetime (ms). The slot counts a window more from now, when its request completed.
_RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


class _Store(Protocol):
    def take(self, sender: str, limit: int, hold: float, slot: str) -> tuple[bool, float]: ...

    def done(self, sender: str, slot: str) -> None: ...


class _Memory:
    """The slots of one process, on its monotonic clock."""

    def __init__(self) -> None:
        self._ends: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def take(self, sender: str, limit: int, hold: float, slot: str) -> tuple[bool, float]:
        with self._lock:
            now = time.monotonic()
            ends = self._ends.setdefault(sender, {})
            for old in [s for s, end in ends.items() if end <= now]:
                del ends[old]
            if len(ends) < limit:
                ends[slot] = now + hold
                return True, 0.0
            return False, min(ends.values()) - now

    def done(self, sender: str, slot: str) -> None:
        with self._lock:
            self._ends.setdefault(sender, {})[slot] = time.monotonic() + WINDOW


class _Redis:
    """The slots of every worker on every host, in one sorted set per sender."""

    def __init__(self, url: str, prefix: str, lifetime: float) -> None:
        import redis

        self._client = redis.Redis.from_url(url)
        self._acquire = self._client.register_script(_ACQUIRE)
        self._release = self._client.register_script(_RELEASE)
        self._prefix = prefix
        self._lifetime_ms = math.ceil(lifetime * 1000)  # an idle sender's key goes when its last slot would

    def take(self, sender: str, limit: int, hold: float, slot: str) -> tuple[bool, float]:
        taken, value = self._acquire(keys=[f"{self._prefix}:{sender}"], args=[limit, hold, slot, self._lifetime_ms])
        return bool(int(taken)), 0.0 if int(taken) else float(value)

    def done(self, sender: str, slot: str) -> None:
        self._release(keys=[f"{self._prefix}:{sender}"], args=[slot, WINDOW, self._lifetime_ms])


@dataclass
class Slot:
    """One message's place in its sender's limit; release it once the request to Twilio has completed."""

    sender: str
    id: str
    limits: "SenderLimits" = field(repr=False)
    released: bool = False

    def release(self) -> None:
        self.limits.release(self)

    def __enter__(self) -> "Slot":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


class SenderLimits:
    """Never more than a sender's messages per second at Twilio's end.

        slot = limits.acquire(sender, timeout=10)
        if slot is None: ...  # no slot within 10 s
        with slot:            # released when the request has completed, also on errors
            twilio.send(...)
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # How long an unreleased slot counts: its request may connect for up to the timeout and then arrive, and
        # is counted for a second after that. Past it, the holder is taken for dead (a killed worker).
        self.hold = settings.twilio_timeout_seconds + WINDOW
        lifetime = max(self.hold, WINDOW) + 1.0
        self._store: _Store = (_Redis(settings.redis_url, f"{settings.queue_name}-limits", lifetime)
                               if settings.redis_url else _Memory())
        self._gates: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def per_second(self, sender: str) -> int:
        """Messages of the sender in flight or completed within the last second: its rate less the headroom."""
        rate = self.settings.whatsapp_mps if sender.startswith("whatsapp:") else self.settings.sms_mps
        return max(1, math.floor(rate * (1 - self.settings.rate_headroom)))

    def acquire(self, sender: str, *, timeout: float = 60.0) -> Slot | None:
        """Wait for a slot of the sender's limit; None if none came within `timeout` seconds.

        Within one process the threads queue for a sender behind one lock, so a single thread asks the shared
        store. It sleeps until the earliest slot stops counting, or one second if that is later: no slot can free
        sooner, since a slot released now still counts for a second.
        """
        limit = self.per_second(sender)
        deadline = time.monotonic() + timeout
        with self._lock:
            gate = self._gates.setdefault(sender, threading.Lock())
        if not gate.acquire(timeout=timeout):
            return None
        try:
            slot = Slot(sender, uuid.uuid4().hex, self)
            while True:
                taken, wait = self._store.take(sender, limit, self.hold, slot.id)
                if taken:
                    return slot
                wait = min(max(wait, 0.001), WINDOW)
                if time.monotonic() + wait > deadline:
                    return None
                time.sleep(wait)
        finally:
            gate.release()

    def release(self, slot: Slot) -> None:
        """The slot's request has completed (or failed): it counts one second more, then frees. Idempotent."""
        if not slot.released:
            slot.released = True
            self._store.done(slot.sender, slot.id)
