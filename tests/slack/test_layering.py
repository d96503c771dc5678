"""The arrows of the design, checked on the source: handlers → services → store/targets/providers/layouts,
no import cycle anywhere in bot/ and handlers/, and no provider named outside its target."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
HANDLERS_MAY_NOT = ("bot.providers", "bot.layouts", "bot.store", "bot.targets", "sqlalchemy")
SERVICES_MAY_NOT = ("slack_bolt", "slack_sdk", "handlers", "bot.app", "bot.cli")
TARGETS_MAY_NOT = ("bot.services", "bot.store", "handlers", "slack_bolt", "slack_sdk", "sqlalchemy", "bot.app", "bot.cli")
STORE_MAY_NOT = ("bot.services", "bot.targets", "bot.providers", "handlers", "slack_bolt", "slack_sdk", "bot.app", "bot.cli")
PROVIDER_NAMES = ("volcengine", "tencent")


def imported_modules(path: Path) -> list[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def offending(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted({m for m in imported_modules(path) if any(m == f or m.startswith(f + ".") for f in forbidden)})


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")]):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported_module_names(path: Path, known: set[str]) -> set[str]:
    """The project modules a file imports: `from a import b` is the module a.b where that is one, else a."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                found.add(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module)
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the modules of bot/ and handlers/ it imports."""
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for target in imported_module_names(path, set(known)):
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_checker_sees_nested_and_from_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import sqlalchemy.orm\nfrom bot import store\ndef f():\n    from bot.layouts.presets import PRESETS\n")
    found = offending(sample, HANDLERS_MAY_NOT)
    assert found == ["bot.layouts.presets", "bot.layouts.presets.PRESETS", "bot.store", "sqlalchemy.orm"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_anywhere_in_bot_and_handlers() -> None:
    graph = import_graph()
    assert "bot.services.changes" in graph and "handlers.commands" in graph
    assert cycles(graph) == []


@pytest.mark.parametrize("path", sorted((ROOT / "handlers").glob("*.py")), ids=lambda p: p.name)
def test_handlers_reach_the_store_targets_providers_and_layouts_only_through_the_services(path: Path) -> None:
    assert offending(path, HANDLERS_MAY_NOT) == []


@pytest.mark.parametrize("path", sorted((ROOT / "bot" / "services").glob("*.py")), ids=lambda p: p.name)
def test_services_never_import_slack(path: Path) -> None:
    assert offending(path, SERVICES_MAY_NOT) == []


@pytest.mark.parametrize("path", sorted((ROOT / "bot" / "targets").glob("*.py")), ids=lambda p: p.name)
def test_targets_know_providers_and_layouts_but_not_the_store_the_services_or_slack(path: Path) -> None:
    assert offending(path, TARGETS_MAY_NOT) == []


@pytest.mark.parametrize("path", sorted((ROOT / "bot" / "store").glob("*.py")), ids=lambda p: p.name)
def test_the_store_is_the_bottom_layer(path: Path) -> None:
    assert offending(path, STORE_MAY_NOT) == []


def _code_strings(path: Path) -> list[str]:
    """String literals in code, docstrings left out (they may say which provider a rule came from)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


@pytest.mark.parametrize(
    "path", sorted([*(ROOT / "bot" / "services").glob("*.py"), *(ROOT / "handlers").glob("*.py")]), ids=lambda p: p.name
)
def test_no_provider_is_named_in_the_services_or_the_handlers(path: Path) -> None:
    """Provider names reach the grammar and permission scopes from the target registry, not from literals."""
    named = [s for s in _code_strings(path) if any(p in s.lower() for p in PROVIDER_NAMES)]
    assert named == []
