"""Place every label and input of a form on the sheet grid, derived from the spec alone.

The positions depend only on the spec, never on the unit, so a per-unit template and
the generic one put each field in the same cell. The generator, the ``fields`` command,
the fast reader, the tamper checks and the feedback workbooks all read this one layout.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache

from xlsxwriter.utility import xl_rowcol_to_cell

from pipeline.forms.spec import Field, FormSpec

CHINESE_NUMBERS = "一二三四五六七八九十"
_STATS_WIDTHS = (12.0, 34.0, 30.0, 11.0, 6.0)
_TABLE_WIDTHS = (6.0, 30.0, 10.0, 14.0, 16.0, 15.0, 24.0, 16.0)


@dataclass(frozen=True)
class Cell:
    """One placed cell: a fixed text (``field`` is None) or an input for ``field``."""

    row: int
    col: int
    style: str
    text: str = ""
    field: Field | None = None
    last_row: int | None = None
    last_col: int | None = None

    @property
    def address(self) -> str:
        """A1-style address of the top-left cell, e.g. ``D7``."""
        return str(xl_rowcol_to_cell(self.row, self.col))

    @property
    def merged(self) -> bool:
        """Whether the cell spans a range."""
        return (self.last_row or self.row) != self.row or (self.last_col or self.col) != self.col


@dataclass(frozen=True)
class FormLayout:
    """The full grid of one form."""

    spec: FormSpec
    cells: tuple[Cell, ...]
    widths: tuple[float, ...]
    heights: dict[int, float] = field(default_factory=dict)
    repeat_rows: tuple[int, int] = (0, 0)
    landscape: bool = False
    fit_pages_tall: int = 1
    last_row: int = 0
    page_breaks: tuple[int, ...] = ()  # rows that start a new printed page
    print_scale: int = 0  # percent; 0 means fit to the page count instead

    # Layouts are built once per form and read for every returned file: derived views are cached.
    @cached_property
    def inputs(self) -> tuple[Cell, ...]:
        """Input cells in tab order (row by row, left to right)."""
        return tuple(sorted((c for c in self.cells if c.field), key=lambda c: (c.row, c.col)))

    @cached_property
    def labels(self) -> tuple[Cell, ...]:
        """Fixed text cells, used to fingerprint the form and find fields by label."""
        return tuple(c for c in self.cells if c.field is None and c.text)

    @cached_property
    def _by_field(self) -> dict[str, Cell]:
        return {c.field.id: c for c in self.inputs if c.field is not None}

    def input_for(self, field_id: str) -> Cell:
        """The input cell of one field."""
        return self._by_field[field_id]

    def address(self, field_id: str) -> str:
        """A1 address of a field's input cell."""
        return self.input_for(field_id).address


@lru_cache(maxsize=1 << 14)
def display_width(text: str) -> int:
    """Width in Excel character units: CJK and full-width characters count twice."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def text_lines(text: str, width_chars: float, font_scale: float = 1.0) -> int:
    """How many lines ``text`` wraps to in a column ``width_chars`` wide."""
    usable = max(width_chars / font_scale - 1, 1)
    return max(1, math.ceil(display_width(text) / usable))


def section_heading(index: int, title: str) -> str:
    """The section row text, numbered like the official document: 一、二、…"""
    number = CHINESE_NUMBERS[index] if index < len(CHINESE_NUMBERS) else str(index + 1)
    return f"{number}、{title}"


def _title_cells(spec: FormSpec, year: int, last_col: int) -> list[Cell]:
    return [
        Cell(0, 0, "annex", spec.annex),
        Cell(1, 0, "title", spec.title_for(year), last_row=1, last_col=last_col),
    ]


def _stats_layout(spec: FormSpec, year: int) -> FormLayout:
    """附件1: 活动项目 | 内容要求 | 填报项 | 填报数 | 单位, one row per blank."""
    widths = _STATS_WIDTHS
    cells = _title_cells(spec, year, 4)
    heights: dict[int, float] = {1: 34.0}
    # The header line of the official form: 填报单位 / 联系人 / 电话 / 填报日期.
    header_slots = [(2, 0), (2, 2), (3, 0), (3, 2)]
    for (row, col), f in zip(header_slots, spec.header, strict=False):
        cells.append(Cell(row, col, "head_label", f"{f.label}："))
        last_col = col + 1 if col + 1 < 3 else 4
        cells.append(Cell(row, col + 1, f"input_{f.kind}", field=f, last_col=last_col))
        heights[row] = 22.0
    cells += [
        Cell(4, 0, "col_header", "活动项目"),
        Cell(4, 1, "col_header", "内容要求"),
        Cell(4, 2, "col_header", "进展情况（填报项）"),
        Cell(4, 3, "col_header", "填报数"),
        Cell(4, 4, "col_header", "单位"),
    ]
    row = 5
    for index, section in enumerate(spec.sections):
        cells.append(Cell(row, 0, "section", section_heading(index, section.title), last_col=4))
        heights[row] = 20.0
        row += 1
        first = row
        for f in section.fields:
            cells.append(Cell(row, 2, "label", f.label))
            if f.kind == "count":
                cells.append(Cell(row, 3, "input_count", field=f))
                cells.append(Cell(row, 4, "unit", f.unit))
                lines = text_lines(f.label, widths[2], 0.8)
                heights[row] = max(16.0, 13.0 * lines + 3)
            else:
                # Free text gets the full width of 进展情况 on its own row below its label.
                cells.append(Cell(row, 3, "unit", "（请在下一行填写）", last_col=4))
                heights[row] = 18.0
                row += 1
                cells.append(Cell(row, 2, f"input_{f.kind}", field=f, last_col=4))
                heights[row] = 96.0
            row += 1
        last = row - 1
        cells.append(Cell(first, 0, "item_title", section.title, last_row=last))
        cells.append(Cell(first, 1, "requirement", section.requirement, last_row=last))
        # Grow the rows evenly when the merged 内容要求 text needs more height than they give.
        needed = 11.5 * text_lines(section.requirement, widths[1], 0.85) + 6
        have = sum(heights[r] for r in range(first, last + 1))
        if needed > have:
            extra = (needed - have) / (last - first + 1)
            for r in range(first, last + 1):
                heights[r] += extra
    notes = (
        "填表说明：1. 只在浅黄色格内填写，其余内容已锁定；按 Tab 键可依次跳到下一个填写格。"
        "2. 数量一律填阿拉伯数字整数，没有开展的填 0，不要填“无”或加单位。"
        "3. 填报日期按 2023-06-28 的格式填写。4. 请勿增删行列、改动表名或另存为其他格式，填好后直接将本文件发回。"
    ).replace("2023-06-28", f"{year}-06-28")
    cells.append(Cell(row + 1, 0, "note", notes, last_row=row + 1, last_col=4))
    heights[row + 1] = 58.0
    starts = [c.row for c in cells if c.style == "section"]
    page_break, scale = _two_page_break(heights, starts, row + 1, header_row=4)
    return FormLayout(spec, tuple(cells), widths, heights, (4, 4), False, 2, row + 1, (page_break,), scale)


A4_PRINTABLE_PT = 720.0  # A4 height less the margins, header and footer set in generate._print_setup


def _two_page_break(heights: dict[int, float], starts: list[int], last_row: int,
                    header_row: int) -> tuple[int, int]:
    """The section start that best splits the form over two pages, and the print scale that makes it fit.

    Breaking between 活动项目 keeps each section's merged 活动项目/内容要求 cells whole on one page.
    """
    def height(first: int, last: int) -> float:
        return sum(heights.get(r, 15.0) for r in range(first, last + 1))

    repeat = heights.get(header_row, 15.0)
    best = min(starts[1:], key=lambda b: max(height(0, b - 1), height(b, last_row) + repeat))
    tallest = max(height(0, best - 1), height(best, last_row) + repeat)
    return best, min(100, int(100 * A4_PRINTABLE_PT / tallest))


def _table_layout(spec: FormSpec, year: int) -> FormLayout:
    """附件2: 序号 | 单位名称 | the liaison fields, one row."""
    widths = _TABLE_WIDTHS
    last_col = len(widths) - 1
    cells = _title_cells(spec, year, last_col)
    fields = list(spec.header) + list(spec.body_fields)
    cells.append(Cell(2, 0, "col_header", "序号"))
    cells.append(Cell(3, 0, "unit", "1"))
    for col, f in enumerate(fields, start=1):
        cells.append(Cell(2, col, "col_header", f.label))
        cells.append(Cell(3, col, f"input_{f.kind}", field=f))
    notes = (
        "填表说明：1. 只在浅黄色格内填写；每个单位报送一名联络员。2. 手机填11位号码，办公电话带区号，如 0311-6627527。"
        "3. 请勿增删行列或另存为其他格式，填好后直接将本文件发回。"
    )
    cells.append(Cell(5, 0, "note", notes, last_row=5, last_col=last_col))
    heights = {1: 34.0, 2: 24.0, 3: 36.0, 5: 40.0}
    return FormLayout(spec, tuple(cells), widths, heights, (2, 2), True, 1, 5)


def _shift(layout: FormLayout, offset: int) -> FormLayout:
    def move(c: Cell) -> Cell:
        last_row = None if c.last_row is None else c.last_row + offset
        return Cell(c.row + offset, c.col, c.style, c.text, c.field, last_row, c.last_col)

    return FormLayout(
        layout.spec,
        tuple(move(c) for c in layout.cells),
        layout.widths,
        {r + offset: h for r, h in layout.heights.items()},
        (layout.repeat_rows[0] + offset, layout.repeat_rows[1] + offset),
        layout.landscape,
        layout.fit_pages_tall,
        layout.last_row + offset,
        tuple(r + offset for r in layout.page_breaks),
        layout.print_scale,
    )


@cache
def build_layout(spec: FormSpec, year: int, offset: int = 0) -> FormLayout:
    """The layout of a form for a campaign year, moved down ``offset`` rows (feedback workbooks of earlier
    versions carried their notice in rows above the form: ``_meta`` layout_offset says how many)."""
    layout = _stats_layout(spec, year) if spec.has_sentences else _table_layout(spec, year)
    return _shift(layout, offset) if offset else layout
