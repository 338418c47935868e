"""`migrantinfo eval`: the engines measured on the held-out file."""

import argparse
import sys

from app.config import ROOT, get_settings


def evaluate_engines(args: argparse.Namespace) -> int:
    """Run the held-out file through the engines and print their figures side by side."""
    from pathlib import Path

    from app.i18n import LANGUAGES
    from app.knowledge.live import LiveKnowledge
    from app.messages import Understanding
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

        def through_rasa(text: str) -> Understanding | None:
            return rasa.parse(text, language=embedded.detect_language(text, current="es"),
                              country_of=kb.country_for_word)

        reports.append(evaluate("rasa", examples, through_rasa, kb.country_for_word))
    print(f"{len(examples)} held-out examples from {args.file}\n")
    print(table(reports, LANGUAGES))
    for report in reports:
        for language, text, what in report.failures[: args.failures]:
            print(f"  {report.engine} [{language}] {what}: {text}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("eval", help="measure the engines on the held-out file")
    p.add_argument("--engine", choices=("embedded", "rasa", "both"), default="embedded")
    p.add_argument("--file", default=str(ROOT / "tests" / "data" / "nlu_test.yml"))
    p.add_argument("--failures", type=int, default=0, help="also list this many misunderstood examples")
    p.set_defaults(func=evaluate_engines)
