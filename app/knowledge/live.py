"""The knowledge base being served, swapped only for content that passes every check."""

import threading
from datetime import datetime, timezone
from pathlib import Path

from app.knowledge.base import KnowledgeBase
from app.knowledge.checks import check
from app.knowledge.loader import ContentError, load_content


class LiveKnowledge:
    """Holds the last good KnowledgeBase; reload() replaces it or raises ContentError and keeps it."""

    def __init__(self, content_dir: Path, *, locales_dir: Path) -> None:
        self.content_dir = content_dir
        self.locales_dir = locales_dir
        self._lock = threading.Lock()
        self._current: KnowledgeBase | None = None
        self.loaded_at: datetime | None = None
        self.last_error: ContentError | None = None

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
            raw = load_content(self.content_dir)
            errors = [p for p in check(raw) if not p.warning]
            if errors:
                self.last_error = ContentError(errors)
                raise self.last_error
            self._current = KnowledgeBase(raw, locales_dir=self.locales_dir)
            self.loaded_at = datetime.now(timezone.utc)
            self.last_error = None
            return self._current
