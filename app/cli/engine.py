"""`migrantinfo engine prepare`: train the embedded engine and build the entries' index into ENGINE_CACHE_DIR.

`migrantinfo serve` runs it in a process of its own before the web server starts, so the server's workers load
the models as plain arrays and never hold scikit-learn or a training's memory (about 200 MB more each).
"""

import argparse
import subprocess
import sys
import time


def prepare(_: argparse.Namespace) -> int:
    from app.config import get_settings
    from app.knowledge.live import LiveKnowledge
    from app.understanding.router import build_understander

    settings = get_settings()
    started = time.monotonic()
    knowledge = LiveKnowledge.start(settings.content_dir, locales_dir=settings.locales_dir,
                                    snapshot_dir=settings.content_snapshot_dir)
    build_understander(settings, knowledge).close()
    if knowledge.ready:
        knowledge.get().warm()
    print(f"engine and entries' index ready in {settings.engine_cache_dir} ({time.monotonic() - started:.1f} s)")
    return 0


def prepare_apart() -> None:
    """Prepare in a child process (what it loads goes away with it); the server trains itself if this fails."""
    done = subprocess.run([sys.executable, "-m", "app.cli", "engine", "prepare"], check=False)
    if done.returncode != 0:
        print("warning: the engine could not be prepared ahead; the server trains it at start", file=sys.stderr)


def add_commands(commands: argparse._SubParsersAction) -> None:
    engine = commands.add_parser("engine", help="the embedded engine").add_subparsers(dest="engine_command",
                                                                                       required=True)
    engine.add_parser("prepare", help="train the engine and build the entries' index into ENGINE_CACHE_DIR"
                      ).set_defaults(func=prepare)
