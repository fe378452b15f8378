"""A workbook reduced to what the readers need: bounded grids of cell values, defined names and parts.

Only a bounded grid of each sheet (``max_rows`` x ``max_columns`` of campaign.toml) is held:
cells are streamed from the sheet XML, so a huge declared dimension, cells far outside the
grid or a huge merged range never make the reader allocate for them. An .xlsx is read with
openpyxl's read-only machinery, a legacy .xls with xlrd; both become a :class:`Book`.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openpyxl
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet._reader import WorkSheetParser

from pipeline.forms.layout import Cell
from pipeline.forms.spec import META_SHEET
from pipeline.safety.guards import (
    Package,
)
from pipeline.settings.campaign import Limits

if TYPE_CHECKING:
    pass

MAX_EXCEL_COLUMN = 16384
_STATES = {0: "visible", 1: "hidden", 2: "veryHidden"}


@dataclass
class Grid:
    """The cells of one sheet inside the max_rows x max_columns window, keyed by (row, column)."""

    title: str
    state: str = "visible"
    cells: dict[tuple[int, int], Any] = field(default_factory=dict)
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)  # formula text; ``cells`` holds the cached value
    protected: bool | None = None  # None when the format does not tell (xls)
    outside: str = ""  # the first filled cell found beyond the window, if any
    merged: tuple[tuple[int, int, int, int], ...] = ()  # merged ranges as (first row, first col, last row, last col)

    def value(self, row: int, col: int) -> Any:
        """The value of a cell (the cached value of a formula), None when empty."""
        return self.cells.get((row, col))


@dataclass
class Book:
    """A workbook reduced to what the reader needs, whatever file format it came in."""

    source: str  # "xlsx" or "xls"
    sheets: list[Grid]
    names: dict[str, tuple[str, str]]  # defined name -> (sheet title, A1 address) of a single cell
    other_sheets: list[tuple[str, str]] = field(default_factory=list)  # chart/dialog sheets: (title, state)
    package: Package | None = None
    streams: frozenset[str] = frozenset()

    def sheet(self, title: str) -> Grid | None:
        """The worksheet with this title."""
        return next((g for g in self.sheets if g.title == title), None)

    @property
    def meta(self) -> dict[str, str]:
        """Key/value pairs of the hidden ``_meta`` sheet, or {} when there is none."""
        grid = self.sheet(META_SHEET)
        if grid is None:
            return {}
        meta: dict[str, str] = {}
        for row in range(1, 41):
            key = grid.value(row, 1)
            if key is not None:
                value = grid.value(row, 2)
                meta[str(key)] = "" if value is None else str(value)
        return meta


@functools.lru_cache(maxsize=1 << 14)  # every return names the same few dozen cells
def cell_address(row: int, col: int) -> str:
    letters = get_column_letter(col) if 1 <= col <= MAX_EXCEL_COLUMN else f"第{col}列"
    return f"{letters}{row}"


def parse_ref(ref: str, limits: Limits) -> tuple[int, int] | None:
    """``$D$7`` -> (7, 4); None when it is not one cell inside the grid."""
    return _parse_ref(ref, limits.max_rows, limits.max_columns)


@functools.lru_cache(maxsize=1 << 12)  # keyed by the window's two numbers: hashing all of Limits cost more
def _parse_ref(ref: str, max_rows: int, max_columns: int) -> tuple[int, int] | None:
    try:
        letters, row = coordinate_from_string(ref.replace("$", ""))
        col = column_index_from_string(letters)
    except (ValueError, TypeError):
        return None
    if 1 <= row <= max_rows and 1 <= col <= max_columns:
        return row, col
    return None


class _CellParser(WorkSheetParser):
    """openpyxl's streaming sheet parser, also keeping a formula cell's cached value."""

    def parse_cell(self, element: Any) -> dict[str, Any]:
        cell: dict[str, Any] = super().parse_cell(element)
        if cell["data_type"] == "f":
            row, col = self.row_counter, self.col_counter
            self.data_only = True
            try:
                cell["cached"] = super().parse_cell(element)["value"]
            finally:
                self.data_only = False
                self.row_counter, self.col_counter = row, col
        return cell


def _formula_text(value: Any) -> str:
    text = getattr(value, "text", None)
    return str(text if text is not None else value)


def _xlsx_grid(wb: Any, ws: Any, limits: Limits) -> Grid:
    # openpyxl's read-only workbook keeps the archive, shared strings and date formats on private attributes.
    grid = Grid(ws.title, ws.sheet_state or "visible")
    with wb._archive.open(ws._worksheet_path) as src:
        parser = _CellParser(src, ws._shared_strings, data_only=False, epoch=wb.epoch,
                             date_formats=wb._date_formats, timedelta_formats=wb._timedelta_formats)
        for _, row in parser.parse():
            for cell in row:
                r, c = cell["row"], cell["column"]
                value = cell.get("cached") if cell["data_type"] == "f" else cell["value"]
                if not (1 <= r <= limits.max_rows and 1 <= c <= limits.max_columns):
                    if not grid.outside and (value is not None or cell["data_type"] == "f"):
                        grid.outside = cell_address(r, c)
                    continue
                if cell["data_type"] == "f":
                    grid.formulas[(r, c)] = _formula_text(cell["value"])
                if value is not None:
                    grid.cells[(r, c)] = value
        protection = getattr(parser, "protection", None)
        grid.protected = bool(protection is not None and protection.sheet)
        grid.merged = _merged_ranges(getattr(parser, "merged_cells", None))
    return grid


MAX_MERGED = 5000  # merged ranges kept per sheet (a template has a few dozen)


def _merged_ranges(merged: Any) -> tuple[tuple[int, int, int, int], ...]:
    """The merged ranges openpyxl's parser found, as (first row, first col, last row, last col)."""
    from openpyxl.utils.cell import range_boundaries

    found: list[tuple[int, int, int, int]] = []
    for item in list(getattr(merged, "mergeCell", None) or ())[:MAX_MERGED]:
        try:
            min_col, min_row, max_col, max_row = range_boundaries(str(item.ref))
        except (ValueError, TypeError):
            continue
        if None not in (min_col, min_row, max_col, max_row):
            found.append((int(min_row), int(min_col), int(max_row), int(max_col)))  # type: ignore[arg-type]
    return tuple(found)


def _xlsx_names(wb: Workbook) -> dict[str, tuple[str, str]]:
    """Defined names that point at one cell: workbook scope first, then sheet scope."""
    scopes: list[Any] = [wb.defined_names, *(getattr(ws, "defined_names", {}) for ws in wb.worksheets)]
    targets: dict[str, tuple[str, str]] = {}
    for scope in scopes:
        for name, defn in scope.items():
            try:
                dests = list(defn.destinations)
            except Exception:  # a malformed name is simply not usable
                continue
            if len(dests) == 1:
                sheet, ref = dests[0]
                ref = ref.replace("$", "")
                if ":" not in ref:
                    targets.setdefault(name, (sheet, ref))
    return targets


def load_xlsx(path: Path, limits: Limits) -> Book:
    """Read an .xlsx/.xlsm package (already checked by the guards) into a bounded :class:`Book`."""
    with path.open("rb") as handle:
        wb = openpyxl.load_workbook(handle, read_only=True, data_only=False, keep_links=False, keep_vba=False)
        try:
            sheets = [_xlsx_grid(wb, ws, limits) for ws in wb.worksheets]
            others = [(str(cs.title), str(cs.sheet_state or "visible")) for cs in wb.chartsheets]
            return Book("xlsx", sheets, _xlsx_names(wb), others)
        finally:
            wb.close()


def _xls_value(cell: Any, datemode: int) -> Any:
    import xlrd

    kind, value = cell.ctype, cell.value
    if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK) or value == "":
        return None
    if kind == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate.xldate_as_datetime(value, datemode)
        except (xlrd.xldate.XLDateError, ValueError, OverflowError):
            return value
    if kind == xlrd.XL_CELL_BOOLEAN:
        return bool(value)
    if kind == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(value, "#ERROR!")
    return value


def load_xls(path: Path, limits: Limits, streams: frozenset[str] = frozenset()) -> Book:
    """Read a legacy .xls (BIFF) with xlrd into the same bounded :class:`Book` as an .xlsx."""
    import xlrd

    data = path.read_bytes()  # at most max_file_mb: checked before
    book = xlrd.open_workbook(file_contents=data, on_demand=True, ragged_rows=True, logfile=io.StringIO(),
                              verbosity=0)
    try:
        sheets: list[Grid] = []
        titles = book.sheet_names()
        for index in range(book.nsheets):
            sh = book.sheet_by_index(index)
            grid = Grid(sh.name, _STATES.get(sh.visibility, "hidden"))
            for r in range(sh.nrows):
                width = sh.row_len(r)
                for c in range(width):
                    if r < limits.max_rows and c < limits.max_columns:
                        value = _xls_value(sh.cell(r, c), book.datemode)
                        if value is not None:
                            grid.cells[(r + 1, c + 1)] = value
                    elif not grid.outside and _xls_value(sh.cell(r, c), book.datemode) is not None:
                        grid.outside = cell_address(r + 1, c + 1)
                        break
                if r >= limits.max_rows and grid.outside:
                    break
            sheets.append(grid)
            book.unload_sheet(index)
        names: dict[str, tuple[str, str]] = {}
        for name in book.name_obj_list:
            if name.builtin:
                continue  # Print_Area and the like
            try:
                sheet, row_lo, row_hi, col_lo, col_hi = name.area2d(clipped=False)
            except Exception:  # a name that is not one plain area is not usable
                continue
            if row_hi - row_lo == 1 and col_hi - col_lo == 1 and getattr(sheet, "name", None) in titles:
                names.setdefault(name.name, (sheet.name, cell_address(row_lo + 1, col_lo + 1)))
        return Book("xls", sheets, names, streams=streams)
    finally:
        book.release_resources()


def read_meta(wb: Workbook) -> dict[str, str]:
    """Key/value pairs of the hidden ``_meta`` sheet of an openpyxl workbook, or {} when there is none."""
    if META_SHEET not in wb.sheetnames:
        return {}
    ws = wb[META_SHEET]
    meta: dict[str, str] = {}
    for row in ws.iter_rows(min_row=1, max_row=40, max_col=2, values_only=True):
        if row and row[0] is not None:
            meta[str(row[0])] = "" if len(row) < 2 or row[1] is None else str(row[1])
    return meta


def grid_pos(cell: Cell) -> tuple[int, int]:
    """A layout cell's (row, column), 1-based like the grid (layouts count from 0, as xlsxwriter does)."""
    return cell.row + 1, cell.col + 1
