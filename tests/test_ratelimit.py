"""The per-sender limiter: its headroom, and many threads of one process admitted within the rate."""

import threading
import time
import uuid

import pytest

from app.config import Settings
from app.ratelimit import SenderLimits
from tests.conftest import REDIS_URL, require_redis
from tests.fake_twilio import max_in_window


@pytest.mark.parametrize(("sms", "whatsapp", "expected"), [(1, 80, (1, 72)), (25, 3, (22, 2)), (100, 1, (90, 1))])
def test_headroom(sms: int, whatsapp: int, expected: tuple[int, int]) -> None:
    limits = SenderLimits(Settings(_env_file=None, sms_mps=sms, whatsapp_mps=whatsapp))  # type: ignore[call-arg]
    assert (limits.per_second("+5255000001"), limits.per_second("whatsapp:+5255000000")) == expected


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_sixteen_threads_stay_within_the_rate(storage: str) -> None:
    if storage == "redis":
        require_redis()
    settings = Settings(_env_file=None, whatsapp_mps=40, queue_name=f"test-{uuid.uuid4().hex[:8]}",  # type: ignore[call-arg]
                        redis_url=REDIS_URL if storage == "redis" else "")
    limits = SenderLimits(settings)
    admitted: list[float] = []
    lock = threading.Lock()

    def loop() -> None:
        end = time.monotonic() + 2.5
        while time.monotonic() < end:
            if limits.acquire("whatsapp:+5255000000", timeout=1):
                with lock:
                    admitted.append(time.time())

    threads = [threading.Thread(target=loop) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max_in_window(admitted, 1.0) <= 40  # 36 admitted per second, measured after each thread got its slot
    assert len(admitted) >= 36 * 2
