"""Messages per second per sender, shared by every worker through Redis (or within one process)."""

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

    def per_second(self, sender: str) -> int:
        return self.settings.whatsapp_mps if sender.startswith("whatsapp:") else self.settings.sms_mps

    def acquire(self, sender: str, *, timeout: float = 60.0) -> bool:
        """Wait for a slot of the sender's window; False if none came within `timeout` seconds."""
        rate = self.per_second(sender)
        item = self._items.setdefault(rate, RateLimitItemPerSecond(rate, 1))
        deadline = time.monotonic() + timeout
        while not self._limiter.hit(item, sender):
            reset, _ = self._limiter.get_window_stats(item, sender)
            wait = min(max(reset - time.time(), 0.002), 0.25)
            if time.monotonic() + wait > deadline:
                return False
            time.sleep(wait)
        return True
