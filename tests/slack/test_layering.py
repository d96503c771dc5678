"""The arrows of the design, checked on the source: handlers → services → store/providers/layouts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
HANDLERS_MAY_NOT = ("bot.providers", "bot.layouts", "bot.store", "sqlalchemy")
SERVICES_MAY_NOT = ("slack_bolt", "slack_sdk", "handlers")


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


def test_the_checker_sees_nested_and_from_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import sqlalchemy.orm\nfrom bot import store\ndef f():\n    from bot.layouts.presets import PRESETS\n")
    found = offending(sample, HANDLERS_MAY_NOT)
    assert found == ["bot.layouts.presets", "bot.layouts.presets.PRESETS", "bot.store", "sqlalchemy.orm"]


@pytest.mark.parametrize("path", sorted((ROOT / "handlers").glob("*.py")), ids=lambda p: p.name)
def test_handlers_reach_the_store_providers_and_layouts_only_through_the_services(path: Path) -> None:
    assert offending(path, HANDLERS_MAY_NOT) == []


@pytest.mark.parametrize("path", sorted((ROOT / "bot" / "services").glob("*.py")), ids=lambda p: p.name)
def test_services_never_import_slack(path: Path) -> None:
    assert offending(path, SERVICES_MAY_NOT) == []
