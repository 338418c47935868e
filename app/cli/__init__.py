"""The `migrantinfo` command: serve, db upgrade, purge, chat, content check/report/reload."""

import argparse
import sys
from collections.abc import Sequence

from app.cli import alerts, chat, content, db, engine, evaluate, inbox, keys, rasa, serve, users, whatsapp

# In the order `migrantinfo --help` lists them
GROUPS = (serve, alerts, keys, whatsapp, db, inbox, chat, engine, rasa, users, evaluate, content)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="migrantinfo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_commands(commands)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
