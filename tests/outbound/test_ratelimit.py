"""The per-sender limiter: its headroom, many threads within the rate, and the rate at Twilio's end on a loaded
machine (arrivals delayed at random after admission), in one process and across processes through Redis."""

import random
import subprocess
import sys
import threading
import time
import uuid

import pytest

from app.config import Settings
from app.outbound.ratelimit import SenderLimits
from tests.conftest import REDIS_URL, ROOT, require_redis
from tests.fake_twilio import max_in_window

SENDER = "whatsapp:+5255000000"


def settings_for(storage: str, **overrides: object) -> Settings:
    if storage == "redis":
        require_redis()
    return Settings(_env_file=None, queue_name=f"test-{uuid.uuid4().hex[:8]}",  # type: ignore[call-arg]
                    redis_url=REDIS_URL if storage == "redis" else "", **overrides)


@pytest.mark.parametrize(("sms", "whatsapp", "expected"), [(1, 80, (1, 72)), (25, 3, (22, 2)), (100, 1, (90, 1))])
def test_headroom(sms: int, whatsapp: int, expected: tuple[int, int]) -> None:
    limits = SenderLimits(Settings(_env_file=None, sms_mps=sms, whatsapp_mps=whatsapp,  # type: ignore[call-arg]
                                   rate_headroom=0.1))
    assert (limits.per_second("+5255000001"), limits.per_second("whatsapp:+5255000000")) == expected


def test_default_headroom_leaves_room_for_replies_only() -> None:
    limits = SenderLimits(Settings(_env_file=None, sms_mps=1, whatsapp_mps=80))  # type: ignore[call-arg]
    assert (limits.per_second("+5255000001"), limits.per_second(SENDER)) == (1, 76)


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_sixteen_threads_stay_within_the_rate(storage: str) -> None:
    limits = SenderLimits(settings_for(storage, whatsapp_mps=40, rate_headroom=0.1))
    admitted: list[float] = []
    lock = threading.Lock()

    def loop() -> None:
        end = time.monotonic() + 2.5
        while time.monotonic() < end:
            slot = limits.acquire(SENDER, timeout=1)
            if slot:
                with slot, lock:
                    admitted.append(time.time())

    threads = [threading.Thread(target=loop) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max_in_window(admitted, 1.0) <= 40  # 36 admitted per second, measured after each thread got its slot
    assert len(admitted) >= 36 * 2


def arrivals_under_load(limits: list[SenderLimits], *, threads: int, seconds: float, seed: int) -> list[float]:
    """Each thread takes a slot, is held up 0–300 ms (a loaded machine) before its request "arrives at Twilio",
    waits 0–50 ms for the answer, then releases: the arrival times, as the loopback Twilio would count them."""
    arrivals: list[float] = []
    lock = threading.Lock()

    def loop(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        mine = limits[n % len(limits)]
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            slot = mine.acquire(SENDER, timeout=2)
            if slot is None:
                continue
            with slot:
                time.sleep(rng.uniform(0.0, 0.3))
                with lock:
                    arrivals.append(time.time())
                time.sleep(rng.uniform(0.0, 0.05))

    workers = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return arrivals


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_rate_holds_at_twilio_with_random_delays_after_admission(storage: str) -> None:
    """No headroom at all, arrivals 0–300 ms after admission: still no strict second with more than the limit."""
    limits = SenderLimits(settings_for(storage, whatsapp_mps=20, rate_headroom=0))
    arrivals = arrivals_under_load([limits], threads=24, seconds=4.0, seed=1)
    assert max_in_window(arrivals, 1.0) <= 20
    assert len(arrivals) >= 20 * 3  # a slot is busy for its delay plus a second: about 16 a second here


def test_two_instances_on_one_redis_share_the_limit() -> None:
    """Two limiters (as two workers on two hosts would have) on one Redis: one limit between them."""
    settings = settings_for("redis", whatsapp_mps=20, rate_headroom=0)
    arrivals = arrivals_under_load([SenderLimits(settings), SenderLimits(settings)], threads=24, seconds=3.0,
                                   seed=2)
    assert max_in_window(arrivals, 1.0) <= 20
    assert len(arrivals) >= 20 * 2


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_a_slot_counts_until_a_second_after_release(storage: str) -> None:
    limits = SenderLimits(settings_for(storage, whatsapp_mps=2, rate_headroom=0))
    first, second = limits.acquire(SENDER, timeout=0), limits.acquire(SENDER, timeout=0)
    assert first and second
    assert limits.acquire(SENDER, timeout=0.3) is None  # both in flight, however long they take
    time.sleep(0.5)
    first.release()
    released = time.monotonic()
    first.release()  # twice is harmless
    third = limits.acquire(SENDER, timeout=3)
    assert third is not None
    assert 0.9 <= time.monotonic() - released < 1.5


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_a_slot_whose_holder_died_expires(storage: str) -> None:
    """A worker killed mid-request never releases: its slot frees after the request timeout and a second."""
    limits = SenderLimits(settings_for(storage, whatsapp_mps=1, rate_headroom=0, twilio_timeout_seconds=0.5))
    taken = time.monotonic()
    assert limits.acquire(SENDER, timeout=0) is not None  # and never released
    assert limits.acquire(SENDER, timeout=1.0) is None
    assert limits.acquire(SENDER, timeout=3) is not None
    assert 1.4 <= time.monotonic() - taken < 2.5


def test_a_killed_process_slots_expire_for_the_others() -> None:
    """Another process takes the sender's slots and is killed (SIGKILL): this one waits for their expiry only."""
    settings = settings_for("redis", whatsapp_mps=3, rate_headroom=0, twilio_timeout_seconds=1.0)
    code = ("import sys, time\n"
            "from app.config import Settings\n"
            "from app.outbound.ratelimit import SenderLimits\n"
            f"limits = SenderLimits(Settings(_env_file=None, queue_name={settings.queue_name!r}, redis_url={REDIS_URL!r},"
            " whatsapp_mps=3, rate_headroom=0, twilio_timeout_seconds=1.0))\n"
            f"slots = [limits.acquire({SENDER!r}, timeout=5) for _ in range(3)]\n"
            "print(all(slots), flush=True)\n"
            "time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "True"
        taken = time.monotonic()
        child.kill()
        child.wait(timeout=10)
        limits = SenderLimits(settings)
        assert limits.acquire(SENDER, timeout=1.0) is None  # the dead process' slots still count
        slots = [limits.acquire(SENDER, timeout=5) for _ in range(3)]
        assert all(slots)
        assert 1.5 <= time.monotonic() - taken < 4.0  # twilio_timeout_seconds + 1 s after they were taken
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
