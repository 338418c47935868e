"""`migrantinfo chat`: talk to the bot in the terminal, through the same pipeline as the webhooks."""

import argparse
import sys
import uuid

from app.cli.context import load_parts


def chat(args: argparse.Namespace) -> int:
    from app.channels.render import sms_info
    from app.conversation.pipeline import Assistant
    from app.messages import Inbound

    assistant = Assistant(*load_parts())
    address = f"whatsapp:{args.sender}" if args.channel == "whatsapp" else args.sender
    print(f"Chatting as {args.sender} over {args.channel}. Ctrl-D to quit.")
    for line in sys.stdin:
        outcome = assistant.handle(Inbound(sid=f"CLI{uuid.uuid4().hex}", channel=args.channel, address=address,
                                           text=line.strip()))
        for body in outcome.bodies:
            if args.channel == "sms":
                info = sms_info(body)
                print(f"--- SMS, {info.segments} segment(s), {info.encoding}, {len(body)} characters")
            else:
                print(f"--- WhatsApp, {len(body)} characters")
            print(body)
        if not outcome.bodies:
            print("--- (no reply)")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("chat", help="talk to the bot in this terminal")
    p.add_argument("--channel", choices=("sms", "whatsapp"), default="whatsapp")
    p.add_argument("--from", dest="sender", default="+5215512345678")
    p.set_defaults(func=chat)
