"""Imports follow the data flow: the checks stage never calls back into intake (issue #20, structure)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pipeline"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_checks_import_nothing_from_intake_or_units() -> None:
    """Identity, 格式不符 and arrival are settled before validation: no module of pipeline/checks imports intake or units."""
    offending = {f"{path.name}: {name}" for path in (PACKAGE / "checks").glob("*.py") for name in _imports(path)
                 if name.startswith(("pipeline.intake", "pipeline.units"))}
    assert offending == set()
