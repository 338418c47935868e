"""The coverage matrix country × topic × language, for editors: terminal, CSV and HTML."""

import csv
import html
import io
from dataclasses import dataclass
from datetime import date

from app.i18n import FALLBACKS, LANGUAGES
from app.knowledge.loader import RawContent
from app.knowledge.requirements import STALE_DAYS, required_languages
from app.knowledge.schema import COUNTRY_CODES, TOPIC_IDS, AnswerEntry

SYMBOL = {"present": "✓", "fallback": "~", "missing": "✗", "stale": "!", "draft": "d"}


@dataclass(frozen=True)
class Cell:
    country: str
    topic: str
    language: str
    status: str  # present | fallback | missing | stale | draft
    origin: str  # country | regional | ""
    required: bool
    served_in: str | None = None


def coverage(raw: RawContent, *, today: date | None = None) -> list[Cell]:
    """One cell per country, topic and language: what a person asking would get."""
    today = today or date.today()
    entries: dict[tuple[str | None, str], list[AnswerEntry]] = {}
    for key, doc in raw.answers.items():
        for entry in doc.model.answers:
            entries.setdefault((None if key == "regional" else key, entry.topic), []).append(entry)
    topics = [t.id for t in raw.topics.model.topics] if raw.topics else list(TOPIC_IDS)
    cells = []
    for country in COUNTRY_CODES:
        for topic in topics:
            own = [e for e in entries.get((country, topic), []) if e.status == "published"]
            regional = [e for e in entries.get((None, topic), []) if e.status == "published"]
            served, origin = (own[0], "country") if own else ((regional[0], "regional") if regional else (None, ""))
            drafts = any(e.status == "draft" for e in entries.get((country, topic), []))
            needed = required_languages(country, topic)
            for language in LANGUAGES:
                required = language in needed
                if served is None:
                    status, served_in = ("draft" if drafts else "missing"), None
                elif language in served.texts:
                    stale = (today - served.last_reviewed).days > STALE_DAYS
                    status, served_in = ("stale" if stale else "present"), language
                else:
                    served_in = next((c for c in FALLBACKS[language] if c in served.texts), None)
                    status = "fallback" if served_in else "missing"
                cells.append(Cell(country, topic, language, status, origin, required, served_in))
    return cells


def gaps(cells: list[Cell]) -> list[Cell]:
    """Required cells that are not answered in their own language."""
    return [c for c in cells if c.required and c.status not in ("present", "stale")]


def as_text(cells: list[Cell]) -> str:
    """A terminal table: one row per country and topic, one column per language."""
    lines = [f"{'':4}{'topic':16}" + " ".join(f"{lang:>3}" for lang in LANGUAGES)]
    for country in COUNTRY_CODES:
        rows: dict[str, list[Cell]] = {}
        for cell in cells:
            if cell.country == country:
                rows.setdefault(cell.topic, []).append(cell)
        for topic, row in rows.items():
            marks = " ".join(f"{SYMBOL[c.status] + ('*' if c.required else ' '):>3}" for c in row)
            lines.append(f"{country:4}{topic:16}{marks}")
    legend = ", ".join(f"{s} {name}" for name, s in SYMBOL.items())
    lines.append(f"\n{legend}; * required language")
    missing = gaps(cells)
    lines.append(f"{len(missing)} required cell(s) not answered in their own language")
    return "\n".join(lines)


def as_csv(cells: list[Cell]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["country", "topic", "language", "status", "origin", "required", "served_in"])
    for c in cells:
        writer.writerow([c.country, c.topic, c.language, c.status, c.origin, "yes" if c.required else "no",
                         c.served_in or ""])
    return out.getvalue()


def as_html(cells: list[Cell], *, version: str) -> str:
    """A self-contained page with one table per country."""
    colors = {"present": "#c8e6c9", "fallback": "#fff9c4", "missing": "#ffcdd2", "stale": "#ffe0b2",
              "draft": "#e1bee7"}
    parts = [f"<!doctype html><meta charset=utf-8><title>Coverage {version}</title>",
             "<style>body{font-family:sans-serif}td,th{border:1px solid #999;padding:2px 6px}"
             "table{border-collapse:collapse;margin-bottom:1em}</style>",
             f"<h1>Knowledge base coverage</h1><p>Content version {html.escape(version)}. "
             "Bold: required language. Cells say the status and where the answer comes from.</p>"]
    for country in COUNTRY_CODES:
        row_cells = [c for c in cells if c.country == country]
        parts.append(f"<h2>{country}</h2><table><tr><th>topic</th>"
                     + "".join(f"<th>{lang}</th>" for lang in LANGUAGES) + "</tr>")
        for topic in dict.fromkeys(c.topic for c in row_cells):
            parts.append(f"<tr><td>{topic}</td>")
            for c in (c for c in row_cells if c.topic == topic):
                label = f"{c.status} ({c.origin})" if c.origin else c.status
                text = f"<b>{label}</b>" if c.required else label
                parts.append(f'<td style="background:{colors.get(c.status, "#fff")}">{text}</td>')
            parts.append("</tr>")
        parts.append("</table>")
    return "".join(parts)
