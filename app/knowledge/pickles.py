"""Things fitted once and kept on disk for every process (the trained engine, the entries' index)."""

import logging
import os
import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def kept(path: Path, build: Callable[[], T], *, what: str, keep: int = 4) -> T:
    """The object pickled at `path`, or `build()` written there for the next process; the `keep` most recent
    files of the same kind stay (the running version and the one before), older ones go."""
    try:
        with path.open("rb") as file:
            found: T = pickle.load(file)  # written below by this app, in its own var/ folder
        return found
    except FileNotFoundError:
        pass
    except Exception as exc:  # unpickling raises whatever a damaged file provokes: build again, write it anew
        log.warning("the %s in %s is unreadable (%r): building it again", what, path, exc)
    built = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with partial.open("wb") as file:
            pickle.dump(built, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)  # another process reads the whole file or none
        kind = path.name.split("-", 1)[0]
        for old in sorted(path.parent.glob(f"{kind}-*.pickle"), key=lambda p: p.stat().st_mtime)[:-keep]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("cannot keep the %s in %s (%s): each process builds its own", what, path.parent, exc)
    return built
