"""The last good content on disk, so that a restart over broken files still serves it.

Layout of the folder (CONTENT_SNAPSHOT_DIR):

    current                 the name of the version folder to serve, replaced atomically
    3f2a9c1b0d4e/content/   a full copy of content/ that passed every check
    .staging-*/content/     a copy being checked; renamed to its version once good, deleted otherwise

A copy is checked before it is kept (not the files on disk, which may change meanwhile), and a folder only
takes its final name by rename, so a crash leaves at worst a stale staging folder, never half a snapshot.
Several processes may write at once: each stages its own copy, and one content version is one folder.
"""

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

STAGING = ".staging-"
STALE_STAGING_SECONDS = 3600.0
KEEP = 2  # the version served and the one before, for a process still reading it


class Snapshot:
    """The snapshot folder of one content folder."""

    def __init__(self, folder: Path, *, name: str) -> None:
        self.folder = folder
        self.name = name  # the content folder's own name, so problems still read content/countries/MX.yaml

    def stage(self, content_dir: Path) -> Path:
        """A private copy of content_dir to load and check; raises OSError when it cannot be made."""
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=self.folder))
        try:
            shutil.copytree(content_dir, staging / self.name)
        except (OSError, shutil.Error):
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return staging / self.name

    def keep(self, staged: Path, version: str) -> None:
        """Make a staged copy that passed every check the one served after a restart."""
        staging, final = staged.parent, self.folder / version
        try:
            staging.rename(final)
        except OSError:  # this version is already kept (by us earlier, or by another worker)
            shutil.rmtree(staging, ignore_errors=True)
            if not (final / self.name).is_dir():
                raise
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.folder, prefix=STAGING,
                                         delete=False) as pointer:
            pointer.write(version + "\n")
        os.replace(pointer.name, self.folder / "current")
        try:
            self._tidy(version)
        except OSError:  # another worker tidying at the same time; the next save tidies again
            log.debug("snapshot tidy skipped", exc_info=True)

    def discard(self, staged: Path) -> None:
        shutil.rmtree(staged.parent, ignore_errors=True)

    def latest(self) -> Path | None:
        """The content folder of the last good version, if one was ever kept."""
        try:
            version = (self.folder / "current").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        path = self.folder / version / self.name
        return path if version and not version.startswith(".") and path.is_dir() else None

    def _tidy(self, current: str) -> None:
        versions = sorted((p for p in self.folder.iterdir() if p.is_dir() and not p.name.startswith(".")
                           and p.name != current), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in versions[KEEP - 1:]:
            shutil.rmtree(old, ignore_errors=True)
        now = time.time()
        for stale in self.folder.glob(f"{STAGING}*"):
            if stale.is_dir() and now - stale.stat().st_mtime > STALE_STAGING_SECONDS:
                shutil.rmtree(stale, ignore_errors=True)
