"""`migrantinfo alerts send|status|list`: alerts to a country's subscribers."""

import argparse
import sys
from typing import TYPE_CHECKING

from app.cli.context import load_parts
from app.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from app.knowledge.base import KnowledgeBase
    from app.outbound.queue import Queue


def _alerts_context() -> "tuple[Settings, Engine, KnowledgeBase, Queue]":
    from app.outbound.queue import Queue

    settings, engine, knowledge = load_parts()
    return settings, engine, knowledge.get(), Queue(settings)


def alerts_send(args: argparse.Namespace) -> int:
    from app.outbound import alerts

    texts = {}
    for item in args.text:
        language, sep, text = item.partition("=")
        if not sep:
            print(f"error: --text takes LANGUAGE=TEXT, not {item!r}", file=sys.stderr)
            return 2
        texts[language] = text
    settings, engine, kb, queue = _alerts_context()
    try:
        composed = alerts.compose_all(kb, country=args.country.upper(), texts=texts, locales_dir=settings.locales_dir)
    except alerts.AlertError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for view in alerts.preview(engine, country=args.country.upper(), composed=composed):
        print(f"--- {view.language}: {view.recipients} subscribers ({view.templates} by WhatsApp template), "
              f"SMS {view.sms_segments} segment(s) {view.sms_encoding}")
        print(view.text)
        if view.sms_text != view.text:
            print(f"--- {view.language} by SMS:\n{view.sms_text}")
    if not args.yes:
        if input("Send this alert? [y/N] ").strip().lower() not in ("y", "yes", "s", "si", "sí"):
            print("not sent")
            return 1
    alert_id = alerts.start(engine, queue, kb=kb, settings=settings, country=args.country.upper(), texts=texts,
                            created_by=args.by)
    print(f"alert {alert_id} queued ({queue.storage} queue)")
    return _watch(engine, alert_id, wait=args.wait, timeout=args.timeout)


def alerts_status(args: argparse.Namespace) -> int:
    from app.outbound import alerts

    settings, engine, _, _ = _alerts_context()
    if alerts.get(engine, args.id) is None:
        print(f"error: no alert {args.id}", file=sys.stderr)
        return 2
    return _watch(engine, args.id, wait=args.watch, timeout=args.timeout)


def _watch(engine: "Engine", alert_id: int, *, wait: bool, timeout: float) -> int:
    """Print the alert's counts; with `wait`, a live progress bar until every delivery is final."""
    import time

    from app.outbound import alerts

    deadline = time.monotonic() + timeout
    tty = sys.stdout.isatty()
    while True:
        counts = alerts.counts(engine, alert_id)
        line = alerts.progress_line(counts)
        finished = counts["pending"] == 0
        if not wait or finished or time.monotonic() > deadline:
            print(("\r" if tty else "") + line)
            failures = alerts.failures(engine, alert_id)
            if failures:
                print("failures: " + ", ".join(f"{code}: {n}" for code, n in sorted(failures.items())))
            return 0 if finished or not wait else 3
        if tty:
            print("\r" + line, end="", flush=True)
        time.sleep(0.5)


def alerts_list(_args: argparse.Namespace) -> int:
    from app.outbound import alerts

    _, engine, _, _ = _alerts_context()
    for alert in alerts.recent(engine):
        counts = alerts.counts(engine, alert["id"])
        print(f"{alert['id']:>5} {alert['created_at']:%Y-%m-%d %H:%M} {alert['country']} {alert['status']:<8} "
              f"{alerts.progress_line(counts, width=10)}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    alerts = commands.add_parser("alerts", help="alerts to subscribers").add_subparsers(dest="alerts_command",
                                                                                      required=True)
    p = alerts.add_parser("send", help="preview and send an alert to a country's subscribers")
    p.add_argument("--country", required=True, help="two-letter code, e.g. MX")
    p.add_argument("--text", action="append", required=True, metavar="LANG=TEXT",
                   help="the alert in one language (repeat for more), e.g. --text es='...' --text en='...'")
    p.add_argument("--yes", action="store_true", help="send without asking")
    p.add_argument("--no-wait", dest="wait", action="store_false", help="do not follow the progress")
    p.add_argument("--timeout", type=float, default=3600.0, help="stop following after this many seconds")
    p.add_argument("--by", default="cli", help="who sends it (kept with the alert)")
    p.set_defaults(func=alerts_send)
    p = alerts.add_parser("status", help="the counts of an alert")
    p.add_argument("id", type=int)
    p.add_argument("--watch", action="store_true", help="a live progress bar until it is done")
    p.add_argument("--timeout", type=float, default=3600.0)
    p.set_defaults(func=alerts_status)
    alerts.add_parser("list", help="the latest alerts").set_defaults(func=alerts_list)
