"""Read content/ into validated models; every problem names its file and line."""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from app.knowledge.schema import AnswersFile, Country, EntriesFile, PlacesFile, ServicesFile, TopicsFile


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    what: str
    fix: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "warning: " if self.warning else ""
        return f"{self.file}:{self.line}: {kind}{self.what}: {self.fix}"


class ContentError(Exception):
    """Content that cannot be served; the last good content keeps serving."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# Where each value of a YAML file starts (0-based line), in the file's shape: a scalar's line, or a mapping's or a
# sequence's line with its children by key or index. What line_of needs, in a fraction of the memory of the node
# tree and its marks (kept for every file a reload need not read again).
Lines = int | tuple[int, dict[str, "Lines"] | list["Lines"]]


@dataclass
class Document:
    """One parsed file: its model, where its values are (for line numbers) and its relative path."""

    path: str
    lines: Lines
    model: Any


@dataclass
class RawContent:
    topics: Document | None = None
    places: Document | None = None  # content/places.yaml, the gazetteer (optional)
    countries: dict[str, Document] = field(default_factory=dict)
    answers: dict[str, Document] = field(default_factory=dict)  # "regional" or a country code
    services: dict[str, Document] = field(default_factory=dict)
    entries: dict[str, Document] = field(default_factory=dict)  # "regional" or a country code
    problems: list[Problem] = field(default_factory=list)
    version: str = ""
    broken: set[str] = field(default_factory=set)  # country codes whose country file failed to parse


def lines_of(node: yaml.Node) -> Lines:
    """The lines of a node tree's values, in its shape (the first of two equal keys, as line_of always took)."""
    line = node.start_mark.line
    if isinstance(node, yaml.MappingNode):
        keys: dict[str, Lines] = {}
        for key, value in node.value:
            keys.setdefault(str(key.value), lines_of(value))
        return line, keys
    if isinstance(node, yaml.SequenceNode):
        return line, [lines_of(value) for value in node.value]
    return line


def line_of(lines: Lines, loc: tuple[int | str, ...]) -> int:
    """The 1-based line of the value at a pydantic error location: the nearest enclosing value that exists."""
    for key in loc:
        if isinstance(lines, int):
            break
        children = lines[1]
        if isinstance(children, dict) and isinstance(key, str) and key in children:
            lines = children[key]
        elif isinstance(children, list) and isinstance(key, int) and key < len(children):
            lines = children[key]
        else:
            break
    return (lines if isinstance(lines, int) else lines[0]) + 1


def _fix_for(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "remove this key or check its spelling (see content/README.md)"
    if kind == "missing":
        return "add this required key"
    if kind.startswith("url"):
        return "write a full https:// address"
    if kind == "literal_error":
        return "use one of the allowed values"
    return "correct the value"


def relative(path: Path, root: Path) -> str:
    """How problems name a file: from the content folder's own name, e.g. content/countries/MX.yaml."""
    return str(path.relative_to(root.parent)) if root.parent in path.parents else str(path)


# libyaml (PyYAML's C loader) reads content/ some 50 times faster than the pure-Python loader, with the same node
# marks (lines) and data. Its error texts are worded differently, so a text it refuses is read again by the
# pure-Python loader, whose error names the problem and line as `content check` always has.
FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (its marks give the lines) and the data of one YAML text; raises yaml.YAMLError."""
    try:
        return _compose_and_construct(text, FAST_LOADER)
    except yaml.YAMLError:
        return _compose_and_construct(text, yaml.SafeLoader)


def _compose_and_construct(text: str, loader_class: Any) -> tuple[yaml.Node | None, Any]:
    """Parse once: the node tree, and the data constructed from it (not a second parse of the text)."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


# Files already parsed and validated, by their name, bytes and model: a reload reads again only what changed.
_PARSED: dict[tuple[str, bytes, str], Document] = {}
PARSED_KEPT = 256


def _parse(path: Path, root: Path, model: type[BaseModel], raw: RawContent) -> Document | None:
    rel = relative(path, root)
    try:
        data_bytes = path.read_bytes()
        key = (rel, hashlib.sha256(data_bytes).digest(), model.__name__)
        if key in _PARSED:
            return _PARSED[key]
        text = data_bytes.decode("utf-8")
        node, data = read_yaml(text)
    except (OSError, UnicodeDecodeError) as exc:
        raw.problems.append(Problem(rel, 1, f"cannot read the file ({exc})", "save it as UTF-8 text"))
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raw.problems.append(Problem(rel, line, f"not valid YAML ({getattr(exc, 'problem', exc)})",
                                    "check indentation, colons and quotes"))
        return None
    if node is None:
        raw.problems.append(Problem(rel, 1, "the file is empty", "fill it in or delete it"))
        return None
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        lines = lines_of(node)
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            raw.problems.append(Problem(rel, line_of(lines, error["loc"]), f"{where}: {error['msg']}", _fix_for(error)))
        return None
    if len(_PARSED) >= PARSED_KEPT:
        _PARSED.pop(next(iter(_PARSED)))
    document = _PARSED[key] = Document(rel, lines_of(node), parsed)
    return document


def load_content(root: Path) -> RawContent:
    """Parse every file under content/; problems are collected, not raised."""
    raw = RawContent()
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.yaml")):
        if path.is_dir():  # e.g. countries/xx.yaml/ made by mistake: refused like an invalid file
            raw.problems.append(Problem(relative(path, root), 1, "a folder named like a YAML file",
                                        "remove the folder or rename it without .yaml"))
            continue
        digest.update(str(path.relative_to(root)).encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            pass  # reported by _parse below when the file is one the knowledge base reads
    raw.version = digest.hexdigest()[:12]
    topics = root / "topics.yaml"
    if topics.is_file():
        raw.topics = _parse(topics, root, TopicsFile, raw)
    elif not topics.exists():
        raw.problems.append(Problem("content/topics.yaml", 1, "missing file", "create it (see content/README.md)"))
    if (root / "places.yaml").is_file():
        raw.places = _parse(root / "places.yaml", root, PlacesFile, raw)
    for path in sorted((root / "countries").glob("*.yaml")):
        doc = _parse(path, root, Country, raw) if path.is_file() else None
        if doc:
            raw.countries[path.stem] = doc
        else:
            raw.broken.add(path.stem)
    for folder, model, table in (("answers", AnswersFile, raw.answers), ("services", ServicesFile, raw.services),
                                 ("entries", EntriesFile, raw.entries)):
        for path in sorted(p for p in (root / folder).glob("*.yaml") if p.is_file()):
            doc = _parse(path, root, model, raw)
            if doc:
                table[path.stem] = doc
    return raw
