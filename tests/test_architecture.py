"""The shape of app/ (ARCHITECTURE.md): lower packages never import higher ones, and files stay readable."""

import ast
from pathlib import Path

from app.config import ROOT

APP = ROOT / "app"
CORE = {"config", "messages", "i18n", "privacy", "crypto", "fields", "logs", "metrics", "text", "__init__"}
# Lowest first: a module may import core, its own package, and the packages before its own.
LAYERS = ["storage", "channels", "knowledge", "understanding", "outbound", "conversation", "api", "console", "cli",
          "main"]


def _modules() -> list[Path]:
    return sorted(p for p in APP.rglob("*.py") if "migrations" not in p.parts)


def _package(path: Path) -> str:
    parts = path.relative_to(APP).with_suffix("").parts
    return parts[0] if len(parts) > 1 else ("core" if parts[0] in CORE else parts[0])


def _rank(package: str) -> int:
    return -1 if package == "core" else LAYERS.index(package)


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names] if node.module == "app" \
                else [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] != "app" or len(parts) < 2 or name == "app":
                continue
            top = parts[1]
            found.add("core" if top in CORE else top)
    return found


def test_every_module_belongs_to_a_known_layer() -> None:
    for path in _modules():
        package = _package(path)
        assert package == "core" or package in LAYERS, f"{path.relative_to(ROOT)}: add {package!r} to ARCHITECTURE.md"


def test_lower_packages_never_import_higher_ones() -> None:
    wrong = []
    for path in _modules():
        own = _package(path)
        for imported in _imported_packages(path):
            if _rank(imported) > _rank(own):
                wrong.append(f"{path.relative_to(ROOT)} ({own}) imports {imported}")
    assert not wrong, "\n".join(wrong)


def test_about_ten_modules_at_the_top_of_app() -> None:
    top = sorted(p.name for p in APP.glob("*.py"))
    assert len(top) <= 11, top


def test_no_module_over_300_lines_and_no_function_over_70() -> None:
    long_modules, long_functions = [], []
    for path in _modules():
        text = path.read_text()
        if text.count("\n") > 300:
            long_modules.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 70:
                    long_functions.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines")
    assert not long_modules and not long_functions, "\n".join(long_modules + long_functions)


def test_tests_mirror_the_packages() -> None:
    packages = {p.name for p in APP.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    mirrored = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= mirrored, f"no tests/ folder for {sorted(packages - mirrored)}"
