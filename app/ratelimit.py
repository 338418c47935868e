"""Messages per second per sender, shared by every worker through Redis (or within one process)."""

import math
import threading
import time

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.config import Settings


class SenderLimits:
    """A moving one-second window per sender number: never more than its messages per second."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        uri = settings.redis_url or "memory://"
        options = {"key_prefix": f"{settings.queue_name}-limits"} if settings.redis_url else {}
        self._limiter = MovingWindowRateLimiter(storage_from_string(uri, **options))
        self._items: dict[int, RateLimitItemPerSecond] = {}
        self._gates: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def per_second(self, sender: str) -> int:
        """Messages admitted per moving second: the sender's rate less the headroom.

        A message is counted when it is admitted and reaches Twilio a little later, later still on a busy machine;
        admitting a tenth less keeps Twilio's own one-second window under the rate despite that delay.
        """
        rate = self.settings.whatsapp_mps if sender.startswith("whatsapp:") else self.settings.sms_mps
        return max(1, math.floor(rate * (1 - self.settings.rate_headroom)))

    def acquire(self, sender: str, *, timeout: float = 60.0) -> bool:
        """Wait for a slot of the sender's window; False if none came within `timeout` seconds.

        Within one process the threads queue for a sender behind one lock, so a single thread polls the shared
        window: many threads polling at once would delay the one that got its slot, and its message would reach
        Twilio later than it was counted.
        """
        rate = self.per_second(sender)
        item = self._items.setdefault(rate, RateLimitItemPerSecond(rate, 1))
        deadline = time.monotonic() + timeout
        with self._lock:
            gate = self._gates.setdefault(sender, threading.Lock())
        if not gate.acquire(timeout=timeout):
            return False
        try:
            while not self._limiter.hit(item, sender):
                reset, _ = self._limiter.get_window_stats(item, sender)
                wait = min(max(reset - time.time(), 0.001), 0.25)
                if time.monotonic() + wait > deadline:
                    return False
                time.sleep(wait)
            return True
        finally:
            gate.release()
