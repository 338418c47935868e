"""content/SOURCES.md: one line per evidenced fact, written from the content itself so it cannot drift."""

from app.knowledge.loader import RawContent
from app.knowledge.schema import COUNTRY_CODES, Source

HEADER = """# Sources of the knowledge base

Written by `migrantinfo content sources` from the `sources` of every entry and topic answer; do not edit by hand
(`make test` fails when this file is out of date). One line per fact: the entry (its English title), its status,
the label of its evidence (**official**: an official, UN or Red Cross page; **corroborated**: two independent
outlets quoting the official body; **sheet**: a VERIFIED row of `shared/facts/country_facts.md`), the pages, and
the date each page was seen. The quotes themselves are in the YAML files. What was searched and not found, and the
facts kept out for want of evidence, are in `content/research/`.
"""


def _title(texts: dict) -> str:
    text = texts.get("en") or next(iter(texts.values()))
    return text.whatsapp.splitlines()[0].strip("* ").replace("|", "/")


def _line(name: str, status: str, sources: list[Source]) -> str:
    labels = ", ".join(dict.fromkeys(s.label for s in sources))
    pages = "<br>".join(f"{s.url} ({s.publisher}, seen {s.seen_on})" for s in sources)
    return f"| {name} | {status} | {labels} | {pages} |"


def sources_markdown(raw: RawContent) -> str:
    parts = [HEADER]
    for scope in ("regional", *COUNTRY_CODES):
        lines = []
        if scope in raw.entries:
            for e in raw.entries[scope].model.entries:
                lines.append(_line(f"`{e.id}`: {_title(e.texts)}", e.status, list(e.sources)))
        if scope in raw.answers:
            for a in raw.answers[scope].model.answers:
                quoted = [s for s in a.sources if isinstance(s, Source)]
                if quoted:
                    lines.append(_line(f"topic answer `{a.topic}`: {_title(a.texts)}", a.status, quoted))
        if lines:
            name = "Regional (the whole route)" if scope == "regional" else scope
            parts.append(f"\n## {name}\n\n| fact | status | label | pages (publisher, date seen) |\n|---|---|---|---|")
            parts += lines
    return "\n".join(parts) + "\n"
