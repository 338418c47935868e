"""Measure engines on the held-out file: intent accuracy, macro-F1, per language, country, language, latency."""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter

import numpy
from sklearn.metrics import f1_score

from app.knowledge.schema import TOPIC_IDS
from app.messages import Understanding
from app.understanding.training import Example


@dataclass
class Report:
    engine: str
    total: int = 0
    correct: int = 0
    topic_total: int = 0
    topic_correct: int = 0
    by_language: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    topic_by_language: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    country_total: int = 0
    country_correct: int = 0
    language_correct: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (expected, predicted)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    unavailable: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def topic_accuracy(self) -> float:
        return self.topic_correct / self.topic_total if self.topic_total else 0.0

    def language_accuracy(self, language: str) -> float:
        right, seen = self.by_language[language]
        return right / seen if seen else 0.0

    def topic_language_accuracy(self, language: str) -> float:
        right, seen = self.topic_by_language[language]
        return right / seen if seen else 0.0

    @property
    def macro_f1(self) -> float:
        """The mean F1 over the expected intents (a wrong prediction of an intent never expected lowers recall)."""
        if not self.pairs:
            return 0.0
        expected, predicted = zip(*self.pairs, strict=True)
        return float(f1_score(expected, predicted, labels=sorted(set(expected)), average="macro", zero_division=0))

    @property
    def country_accuracy(self) -> float:
        return self.country_correct / self.country_total if self.country_total else 0.0

    @property
    def detection_accuracy(self) -> float:
        return self.language_correct / self.total if self.total else 0.0

    def percentile(self, q: float) -> float:
        return float(numpy.percentile(self.latencies_ms, q, method="nearest")) if self.latencies_ms else 0.0


def evaluate(name: str, examples: list[Example], understand: Callable[[str], Understanding | None],
             country_of: Callable[[str], str | None]) -> Report:
    """Run every held-out example through `understand(text) -> Understanding | None`."""
    report = Report(name)
    for example in examples:
        expected_country = next((country_of(v) for k, v in example.entities if k == "country"), None)
        started = perf_counter()
        found = understand(example.text)
        report.latencies_ms.append((perf_counter() - started) * 1000)
        report.total += 1
        if found is None:
            report.unavailable += 1
            report.pairs.append((example.intent, "unavailable"))
            report.by_language[example.language][1] += 1
            continue
        ok = found.intent == example.intent
        report.correct += ok
        report.pairs.append((example.intent, found.intent))
        report.by_language[example.language][0] += ok
        report.by_language[example.language][1] += 1
        if example.intent in TOPIC_IDS:
            report.topic_total += 1
            report.topic_correct += ok
            report.topic_by_language[example.language][0] += ok
            report.topic_by_language[example.language][1] += 1
        if expected_country:
            report.country_total += 1
            report.country_correct += found.country == expected_country
        report.language_correct += found.language == example.language
        if not ok:
            report.failures.append((example.language, example.text, f"{example.intent} -> {found.intent}"))
    return report


def _topic_accuracy_in(lang: str) -> Callable[[Report], str]:
    return lambda r: f"{r.topic_language_accuracy(lang):.1%}"


def _accuracy_in(lang: str) -> Callable[[Report], str]:
    return lambda r: f"{r.language_accuracy(lang):.1%}"


def table(reports: list[Report], languages: tuple[str, ...]) -> str:
    """The figures of each engine side by side."""
    rows: list[tuple[str, Callable[[Report], str]]] = [
        ("intent accuracy", lambda r: f"{r.accuracy:.1%}"),
        ("topic accuracy", lambda r: f"{r.topic_accuracy:.1%}"),
        ("macro-F1", lambda r: f"{r.macro_f1:.3f}")]
    rows += [(f"accuracy {lang}", _accuracy_in(lang)) for lang in languages]
    rows += [(f"topic accuracy {lang}", _topic_accuracy_in(lang)) for lang in languages]
    rows += [("country accuracy", lambda r: f"{r.country_accuracy:.1%}"),
             ("language detection", lambda r: f"{r.detection_accuracy:.1%}"),
             ("latency p50", lambda r: f"{r.percentile(50):.2f} ms"),
             ("latency p99", lambda r: f"{r.percentile(99):.2f} ms"),
             ("unavailable", lambda r: str(r.unavailable)),
             ("examples", lambda r: str(r.total))]
    width = 22
    lines = [f"{'':{width}}" + "".join(f"{r.engine:>14}" for r in reports)]
    for label, value in rows:
        lines.append(f"{label:{width}}" + "".join(f"{value(r):>14}" for r in reports))
    return "\n".join(lines)
