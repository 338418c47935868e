"""`migrantinfo content check|report|sources|preview|reload`: the knowledge base."""

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
    from app.knowledge import entry_report
    from app.knowledge.loader import load_content
    from app.knowledge.report import as_csv, as_html, as_text, coverage

    settings = get_settings()
    raw = load_content(settings.content_dir)
    cells = coverage(raw)
    rows, numbers = entry_report.entry_rows(raw), entry_report.number_rows(raw)
    print(as_text(cells))
    print(entry_report.as_text(rows, numbers))
    folder = Path(args.csv).parent
    page = as_html(cells, version=raw.version) + entry_report.as_html(rows, numbers)
    for path, text in ((args.csv, as_csv(cells)), (str(folder / "entries.csv"), entry_report.as_csv(rows)),
                       (str(folder / "numbers.csv"), entry_report.numbers_csv(numbers)), (args.html, page)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


def content_sources(args: argparse.Namespace) -> int:
    """Write content/SOURCES.md from the entries' sources; --check only says whether it is up to date."""
    from app.knowledge.loader import load_content
    from app.knowledge.sources import sources_markdown

    settings = get_settings()
    text = sources_markdown(load_content(settings.content_dir))
    path = settings.content_dir / "SOURCES.md"
    if args.check:
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != text:
            print(f"{path} is out of date: run `migrantinfo content sources`")
            return 1
        print(f"{path} is up to date")
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


def content_preview(args: argparse.Namespace) -> int:
    """Show a specific entry as a person would get it, on SMS (pages, segments) or WhatsApp."""
    from app.channels.render import sms_info, to_gsm7
    from app.knowledge.base import KnowledgeBase
    from app.knowledge.loader import load_content

    settings = get_settings()
    kb = KnowledgeBase(load_content(settings.content_dir), locales_dir=settings.locales_dir)
    answer = kb.entry_answer(args.id, args.language, args.country)
    if answer is None:
        print(f"no published entry {args.id!r}", file=sys.stderr)
        return 1
    if args.channel == "sms":
        text = to_gsm7(answer.sms)
        info = sms_info(text)
        print(f"{text}\n--- {info.segments} segment(s), {info.units} {info.encoding} units")
    else:
        print(answer.whatsapp)
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
    p = content.add_parser("sources", help="write content/SOURCES.md from the entries' sources")
    p.add_argument("--check", action="store_true", help="only say whether SOURCES.md is up to date")
    p.set_defaults(func=content_sources)
    p = content.add_parser("preview", help="show a specific entry as a person gets it")
    p.add_argument("id")
    p.add_argument("--language", default="es")
    p.add_argument("--country", help="the reader's country (for the language fallback)")
    p.add_argument("--channel", choices=("sms", "whatsapp"), default="whatsapp")
    p.set_defaults(func=content_preview)
    p = content.add_parser("reload", help="make the running server reload content/")
    p.add_argument("--url", help="base URL of the server (default http://HOST:PORT)")
    p.set_defaults(func=content_reload)
