"""`migrantinfo content check|report|reload`: the knowledge base."""

import argparse
import sys
from pathlib import Path

from app.config import get_settings


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


def add_commands(commands: argparse._SubParsersAction) -> None:
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
