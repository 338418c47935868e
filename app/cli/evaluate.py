"""`migrantinfo eval`: the engines measured on the held-out file."""

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.config import ROOT, Settings, get_settings

if TYPE_CHECKING:
    from app.knowledge.live import LiveKnowledge
    from app.understanding.embedded import EmbeddedEngine
    from app.understanding.entry_eval import EntryReport
    from app.understanding.router import Understander


def evaluate_engines(args: argparse.Namespace) -> int:
    """Run the held-out file through the engines and print their figures side by side."""

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
    return evaluate_entry_questions(args, settings, knowledge, embedded)


def evaluate_entry_questions(args: argparse.Namespace, settings: Settings, knowledge: "LiveKnowledge",
                             embedded: "EmbeddedEngine") -> int:
    """The specific questions through the whole dialogue, for each engine side by side."""
    from app.understanding.entry_eval import entries_table, read_questions
    from app.understanding.rasa import RasaEngine
    from app.understanding.router import Understander, build_understander

    questions = read_questions(Path(args.entries_file))
    knowledge.get().warm()  # as the app does at start: the entries' index is ready before the first question
    base = build_understander(settings.model_copy(update={"engine": "embedded"}), knowledge)
    engines = {"embedded": base} if args.engine in ("embedded", "both") else {}
    if args.engine in ("rasa", "both"):
        engines["rasa"] = Understander(embedded, RasaEngine(settings.rasa_url, timeout=settings.rasa_timeout_seconds),
                                       search=base.search, entry_threshold=base.entry_threshold,
                                       entry_min_score=base.entry_min_score, places=base.places)
    reports = [_entry_report(name, understander, questions, settings, knowledge)
               for name, understander in engines.items()]
    print(f"\n{len(questions)} held-out specific questions from {args.entries_file}\n")
    print(entries_table(reports))
    for report in reports:
        for language, text, what in report.failures[: args.failures]:
            print(f"  {report.engine} [{language}] {what}: {text}")
    failed = [r.engine for r in reports if r.fallbacks]
    if failed:  # a column partly answered by the embedded engine measures it, not the engine it names
        print(f"\n{', '.join(failed)} failed and the embedded engine answered for it: these figures are not its "
              "own. Rasa needs the app's action server: run the app with ENGINE=rasa (`make run ENGINE=rasa`).",
              file=sys.stderr)
        return 1
    return 0


def _entry_report(name: str, understander: "Understander", questions: list, settings: Settings,
                  knowledge: "LiveKnowledge") -> "EntryReport":
    from itertools import count
    from time import perf_counter

    from app.conversation.dialogue import Conversation, Dialogue
    from app.messages import Inbound, Reply, Understanding
    from app.understanding.entry_eval import Question, evaluate_entries

    timed: list[float] = []
    understand = understander.understand

    def timed_understand(text: str, **values: Any) -> Understanding:
        started = perf_counter()
        try:
            return understand(text, **values)
        finally:
            timed.append((perf_counter() - started) * 1000)

    understander.understand = timed_understand  # type: ignore[method-assign]
    dialogue = Dialogue(knowledge.get, understander, locales_dir=settings.locales_dir)

    asked = count()

    def ask(q: Question) -> tuple[Understanding, Reply, bool, float]:
        # a sender of its own for each question, as each person has: one shared Rasa tracker would grow with every
        # question and slow Rasa down (its p99 went from tens to hundreds of milliseconds)
        convo = Conversation(language=q.language, country=q.country, sender=f"eval-{name}-{next(asked)}")
        reply = dialogue.respond(Inbound(sid="eval", channel="whatsapp", address="eval", text=q.text, test=True),
                                 convo)
        return reply.understanding, reply, convo.state.get("awaiting") == "country", timed[-1] if timed else 0.0

    report = evaluate_entries(name, questions, ask, knowledge.get())
    report.fallbacks = understander.fallbacks
    return report


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("eval", help="measure the engines on the held-out file")
    p.add_argument("--engine", choices=("embedded", "rasa", "both"), default="embedded")
    p.add_argument("--file", default=str(ROOT / "tests" / "data" / "nlu_test.yml"))
    p.add_argument("--entries-file", default=str(ROOT / "tests" / "data" / "entries_test.yml"))
    p.add_argument("--failures", type=int, default=0, help="also list this many misunderstood examples")
    p.set_defaults(func=evaluate_engines)
