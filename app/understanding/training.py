"""Read the Rasa NLU files of bot/data (and the held-out test file) into plain examples."""

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from app.knowledge.loader import FAST_LOADER

ENTITY = re.compile(r"\[([^\]]+)\]\((\w+)\)")
CONVERSATION = ("greet", "goodbye", "thanks", "menu", "choose_country", "choose_language", "human", "affirm",
                "deny", "out_of_scope")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    language: str  # from the file name: bot/data/nlu/es.yml holds Spanish examples
    entities: tuple[tuple[str, str], ...] = ()  # (entity, value)


def parse_example(line: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """'pedir refugio en [costa rica](country)' -> ('pedir refugio en costa rica', (('country', 'costa rica'),))."""
    entities = tuple((name, value) for value, name in ENTITY.findall(line))
    return ENTITY.sub(lambda m: m.group(1), line).strip(), entities


def read_nlu(path: Path, *, language: str | None = None) -> list[Example]:
    """The examples of one Rasa NLU YAML file."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=FAST_LOADER) or {}
    language = language or path.stem
    examples = []
    for block in data.get("nlu", []):
        if "intent" not in block:
            continue
        items = block.get("examples", "")
        if isinstance(items, str):  # the block form: "- example" lines
            pairs = [(raw.strip()[2:], language) for raw in items.splitlines() if raw.strip().startswith("- ")]
        else:  # the list form, where each example may carry its language as metadata
            pairs = [(str(item["text"]).strip(), (item.get("metadata") or {}).get("language", language))
                     for item in items]
        for raw, lang in pairs:
            text, entities = parse_example(raw)
            if text:
                examples.append(Example(text, block["intent"], lang, entities))
    return examples


def read_folder(folder: Path) -> list[Example]:
    """Every example of the per-language files in a folder (es.yml, en.yml, ...)."""
    return [e for path in sorted(folder.glob("*.yml")) for e in read_nlu(path)]
