"""`migrantinfo users add`: console accounts."""

import argparse
import os
import sys

from app.config import get_settings


def users_add(args: argparse.Namespace) -> int:
    """Create a console account; the password comes from MIGRANTINFO_PASSWORD, standard input or a prompt."""
    import getpass

    from app.console.auth import AuthError, add_user
    from app.storage.db import make_engine, upgrade

    settings = get_settings()
    password = os.environ.get("MIGRANTINFO_PASSWORD") or (
        getpass.getpass(f"password for {args.name}: ") if sys.stdin.isatty() else sys.stdin.readline().strip())
    engine = make_engine(settings.database_url, timeout_seconds=settings.db_timeout_seconds)
    upgrade(engine)
    try:
        add_user(engine, name=args.name, password=password, role=args.role)
    except AuthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"added {args.name} ({args.role})")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    users = commands.add_parser("users", help="console accounts").add_subparsers(dest="users_command",
                                                                                 required=True)
    p = users.add_parser("add", help="create a console account")
    p.add_argument("name")
    p.add_argument("--role", choices=("editor", "operator", "admin"), required=True)
    p.set_defaults(func=users_add)
