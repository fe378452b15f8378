"""Lines with boxes → what the form readers take: a grid of cells (our template) or blocks of text (the Word form).

Columns come from the table's own headings (活动项目 / 内容要求 / 进展情况 / 填报数 / 单位) where a
page shows them, so that a line is placed in the column it was printed in; rows are lines whose
centres lie at the same height. Pages follow one another in one grid, a few empty rows apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from pipeline.scans.lines import Line
from pipeline.workbook.book import Grid

HEADINGS = ("活动项目", "内容要求", "进展情况", "填报数", "单位")
PROGRESS = "进展情况"  # the column of the Word form's sentences
ROW_TOLERANCE = 0.5  # share of the usual line height within which two centres are one row
PAGE_GAP = 3  # empty rows between two pages in the grid
COLUMN_GAP = 0.025  # share of the page width: a wider gap between left edges starts a new column (no headings)


def _squeezed(text: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text))


@dataclass
class PageLines:
    """The lines of one page and the page's size (pixels or points)."""

    lines: list[Line]
    width: float
    height: float
    number: int = 1


@dataclass
class Table:
    """All pages laid out: a grid of cell texts, the lines behind each cell and the column of each heading."""

    grid: Grid
    cells: dict[tuple[int, int], list[tuple[int, Line]]] = field(default_factory=dict)  # (row, col) -> (page, line)
    heading_columns: dict[str, int] = field(default_factory=dict)
    pages: list[PageLines] = field(default_factory=list)
    rows: list[list[tuple[int, Line]]] = field(default_factory=list)  # every row's lines, grid row = index + 1


def _rows(lines: Sequence[Line]) -> list[list[Line]]:
    """Lines grouped by height, top to bottom, each row left to right.

    A line joins the row above when its centre lies within half a usual line height of the row's
    middle, or when most of it lies within that band (a quote mark set in another font is a shorter box).
    """
    if not lines:
        return []
    heights = sorted(line.height for line in lines)
    usual = heights[len(heights) // 2]
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda ln: ln.centre[1]):
        if rows:
            row = rows[-1]
            middle = sum(ln.centre[1] for ln in row) / len(row)
            top, bottom = middle - usual / 2, middle + usual / 2
            inside = min(bottom, line.box[3]) - max(top, line.box[1])
            if abs(line.centre[1] - middle) <= ROW_TOLERANCE * usual or inside >= 0.6 * max(line.height, 1e-6):
                row.append(line)
                continue
        rows.append([line])
    return [sorted(row, key=lambda ln: ln.box[0]) for row in rows]


SKIPPED = ("活动项目", "内容要求", "单位")  # columns no reader needs: their lines are not read by OCR at all


def heading_row(lines: Sequence[Line]) -> tuple[dict[str, float], float] | None:
    """The table's headings (heading -> centre x) and the bottom of their row, when the lines show them."""
    for row in _rows(lines):
        found = _headings_in(row)
        if found is not None:
            return found, max(line.box[3] for line in row)
    return None


def skipped_spans(headings: dict[str, float]) -> list[tuple[float, float]]:
    """The horizontal spans of the 活动项目, 内容要求 and 单位 columns, which hold nothing to read."""
    ordered = sorted(headings.items(), key=lambda item: item[1])
    edges = [float("-inf"), *((a[1] + b[1]) / 2 for a, b in pairwise(ordered)), float("inf")]
    return [(edges[i], edges[i + 1]) for i, (name, _) in enumerate(ordered) if name in SKIPPED]


def _headings_in(row: list[Line]) -> dict[str, float] | None:
    found: dict[str, float] = {}
    for line in row:
        key = _squeezed(line.text)
        for heading in HEADINGS:
            if key.startswith(heading) and heading not in found and len(key) <= len(heading) + 4:
                found[heading] = line.centre[0]
                break
    return found if len(found) >= 3 else None


def _heading_row(rows: list[list[Line]]) -> dict[str, float] | None:
    """Heading -> centre x, from the first row naming at least three of the table's headings."""
    for row in rows:
        found = _headings_in(row)
        if found is not None:
            return found
    return None


def _edges_from_gaps(lines: Sequence[Line], width: float) -> list[float]:
    """Column edges where no line starts for a while (a page without headings)."""
    lefts = sorted(line.box[0] for line in lines)
    edges: list[float] = []
    for a, b in pairwise(lefts):
        if b - a > COLUMN_GAP * width:
            edges.append((a + b) / 2)
    return edges


def lay_out(pages: Sequence[PageLines]) -> Table:
    """One grid for all pages: each line in the cell of its row and column (lines in one cell joined)."""
    table = Table(Grid("扫描件"), pages=list(pages))
    edges: list[float] | None = None
    headings: dict[str, float] | None = None
    offset = 0
    for page in pages:
        rows = _rows(page.lines)
        found = _heading_row(rows)
        if found is not None:
            headings = found
            centres = sorted(found.values())
            edges = [(a + b) / 2 for a, b in pairwise(centres)]
        page_edges = edges if edges is not None else _edges_from_gaps(page.lines, page.width)
        for index, row in enumerate(rows, start=offset + 1):
            table.rows.append([(page.number, line) for line in row])
            for line in row:
                col = 1 + sum(line.centre[0] > e for e in page_edges)
                table.cells.setdefault((index, col), []).append((page.number, line))
        table.rows.extend([] for _ in range(PAGE_GAP))
        offset += len(rows) + PAGE_GAP
    for (r, c), placed in table.cells.items():
        table.grid.cells[(r, c)] = "".join(line.text for _, line in sorted(placed, key=lambda p: p[1].box[0]))
    if headings is not None:
        ordered = sorted(headings.items(), key=lambda item: item[1])
        table.heading_columns = {name: index for index, (name, _) in enumerate(ordered, start=1)}
    return table


@dataclass(frozen=True)
class TextRun:
    """A block of text for the sentence matcher, with the lines it is made of (page, line, offset in the text)."""

    text: str
    parts: tuple[tuple[int, Line, int], ...]


def progress_blocks(table: Table) -> list[TextRun]:
    """The Word form as blocks: rows above the table (the 填报单位 line), then the 进展情况 column line by line.

    Only the 进展情况 column is taken inside the table, so that a sentence is never joined with the
    活动项目 or 内容要求 text printed beside it.
    """
    column = table.heading_columns.get(PROGRESS)
    if column is None:
        return []
    blocks: list[TextRun] = []
    heading_row = next((r for (r, c), placed in table.cells.items() if c == column
                        and _squeezed(table.grid.cells.get((r, c), "")).startswith(PROGRESS)), None)
    for r, row in enumerate(table.rows, start=1):
        if not row:
            continue
        if heading_row is not None and r < heading_row:
            parts, text = [], ""
            for page, line in row:
                if text:
                    text += "  "
                parts.append((page, line, len(text)))
                text += line.text
            blocks.append(TextRun(text, tuple(parts)))
            continue
        for page, line in table.cells.get((r, column), []):
            blocks.append(TextRun(line.text, ((page, line, 0),)))
    return blocks
