"""The knowledge base being served, swapped only for content that passes every check, and kept on disk."""

import hashlib
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

from watchfiles._rust_notify import RustNotify  # what watchfiles.watch() runs, set up before it returns

from app.knowledge.base import KnowledgeBase
from app.knowledge.checks import check
from app.knowledge.loader import ContentError, load_content
from app.knowledge.snapshot import Snapshot

log = logging.getLogger(__name__)


def fingerprint(content_dir: Path) -> str:
    """Cheap change detector: names, kinds, sizes and modification times of the YAML files."""
    digest = hashlib.sha256()
    for path in sorted(content_dir.rglob("*.yaml")):
        try:
            stat = path.stat()
        except OSError:  # a dangling link: the loader says what is wrong with it
            digest.update(f"{path}:unreadable".encode())
            continue
        digest.update(f"{path}:{stat.st_mode}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


class LiveKnowledge:
    """Holds the last good KnowledgeBase; reload() replaces it or raises ContentError and keeps it.

    With a snapshot folder, each good version is also kept on disk, and a process that starts over invalid
    files serves the snapshot (source "snapshot") while last_error says what is wrong with the files.
    """

    def __init__(self, content_dir: Path, *, locales_dir: Path, snapshot_dir: Path | None = None) -> None:
        self.content_dir = content_dir
        self.locales_dir = locales_dir
        self.snapshot = Snapshot(snapshot_dir, name=content_dir.name) if snapshot_dir else None
        self._lock = threading.Lock()
        self._current: KnowledgeBase | None = None
        self.loaded_at: datetime | None = None
        self.last_error: ContentError | None = None  # the errors of the files on disk at the last reload
        self.source: str | None = None  # where the served version was read: "content" or "snapshot"
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

    @classmethod
    def start(cls, content_dir: Path, *, locales_dir: Path, snapshot_dir: Path | None) -> "LiveKnowledge":
        """Load content/, or, when its files are invalid, the last good snapshot (`last_error` then says why)."""
        knowledge = cls(content_dir, locales_dir=locales_dir, snapshot_dir=snapshot_dir)
        try:
            knowledge.reload()
        except ContentError:
            pass  # recorded in last_error; ready says whether a snapshot serves
        return knowledge

    def reload(self) -> KnowledgeBase:
        """Load and check content/; on errors keep serving the last good version (after a restart: the snapshot)."""
        with self._lock:
            self._seen = fingerprint(self.content_dir)
            snapshot = self.snapshot
            staged = self._stage(snapshot) if snapshot else None
            try:
                kb = self._load(staged or self.content_dir)
            except ContentError as exc:
                if snapshot and staged:
                    snapshot.discard(staged)
                self.last_error = exc
                if self._current is None and snapshot:
                    self._serve_snapshot(snapshot)
                raise
            if snapshot and staged:
                self._keep(snapshot, staged, kb.version)
            self._current, self.source = kb, "content"
            self.loaded_at = datetime.now(UTC)
            self.last_error = None
            return kb

    def _load(self, folder: Path) -> KnowledgeBase:
        raw = load_content(folder)
        errors = [p for p in check(raw, locales_dir=self.locales_dir) if not p.warning]
        if errors:
            raise ContentError(errors)
        return KnowledgeBase(raw, locales_dir=self.locales_dir)

    def _stage(self, snapshot: Snapshot) -> Path | None:
        """A private copy of the files to check and then keep, so that what is kept is exactly what was checked."""
        try:
            return snapshot.stage(self.content_dir)
        except OSError:
            log.exception("cannot copy %s into %s: checking it in place, without a snapshot",
                          self.content_dir, snapshot.folder)
            return None

    def _keep(self, snapshot: Snapshot, staged: Path, version: str) -> None:
        try:
            snapshot.keep(staged, version)
        except OSError:  # serving goes on; only a restart over broken files would miss it
            log.exception("cannot keep content version %s in %s", version, snapshot.folder)

    def _serve_snapshot(self, snapshot: Snapshot) -> None:
        """Nothing served yet and the files are invalid: serve the last good version kept on disk, if any."""
        folder = snapshot.latest()
        if folder is None:
            return
        try:
            self._current = self._load(folder)
        except ContentError as exc:  # e.g. the locales changed since: nothing to serve
            log.error("the content snapshot in %s does not pass the checks either:\n%s", folder, exc)
            return
        self.source, self.loaded_at = "snapshot", datetime.now(UTC)
        log.error("content/ has errors; serving version %s from the snapshot in %s:\n%s",
                  self._current.version, folder, self.last_error)

    def watch(self, *, every: float) -> None:
        """Reload in the background whenever a file under content/ changes, once changes settle for `every` s.

        The kernel tells (inotify, through watchfiles): an idle server spends no CPU on it and a busy one no stat
        calls. Where inotify cannot be had (too many watches, some network file systems) it polls instead.
        """
        self._seen = getattr(self, "_seen", "")
        settle = max(1, int(every * 1000))

        def loop(notify: RustNotify) -> None:
            with notify:
                # wakes on a change (then waits for `every` s of quiet), or every 250 ms to see whether to stop
                while isinstance(found := notify.watch(settle, 250, 0, self._stop), set):
                    if found:
                        self._reload_if_changed()

        try:  # the watch is in place when this returns: a change made from now on is seen
            notify = RustNotify([str(self.content_dir)], False, False, settle, True, False)
        except OSError as exc:  # no inotify here (too many watches, some network file systems): poll instead
            log.warning("no inotify watch on %s (%s): polling every %ss", self.content_dir, exc, every)
            notify = RustNotify([str(self.content_dir)], False, True, settle, True, False)
        self._watcher = threading.Thread(target=loop, args=(notify,), name="content-watch", daemon=True)
        self._watcher.start()

    def _reload_if_changed(self) -> None:
        try:
            if fingerprint(self.content_dir) == self._seen:
                return  # touched, not changed (an editor's save of the same bytes, a swap file)
            kb = self.reload()
            log.info("content reloaded: version %s", kb.version)
        except ContentError as exc:
            log.error("content change refused, still serving %s:\n%s",
                      self._current.version if self._current else "nothing", exc)
        except OSError:
            log.exception("cannot read %s", self.content_dir)

    def stop(self) -> None:
        self._stop.set()
        if self._watcher:
            self._watcher.join(timeout=5)
