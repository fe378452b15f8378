"""Moving files that no longer belong to the current campaign into a sub-folder, never deleting them.

``make templates`` moves templates of units no longer on the roster (or of another campaign) into
``templates/旧模板/``; ``make rollup`` moves a previous campaign's rollup workbook into
``outbox/旧汇总/``. Nothing is overwritten: a name already taken there gets “ (2)”, “ (3)”, ….
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

OLD_TEMPLATES = "旧模板"
OLD_ROLLUPS = "旧汇总"


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 2
    while target.exists():
        target = folder / f"{stem} ({n}){suffix}"
        n += 1
    return target


def move_aside(paths: Iterable[Path], folder: Path) -> list[Path]:
    """Move each file into ``folder`` (created when needed) under a free name; return where each went."""
    moved: list[Path] = []
    for path in sorted(paths):
        folder.mkdir(parents=True, exist_ok=True)
        target = _free_name(folder, path.name)
        path.replace(target)
        moved.append(target)
    return moved


def strays(folder: Path, keep: Iterable[Path], pattern: str = "*.xlsx") -> list[Path]:
    """Files in ``folder`` itself (not below) matching ``pattern`` that are not in ``keep``; office lock and
    hidden files (“~$…”, “.…”) are left alone."""
    if not folder.is_dir():
        return []
    kept = {p.resolve() for p in keep}
    return [p for p in sorted(folder.glob(pattern))
            if p.is_file() and p.resolve() not in kept and not p.name.startswith(("~$", "."))]
