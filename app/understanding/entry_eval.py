"""Measure the whole answer on held-out specific questions: the entry found, the fact in the reply, needless
questions for the country, and the time understanding and retrieval take together."""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy
import yaml

from app.i18n import LANGUAGES
from app.knowledge import KnowledgeBase
from app.messages import Reply, Understanding


@dataclass(frozen=True)
class Question:
    text: str
    language: str
    country: str | None
    entry: str


@dataclass
class EntryReport:
    engine: str
    total: int = 0
    top1: int = 0  # the expected entry was the one understood
    fact: int = 0  # the expected entry's answer is in the reply
    regional: int = 0
    needless: int = 0  # regional questions answered with a question for the country
    latencies_ms: list[float] = field(default_factory=list)
    languages: dict[str, list[int]] = field(default_factory=dict)  # language -> [right, asked]
    fallbacks: int = 0  # answered by the embedded engine because the primary one failed: not the primary's figures
    failures: list[tuple[str, str, str]] = field(default_factory=list)

    def share(self, part: int, whole: int | None = None) -> str:
        whole = self.total if whole is None else whole
        return f"{part / whole:.1%}" if whole else "-"

    def percentile(self, q: float) -> float:
        return float(numpy.percentile(self.latencies_ms, q, method="nearest")) if self.latencies_ms else 0.0


def read_questions(path: Path) -> list[Question]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Question(q["text"], q["language"], q.get("country"), q["entry"]) for q in data["questions"]]


Ask = Callable[[Question], tuple[Understanding, Reply, bool, float]]  # what was understood, said, asked; ms


def evaluate_entries(name: str, questions: list[Question], ask: Ask, kb: KnowledgeBase) -> EntryReport:
    """Run each question through the dialogue; `ask` returns the understanding, the reply, whether the reply asks
    for the country, and the milliseconds understanding took."""
    report = EntryReport(name)
    for question in questions:
        understood, reply, asked_country, ms = ask(question)
        report.total += 1
        report.latencies_ms.append(ms)
        report.top1 += understood.entry == question.entry
        tally = report.languages.setdefault(question.language, [0, 0])
        tally[0] += understood.entry == question.entry
        tally[1] += 1
        # the expected entry's own text, whole, in the language the reply was written in (a list of choices
        # naming it does not count)
        entry = kb.entries[question.entry]
        text = entry.texts[kb.pick_language(entry.texts, understood.language, question.country)].whatsapp
        report.fact += text in "\n".join(reply.whatsapp)
        if kb.entry_scope.get(question.entry) is None:
            report.regional += 1
            report.needless += asked_country
        if understood.entry != question.entry:
            report.failures.append((question.language, question.text, f"{question.entry} -> {understood.entry}"))
    return report


def _language_share(report: EntryReport, *, language: str) -> str:
    right, asked = report.languages.get(language, [0, 0])
    return report.share(right, asked)


def entries_table(reports: list[EntryReport]) -> str:
    rows: list[tuple[str, Callable[[EntryReport], str]]] = [
        ("entry accuracy (top-1)", lambda r: r.share(r.top1)),
        ("fact in the reply", lambda r: r.share(r.fact)),
        ("needless country asks", lambda r: f"{r.needless}/{r.regional}"),
    ]
    languages = sorted({language for r in reports for language in r.languages}, key=list(LANGUAGES).index)
    rows += [(f"entry accuracy {language}", partial(_language_share, language=language)) for language in languages]
    rows += [
        ("understand+retrieve p50", lambda r: f"{r.percentile(50):.2f} ms"),
        ("understand+retrieve p99", lambda r: f"{r.percentile(99):.2f} ms"),
        ("answered by the fallback", lambda r: str(r.fallbacks)),
        ("questions", lambda r: str(r.total)),
    ]
    width = 26
    lines = [f"{'':{width}}" + "".join(f"{r.engine:>14}" for r in reports)]
    lines += [f"{label:{width}}" + "".join(f"{value(r):>14}" for r in reports) for label, value in rows]
    return "\n".join(lines)
