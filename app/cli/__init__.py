"""The `migrantinfo` command: serve, db upgrade, purge, chat, content check/report/reload."""

import argparse
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

from app.config import ROOT, get_settings


def _parts():  # type: ignore[no-untyped-def]
    """The settings, a migrated database engine and the loaded knowledge base, as the server has them."""
    from app.knowledge.live import LiveKnowledge
    from app.knowledge.loader import ContentError
    from app.storage.db import make_engine, upgrade

    settings = get_settings()
    engine = make_engine(settings.database_url, timeout_seconds=settings.db_timeout_seconds)
    upgrade(engine)
    knowledge = LiveKnowledge(settings.content_dir, locales_dir=settings.locales_dir,
                              snapshot_dir=settings.content_snapshot_dir)
    try:
        knowledge.reload()
    except ContentError as exc:
        if not knowledge.ready:
            raise SystemExit(f"{exc}\ncontent/ cannot be served and no good version was kept in "
                             f"{settings.content_snapshot_dir}: fix the files (migrantinfo content check)") from None
        print(f"{exc}\ncontent/ has errors: serving the last good version {knowledge.get().version} "
              f"from {settings.content_snapshot_dir}", file=sys.stderr)
    return settings, engine, knowledge


def _assistant():  # type: ignore[no-untyped-def]
    from app.conversation.pipeline import Assistant

    return Assistant(*_parts())


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    host, port = args.host or settings.host, args.port or settings.port
    rasa = None
    if settings.engine == "rasa" and not args.no_rasa:
        rasa = _start_rasa(settings, app_port=port)
    queue_worker = None if args.no_worker else _start_worker()
    if (args.workers or 1) > 1:
        if settings.database_url.startswith("sqlite"):
            print("warning: several workers on SQLite take turns writing; use PostgreSQL for --workers",
                  file=sys.stderr)
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            import tempfile  # /metrics sums the workers' counters from files here, fresh at each start

            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="migrantinfo-metrics-")
    print(f"Migrantinfo on http://{host}:{port}")
    print(f"  Twilio webhook (SMS and WhatsApp): {settings.public_base_url.rstrip('/')}/webhooks/twilio")
    print(f"  Status callback:                   {settings.public_base_url.rstrip('/')}/webhooks/twilio/status")
    print(f"  Try it: curl -s localhost:{port}/api/v1/messages -H 'content-type: application/json' "
          "-d '{\"sender\": \"+5215512345678\", \"text\": \"ASILO MX\", \"channel\": \"sms\"}'")
    print("  or chat in the terminal: .venv/bin/migrantinfo chat --channel sms --from +5215512345678")
    if queue_worker is not None:
        print(f"  Queue worker (alerts): pid {queue_worker.pid}, {'Redis' if settings.redis_url else 'SQLite'} queue")
    try:
        uvicorn.run("app.main:create_app", factory=True, host=host, port=port, log_level="info",
                    workers=args.workers)
    finally:
        from app.understanding.rasa_setup import stop_server

        for child in (queue_worker, rasa):
            if child is not None:
                stop_server(child)
    return 0


def _start_rasa(settings, *, app_port: int):  # type: ignore[no-untyped-def]
    """Prepare (environment, model) and start the Rasa server that ENGINE=rasa talks to."""
    from urllib.parse import urlparse

    from app.understanding.rasa_setup import RasaSetupError, ensure_model, start_server

    try:
        model = ensure_model(settings.bot_dir)
        port = urlparse(settings.rasa_url).port or 5005
        print(f"  starting Rasa on {settings.rasa_url} with {model.name} (actions served by this app)")
        return start_server(model, port=port, action_url=f"http://127.0.0.1:{app_port}/rasa/webhook",
                            action_token=settings.action_token, bot_dir=settings.bot_dir, log=Path("var") / "rasa.log")
    except RasaSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def rasa_prepare(_: argparse.Namespace) -> int:
    """Create the Rasa environment and train the model if bot/ changed."""
    from app.understanding.rasa_setup import RasaSetupError, ensure_model

    try:
        print(f"model: {ensure_model(get_settings().bot_dir)}")
    except RasaSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def db_upgrade(_: argparse.Namespace) -> int:
    from app.storage.db import make_engine, upgrade

    settings = get_settings()
    upgrade(make_engine(settings.database_url, timeout_seconds=settings.db_timeout_seconds))
    print("database is at the latest migration")
    return 0


def purge(_: argparse.Namespace) -> int:
    from app.storage import store
    from app.storage.db import make_engine

    settings = get_settings()
    engine = make_engine(settings.database_url, timeout_seconds=settings.db_timeout_seconds)
    count = store.purge(engine, retention_days=settings.retention_days)
    print(f"removed the texts of {count} messages older than {settings.retention_days} days")
    return 0


def inbox(_: argparse.Namespace) -> int:
    """What the inbox journals still owe, and the messages whose answer did not reach the person."""
    from app.conversation.inbox import journals
    from app.storage import store
    from app.storage.db import make_engine

    settings = get_settings()
    owed = journals(settings.inbox_dir) if settings.inbox_dir.exists() else []
    for path, pending, alive in owed:
        print(f"{path.name}: {pending} not answered yet ({'its process runs' if alive else 'adopted at next start'})")
    engine = make_engine(settings.database_url, timeout_seconds=settings.db_timeout_seconds)
    rows = store.unanswered(engine)
    print(f"{sum(p for _, p, _ in owed)} messages in the journals; {len(rows)} answered late or not at all:")
    for row in rows:
        print(f"  {row.created_at:%Y-%m-%d %H:%M} {row.channel:9} {row.status:7} {row.message_sid}  {row.text or ''}")
    return 0


def chat(args: argparse.Namespace) -> int:
    from app.channels.render import sms_info
    from app.messages import Inbound

    assistant = _assistant()
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


def content_check(_: argparse.Namespace) -> int:
    from app.knowledge.checks import check
    from app.knowledge.loader import load_content

    settings = get_settings()
    problems = check(load_content(settings.content_dir), locales_dir=settings.locales_dir)
    for problem in problems:
        print(problem)
    errors = sum(1 for p in problems if not p.warning)
    print(f"{errors} error(s), {len(problems) - errors} warning(s)")
    return 1 if errors else 0


def content_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.knowledge.loader import load_content
    from app.knowledge.report import as_csv, as_html, as_text, coverage

    settings = get_settings()
    raw = load_content(settings.content_dir)
    cells = coverage(raw)
    print(as_text(cells))
    for path, text in ((args.csv, as_csv(cells)), (args.html, as_html(cells, version=raw.version))):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


def content_reload(args: argparse.Namespace) -> int:
    """Ask the running server to reload content/ (needs API_TOKEN)."""
    import httpx

    settings = get_settings()
    url = (args.url or f"http://{settings.host}:{settings.port}").rstrip("/") + "/admin/content/reload"
    try:
        response = httpx.post(url, headers={"authorization": f"Bearer {settings.api_token}"}, timeout=30)
    except httpx.HTTPError as exc:
        print(f"cannot reach the server at {url}: {exc}", file=sys.stderr)
        return 2
    body = response.json()
    if response.status_code == 200:
        print(f"reloaded: version {body['version']} at {body['loaded_at']}")
        return 0
    for error in body.get("errors", []) or [body.get("detail", response.text)]:
        print(error)
    print(f"refused; still serving version {body.get('serving')}")
    return 1


def evaluate_engines(args: argparse.Namespace) -> int:
    """Run the held-out file through the engines and print their figures side by side."""
    from pathlib import Path

    from app.i18n import LANGUAGES
    from app.knowledge.live import LiveKnowledge
    from app.understanding.evaluate import evaluate, table
    from app.understanding.rasa import RasaEngine
    from app.understanding.router import build_understander
    from app.understanding.training import read_nlu

    settings = get_settings()
    knowledge = LiveKnowledge(settings.content_dir, locales_dir=settings.locales_dir)
    kb = knowledge.reload()
    examples = read_nlu(Path(args.file))
    embedded = build_understander(settings.model_copy(update={"engine": "embedded"}), knowledge).embedded
    reports = []
    if args.engine in ("embedded", "both"):
        reports.append(evaluate("embedded", examples, lambda text: embedded.understand(text, language="es"),
                                kb.country_for_word))
    if args.engine in ("rasa", "both"):
        rasa = RasaEngine(settings.rasa_url, timeout=settings.rasa_timeout_seconds)
        if not rasa.ready():
            print(f"Rasa is not answering at {settings.rasa_url}: start it with `make rasa`", file=sys.stderr)
            return 2

        def through_rasa(text: str):  # type: ignore[no-untyped-def]
            return rasa.parse(text, language=embedded.detect_language(text, current="es"),
                              country_of=kb.country_for_word)

        reports.append(evaluate("rasa", examples, through_rasa, kb.country_for_word))
    print(f"{len(examples)} held-out examples from {args.file}\n")
    print(table(reports, LANGUAGES))
    for report in reports:
        for language, text, what in report.failures[: args.failures]:
            print(f"  {report.engine} [{language}] {what}: {text}")
    return 0


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


def worker(_: argparse.Namespace) -> int:
    from app.outbound.queue import run_worker

    run_worker(get_settings())
    return 0


def _start_worker():  # type: ignore[no-untyped-def]
    """The queue worker beside the web server (`make run`); it stops when the server stops."""
    import subprocess

    from app.understanding.rasa_setup import _die_with_parent

    return subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], preexec_fn=_die_with_parent)


def _alerts_context():  # type: ignore[no-untyped-def]
    from app.outbound.queue import Queue

    settings, engine, knowledge = _parts()
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


def _watch(engine, alert_id: int, *, wait: bool, timeout: float) -> int:  # type: ignore[no-untyped-def]
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


def alerts_list(_: argparse.Namespace) -> int:
    from app.outbound import alerts

    _, engine, _, _ = _alerts_context()
    for alert in alerts.recent(engine):
        counts = alerts.counts(engine, alert["id"])
        print(f"{alert['id']:>5} {alert['created_at']:%Y-%m-%d %H:%M} {alert['country']} {alert['status']:<8} "
              f"{alerts.progress_line(counts, width=10)}")
    return 0


def keys_new(_: argparse.Namespace) -> int:
    from app.crypto import new_key

    print(new_key())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="migrantinfo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("serve", help="start the web server (and Rasa when ENGINE=rasa)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--no-rasa", action="store_true", help="with ENGINE=rasa, do not start Rasa (it runs elsewhere)")
    p.add_argument("--no-worker", action="store_true", help="do not start the queue worker (it runs elsewhere)")
    p.add_argument("--workers", type=int, default=None,
                   help="uvicorn worker processes (with PostgreSQL; SQLite has one writer at a time)")
    p.set_defaults(func=serve)
    commands.add_parser("worker", help="run the queue worker (alerts)").set_defaults(func=worker)
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
    keys = commands.add_parser("keys", help="encryption keys").add_subparsers(dest="keys_command", required=True)
    keys.add_parser("new", help="print a new key for ADDRESS_KEYS").set_defaults(func=keys_new)
    db = commands.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply the migrations").set_defaults(func=db_upgrade)
    commands.add_parser("purge", help="remove message texts past retention").set_defaults(func=purge)
    commands.add_parser("inbox", help="messages not answered yet, or answered late").set_defaults(func=inbox)
    p = commands.add_parser("chat", help="talk to the bot in this terminal")
    p.add_argument("--channel", choices=("sms", "whatsapp"), default="whatsapp")
    p.add_argument("--from", dest="sender", default="+5215512345678")
    p.set_defaults(func=chat)
    rasa = commands.add_parser("rasa", help="the Rasa engine").add_subparsers(dest="rasa_command", required=True)
    rasa.add_parser("prepare", help="create the Rasa environment, train if bot/ changed").set_defaults(
        func=rasa_prepare)
    users = commands.add_parser("users", help="console accounts").add_subparsers(dest="users_command",
                                                                                 required=True)
    p = users.add_parser("add", help="create a console account")
    p.add_argument("name")
    p.add_argument("--role", choices=("editor", "operator", "admin"), required=True)
    p.set_defaults(func=users_add)
    p = commands.add_parser("eval", help="measure the engines on the held-out file")
    p.add_argument("--engine", choices=("embedded", "rasa", "both"), default="embedded")
    p.add_argument("--file", default=str(ROOT / "tests" / "data" / "nlu_test.yml"))
    p.add_argument("--failures", type=int, default=0, help="also list this many misunderstood examples")
    p.set_defaults(func=evaluate_engines)
    content = commands.add_parser("content", help="the knowledge base").add_subparsers(
        dest="content_command", required=True)
    content.add_parser("check", help="validate content/").set_defaults(func=content_check)
    p = content.add_parser("report", help="the coverage matrix country × topic × language")
    p.add_argument("--csv", default="var/coverage.csv")
    p.add_argument("--html", default="var/coverage.html")
    p.set_defaults(func=content_report)
    p = content.add_parser("reload", help="make the running server reload content/")
    p.add_argument("--url", help="base URL of the server (default http://HOST:PORT)")
    p.set_defaults(func=content_reload)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
