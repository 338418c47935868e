"""The knowledge base being served, swapped only for content that passes every check."""

import hashlib
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

from app.knowledge.base import KnowledgeBase
from app.knowledge.checks import check
from app.knowledge.loader import ContentError, load_content

log = logging.getLogger("migrantinfo")


def fingerprint(content_dir: Path) -> str:
    """Cheap change detector: names, sizes and modification times of the YAML files."""
    digest = hashlib.sha256()
    for path in sorted(content_dir.rglob("*.yaml")):
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


class LiveKnowledge:
    """Holds the last good KnowledgeBase; reload() replaces it or raises ContentError and keeps it."""

    def __init__(self, content_dir: Path, *, locales_dir: Path) -> None:
        self.content_dir = content_dir
        self.locales_dir = locales_dir
        self._lock = threading.Lock()
        self._current: KnowledgeBase | None = None
        self.loaded_at: datetime | None = None
        self.last_error: ContentError | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def get(self) -> KnowledgeBase:
        if self._current is None:
            self.reload()
        assert self._current is not None
        return self._current

    @property
    def ready(self) -> bool:
        return self._current is not None

    def reload(self) -> KnowledgeBase:
        """Load and check content/; on errors keep serving the last good version."""
        with self._lock:
            self._seen = fingerprint(self.content_dir)
            raw = load_content(self.content_dir)
            errors = [p for p in check(raw, locales_dir=self.locales_dir) if not p.warning]
            if errors:
                self.last_error = ContentError(errors)
                raise self.last_error
            self._current = KnowledgeBase(raw, locales_dir=self.locales_dir)
            self.loaded_at = datetime.now(UTC)
            self.last_error = None
            return self._current

    def watch(self, *, every: float) -> None:
        """Reload in the background whenever a file under content/ changes."""
        self._seen = getattr(self, "_seen", "")

        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    if fingerprint(self.content_dir) == self._seen:
                        continue
                    kb = self.reload()
                    log.info("content reloaded: version %s", kb.version)
                except ContentError as exc:
                    log.error("content change refused, still serving %s:\n%s",
                              self._current.version if self._current else "nothing", exc)
                except OSError:
                    log.exception("cannot read %s", self.content_dir)

        self._watcher = threading.Thread(target=loop, name="content-watch", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watcher:
            self._watcher.join(timeout=5)
