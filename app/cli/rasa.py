"""`migrantinfo rasa prepare`: Rasa's environment and model."""

import argparse
import sys

from app.config import get_settings


def rasa_prepare(_: argparse.Namespace) -> int:
    """Create the Rasa environment and train the model if bot/ changed."""
    from app.understanding.rasa_setup import RasaSetupError, ensure_model

    try:
        print(f"model: {ensure_model(get_settings().bot_dir)}")
    except RasaSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    rasa = commands.add_parser("rasa", help="the Rasa engine").add_subparsers(dest="rasa_command", required=True)
    rasa.add_parser("prepare", help="create the Rasa environment, train if bot/ changed").set_defaults(
        func=rasa_prepare)
