"""The insights drawn: stacked bars per day as SVG, horizontal bars, names in the console's language."""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any

from babel import Locale

from app.knowledge.base import KnowledgeBase

COLORS = ("#0b4f6c", "#f4a259", "#5b8e7d", "#bc4b51", "#8e7dbe", "#20a4f3", "#8cb369", "#6c757d")


def day_list(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def per_day(counts: Counter) -> dict[str, Counter]:
    """value -> day -> count, from (day, value) -> count."""
    series: dict[str, Counter] = defaultdict(Counter)
    for (day, value), n in counts.items():
        series[value][day] += n
    return series


def totals(counts: Counter) -> list[tuple[object, int]]:
    """Sum over the days of the (already aggregated) rows: value -> count, largest first."""
    summed: Counter = Counter()
    for (_day, value), n in counts.items():
        summed[value] += n
    return sorted(summed.items(), key=lambda item: (-item[1], str(item[0])))


def day_chart(days: list[str], series: dict[str, Counter], *, names: Iterable[str] | None = None) -> dict:
    """A stacked bar per day, drawn as SVG on a 0..100 high canvas (stretched to the page width)."""
    order = list(names) if names is not None else sorted(series, key=lambda s: -sum(series[s].values()))
    colors = {name: COLORS[i % len(COLORS)] for i, name in enumerate(order)}
    peak = max((sum(series[s][d] for s in order) for d in days), default=0)
    bars = []
    for i, day in enumerate(days):
        y = 100.0
        parts: list[dict[str, Any]] = []
        for name in order:
            n = series[name][day] if name in series else 0
            if n:
                h = 100.0 * n / peak
                y -= h
                parts.append({"name": name, "count": n, "y": round(y, 3), "h": round(h, 3), "color": colors[name]})
        total = sum(p["count"] for p in parts)
        bars.append({"day": day, "x": i * 10 + 1, "total": total, "parts": parts})
    return {"width": max(len(days), 1) * 10, "peak": peak, "bars": bars, "first": days[0] if days else "",
            "last": days[-1] if days else "", "legend": [(name, colors[name]) for name in order]}


def bar_rows(items: list[tuple[object, int]], label: Callable[[object], str | None]) -> list[dict]:
    """Horizontal bars; a label of None means the value is unknown (not stored, or erased)."""
    peak = max((n for _, n in items), default=0) or 1
    return [{"label": label(value) if value not in (None, "") else None, "value": value, "count": n,
             "width": round(100 * n / peak, 1)} for value, n in items]


def namer(kind: str, language: str, kb: KnowledgeBase | None) -> Callable[[object], str | None]:
    """Names in the console's language: countries and languages from the CLDR (Babel), topics from content."""
    locale = Locale.parse(language)

    def name(value: object) -> str | None:
        code = str(value)
        if kind == "country":
            found = locale.territories.get(code.upper())
        elif kind == "language":
            found = locale.languages.get(code)
        elif kind == "topic" and kb is not None:
            found = kb.topic_name(code, language)
        else:
            found = None
        return f"{found} ({code})" if found and found != code else code

    return name
