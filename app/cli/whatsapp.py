"""`migrantinfo whatsapp templates`: the quick-reply templates that give numbered choices their buttons."""

import argparse
import json
import sys


def whatsapp_templates(_: argparse.Namespace) -> int:
    from app.config import get_settings
    from app.outbound.buttons import create_templates
    from app.outbound.twilio_rest import SendError, Twilio

    twilio = Twilio(get_settings())
    if not twilio.configured:
        print("set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN: the templates are created on that account",
              file=sys.stderr)
        return 2
    try:
        sids = create_templates(twilio)
    except SendError as exc:
        print(f"the templates could not be created: {exc}", file=sys.stderr)
        return 1
    print("Created. Set this in the environment of the app (numbered choices then go as buttons):")
    print(f"WHATSAPP_CHOICE_TEMPLATES='{json.dumps(sids)}'")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    whatsapp = commands.add_parser("whatsapp", help="WhatsApp set-up").add_subparsers(dest="whatsapp_command",
                                                                                      required=True)
    whatsapp.add_parser("templates", help="create the quick-reply templates for choices on the Twilio account") \
        .set_defaults(func=whatsapp_templates)
