"""`migrantinfo keys new`: a key for ADDRESS_KEYS."""

import argparse


def keys_new(_: argparse.Namespace) -> int:
    from app.crypto import new_key

    print(new_key())
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    keys = commands.add_parser("keys", help="encryption keys").add_subparsers(dest="keys_command", required=True)
    keys.add_parser("new", help="print a new key for ADDRESS_KEYS").set_defaults(func=keys_new)
