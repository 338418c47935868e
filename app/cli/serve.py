"""`migrantinfo serve` (the web server, with the queue worker and Rasa beside it) and `migrantinfo worker`."""

import argparse
import os
import subprocess
import sys
from pathlib import Path

from app.config import Settings, get_settings


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    host, port = args.host or settings.host, args.port or settings.port
    rasa = None
    if settings.engine == "rasa" and not args.no_rasa:
        rasa = _start_rasa(settings, app_port=port)
    from app.cli.engine import prepare_apart

    prepare_apart()  # the workers then load the engine and index from the cache, lean
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
        uvicorn.run("app.main:create_app", factory=True, host=host, port=port,
                    log_level=settings.log_level.lower(), workers=args.workers)
    finally:
        from app.understanding.rasa_setup import stop_server

        for child in (queue_worker, rasa):
            if child is not None:
                stop_server(child)
    return 0


def _start_rasa(settings: Settings, *, app_port: int) -> subprocess.Popen:
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


def worker(_: argparse.Namespace) -> int:
    from app.outbound.queue import run_worker

    run_worker(get_settings())
    return 0


def _start_worker() -> subprocess.Popen:
    """The queue worker beside the web server (`make run`); it stops when the server stops."""
    from app.understanding.rasa_setup import _die_with_parent

    return subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], preexec_fn=_die_with_parent)


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("serve", help="start the web server (and Rasa when ENGINE=rasa)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--no-rasa", action="store_true", help="with ENGINE=rasa, do not start Rasa (it runs elsewhere)")
    p.add_argument("--no-worker", action="store_true", help="do not start the queue worker (it runs elsewhere)")
    p.add_argument("--workers", type=int, default=None,
                   help="uvicorn worker processes (with PostgreSQL; SQLite has one writer at a time)")
    p.set_defaults(func=serve)
    commands.add_parser("worker", help="run the queue worker (alerts)").set_defaults(func=worker)
