"""The insights as CSV rows: daily counts, groups of unanswered texts, delivery failures."""

import csv
import io
from collections import Counter

from app.console.insights.sql import DIMENSIONS, Failure, Group


def _cell(value: object) -> object:
    """A cell a spreadsheet will not run as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def daily_csv(counts: dict[str, Counter]) -> list[list[object]]:
    rows: list[list[object]] = [["day", "dimension", "value", "count"]]
    for dimension in (*DIMENSIONS, "event"):
        for (day, value), n in sorted(counts[dimension].items(), key=lambda item: (item[0][0], str(item[0][1]))):
            rows.append([day, dimension, value, n])
    return rows


def groups_csv(groups: list[Group]) -> list[list[object]]:
    rows: list[list[object]] = [["rank", "count", "unanswered", "low_confidence", "last_seen", "languages",
                                 "sample_text", "other_texts", "normalised"]]
    for rank, g in enumerate(groups, 1):
        rows.append([rank, g.count, g.unanswered, g.low_confidence,
                     g.last_seen.date().isoformat() if g.last_seen else "", " ".join(sorted(g.languages)),
                     g.sample, " | ".join(g.texts[1:6]), g.key])
    return rows


def failures_csv(failures: list[Failure]) -> list[list[object]]:
    rows: list[list[object]] = [["error_code", "failed", "undelivered", "total"]]
    rows += [[f.code, f.failed, f.undelivered, f.total] for f in failures]
    return rows


def as_csv(rows: list[list[object]]) -> str:
    """The rows as a CSV file that spreadsheet programs open as it is."""
    out = io.StringIO()
    out.write("\ufeff")  # a BOM, so spreadsheet programs read the accents as UTF-8
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([[_cell(value) for value in row] for row in rows])
    return out.getvalue()
