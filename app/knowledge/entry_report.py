"""For editors: the specific entries per country × topic × language with their evidence, and untested numbers."""

import csv
import html
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date

from app.knowledge.entry_checks import backed_numbers, published_numbers
from app.knowledge.evidence import unbacked
from app.knowledge.loader import RawContent
from app.knowledge.requirements import STALE_DAYS
from app.knowledge.schema import COUNTRY_CODES

STRENGTH = ("official", "corroborated", "sheet", "supporting")  # the strongest label of an entry's sources names its evidence


@dataclass(frozen=True)
class EntryRow:
    scope: str  # a country code or "regional"
    id: str
    topic: str
    status: str
    languages: tuple[str, ...]
    evidence: str  # official | corroborated | sheet
    sources: int
    unbacked: int  # numbers in its texts no quote backs (0 once `content check` passes for a published entry)
    stale: bool


@dataclass(frozen=True)
class NumberRow:
    country: str
    where: str  # "emergency" or a service point id
    service: str
    number: str
    status: str
    call_tested: bool


def entry_rows(raw: RawContent, *, today: date | None = None) -> list[EntryRow]:
    today = today or date.today()
    rows = []
    for scope, doc in raw.entries.items():
        numbers = published_numbers(raw, None if scope == "regional" else scope)
        for e in doc.model.entries:
            backed = backed_numbers(e.sources, numbers)
            loose = {c.digits for t in e.texts.values() for f in (t.whatsapp, t.sms) for c in unbacked(f, backed)}
            labels = {s.label for s in e.sources}
            rows.append(EntryRow(scope, e.id, e.topic, e.status, tuple(e.texts), next(x for x in STRENGTH if x in labels),
                                 len(e.sources), len(loose), (today - e.last_reviewed).days > STALE_DAYS))
    return rows


def number_rows(raw: RawContent) -> list[NumberRow]:
    """Every emergency number and service phone, with whether someone has called it."""
    rows = [NumberRow(code, "emergency", n.service, n.number, n.status, n.call_tested)
            for code, doc in raw.countries.items() for n in doc.model.emergency]
    rows += [NumberRow(code, p.id, p.kind, phone, p.status, p.call_tested)
             for code, doc in raw.services.items() for p in doc.model.services
             for phone in (*p.phones, *([p.whatsapp] if p.whatsapp else []))]
    return rows


def counts(rows: list[EntryRow]) -> Counter[tuple[str, str, str]]:
    """Published entries per scope × topic × language."""
    return Counter((r.scope, r.topic, lang) for r in rows if r.status == "published" for lang in r.languages)


def as_text(rows: list[EntryRow], numbers: list[NumberRow]) -> str:
    lines = ["\nSpecific entries (published / draft; by language; by evidence):"]
    for scope in (*COUNTRY_CODES, "regional"):
        own = [r for r in rows if r.scope == scope]
        published = [r for r in own if r.status == "published"]
        by_language = Counter(lang for r in published for lang in r.languages)
        by_evidence = Counter(r.evidence for r in published)
        lines.append(f"{scope:9}{len(published):4} / {len(own) - len(published):<3} "
                     + " ".join(f"{lang}:{n}" for lang, n in sorted(by_language.items()))
                     + "  (" + ", ".join(f"{k} {v}" for k, v in sorted(by_evidence.items())) + ")")
    untested = [n for n in numbers if n.status == "published" and not n.call_tested]
    lines.append(f"{len(untested)} published number(s) not call-tested: "
                 + ", ".join(f"{n.country} {n.number}" for n in untested))
    return "\n".join(lines)


def as_csv(rows: list[EntryRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["scope", "id", "topic", "status", "languages", "evidence", "sources", "unbacked", "stale"])
    for r in rows:
        writer.writerow([r.scope, r.id, r.topic, r.status, " ".join(r.languages), r.evidence, r.sources,
                         r.unbacked, "yes" if r.stale else "no"])
    return out.getvalue()


def numbers_csv(numbers: list[NumberRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["country", "where", "service", "number", "status", "call_tested"])
    for n in numbers:
        writer.writerow([n.country, n.where, n.service, n.number, n.status, "yes" if n.call_tested else "no"])
    return out.getvalue()


def as_html(rows: list[EntryRow], numbers: list[NumberRow]) -> str:
    """Two tables for the coverage page: entries with their evidence, and numbers nobody has called yet."""
    esc = html.escape
    parts = ["<h1>Specific entries</h1><table><tr><th>scope</th><th>id</th><th>topic</th><th>status</th>"
             "<th>languages</th><th>evidence</th><th>sources</th><th>unbacked numbers</th></tr>"]
    parts += [f"<tr><td>{r.scope}</td><td>{esc(r.id)}</td><td>{r.topic}</td><td>{r.status}</td>"
              f"<td>{' '.join(r.languages)}</td><td>{r.evidence}</td><td>{r.sources}</td><td>{r.unbacked}</td></tr>"
              for r in rows]
    parts.append("</table><h1>Numbers not call-tested</h1><table><tr><th>country</th><th>where</th>"
                 "<th>service</th><th>number</th><th>status</th></tr>")
    parts += [f"<tr><td>{n.country}</td><td>{esc(n.where)}</td><td>{n.service}</td><td>{esc(n.number)}</td>"
              f"<td>{n.status}</td></tr>" for n in numbers if not n.call_tested]
    parts.append("</table>")
    return "".join(parts)
