"""The job queue: Huey, on SQLite by default (no set-up) and on Redis when REDIS_URL is set.

Why Huey: one small, long-kept library whose SQLite storage needs nothing installed, and whose Redis storage is
what several workers on several machines share; the same tasks run on both. The web app only enqueues; the
worker (`migrantinfo worker`) runs the tasks in threads.
"""

import logging
from typing import TYPE_CHECKING

from huey import Huey, RedisHuey, SqliteHuey, crontab

from app import logs
from app.config import Settings

if TYPE_CHECKING:
    from app.outbound.delivery import Deliverer  # imported on first use: the web app never delivers

log = logging.getLogger(__name__)


def make_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        return RedisHuey(settings.queue_name, url=settings.redis_url, results=False)
    settings.queue_path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(settings.queue_name, filename=str(settings.queue_path), results=False)


class Queue:
    """The tasks and the way to enqueue them; the worker's state (engine, sender) is built on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.huey = make_huey(settings)
        self._deliverer: Deliverer | None = None
        self.deliver_alert = self.huey.task(name="deliver_alert")(self._deliver_alert)
        self.recover = self.huey.periodic_task(crontab(minute="*"), name="recover_alerts")(self._recover)
        self.recover_soon = self.huey.task(name="recover_alerts_soon")(self._recover)

    @property
    def storage(self) -> str:
        return "redis" if self.settings.redis_url else "sqlite"

    def start_alert(self, alert_id: int) -> None:
        """Enqueue the sending loops of a new alert; any worker thread, of any worker process, may take one."""
        for _ in range(self.settings.alert_loops):
            self.deliver_alert(alert_id)

    def pending_tasks(self) -> int:
        return self.huey.pending_count()

    # --- run by the worker ---

    def deliverer(self) -> "Deliverer":
        if self._deliverer is None:
            from app.outbound.delivery import Deliverer
            from app.storage.db import make_engine

            engine = make_engine(self.settings.database_url, timeout_seconds=self.settings.db_timeout_seconds)
            self._deliverer = Deliverer(self.settings, engine)
        return self._deliverer

    def _deliver_alert(self, alert_id: int) -> int:
        sent = self.deliverer().run(alert_id)
        log.info("alert %s: this loop sent %s", alert_id, sent)
        return sent

    def _recover(self) -> list[int]:
        """Restart the alerts whose workers died (nothing heard of them for a lease)."""
        from app.outbound.delivery import stalled, touch

        engine = self.deliverer().engine
        alerts = stalled(engine, lease_seconds=self.settings.alert_lease_seconds)
        for alert_id in alerts:
            log.warning("alert %s has no live worker: restarting its delivery", alert_id)
            touch(engine, alert_id)
            self.start_alert(alert_id)
        return alerts


def run_worker(settings: Settings) -> None:
    """The worker process: recover what a dead worker left, then run tasks until SIGTERM/SIGINT."""
    from app.storage.db import make_engine, upgrade

    logs.configure(settings.log_level)
    engine = make_engine(settings.database_url, timeout_seconds=settings.db_timeout_seconds)
    upgrade(engine)
    engine.dispose()
    queue = Queue(settings)
    queue._recover()
    # A worker killed just now still looks alive for one lease: look again once that has run out.
    queue.recover_soon.schedule(delay=settings.alert_lease_seconds + 1)
    log.info("queue worker: %s storage, %s threads", queue.storage, settings.queue_workers)
    consumer = queue.huey.create_consumer(workers=settings.queue_workers, worker_type="thread", periodic=True,
                                          initial_delay=0.05, max_delay=0.5, backoff=1.5)
    consumer.run()
