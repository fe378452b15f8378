"""Workbooks in the other spreadsheet formats units save in: .ods, Excel .xlsb and WPS .et.

python-calamine reads all three (hidden sheets such as ``_meta`` included); a WPS .et that holds a
BIFF ``Workbook`` stream is read by xlrd first, as an .xls is, so that its defined names are kept
(calamine does not expose defined names). Each becomes the same bounded
:class:`~pipeline.workbook.book.Book` as an .xlsx, so identification, tamper checks, the hand-made
sheet reader and normalising run unchanged.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pipeline.settings.campaign import Limits
from pipeline.workbook.book import Book, Grid, cell_address, load_xls

# pipeline.safety.sniff kinds read here, and how the 读取方式 column names each format.
ODS, XLSB, ET = "ods", "xlsb", "et"
KINDS = frozenset({ODS, XLSB, ET})
FORMAT_NAMES = {ODS: ".ods", XLSB: ".xlsb", ET: "WPS .et", "xls": ".xls"}
_VISIBILITY = {"visible": "visible", "hidden": "hidden", "veryhidden": "veryHidden"}


def _state(visible: Any) -> str:
    """calamine's SheetVisibleEnum (``SheetVisibleEnum.VeryHidden``) as the Book's sheet state."""
    name = str(getattr(visible, "name", visible)).rsplit(".", 1)[-1].lower()
    return _VISIBILITY.get(name, "hidden")


def _cell(value: Any) -> Any:
    """A calamine value as the Book holds it (None for empty; dates as datetimes, like openpyxl)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, dt.time | dt.timedelta):
        return str(value)  # a duration in a form cell is not a count: normalising reports it as text
    return value


def _grid(sheet: Any, title: str, state: str, limits: Limits) -> Grid:
    grid = Grid(title, state)
    top, left = sheet.start if sheet.start else (0, 0)
    for r, row in enumerate(sheet.iter_rows(), start=top + 1):
        for c, value in enumerate(row, start=left + 1):
            held = _cell(value)
            if held is None:
                continue
            if r > limits.max_rows or c > limits.max_columns:
                grid.outside = grid.outside or cell_address(r, c)
                continue
            grid.cells[(r, c)] = held
        if grid.outside and r > limits.max_rows:
            break
    return grid


def load_calamine(path: Path, limits: Limits, source: str) -> Book:
    """Read an .ods, .xlsb or .et (already size-checked) with python-calamine into a bounded :class:`Book`."""
    from python_calamine import CalamineWorkbook

    # Through a file object: calamine cannot open a path whose name is not valid UTF-8.
    with path.open("rb") as handle:
        workbook = CalamineWorkbook.from_filelike(handle)
    try:
        sheets: list[Grid] = []
        others: list[tuple[str, str]] = []
        for meta in workbook.sheets_metadata:
            state = _state(meta.visible)
            if "worksheet" not in str(getattr(meta.typ, "name", meta.typ)).lower():
                others.append((meta.name, state))  # chart and dialog sheets hold no cells
                continue
            sheets.append(_grid(workbook.get_sheet_by_name(meta.name), meta.name, state, limits))
        return Book(source, sheets, {}, others)
    finally:
        workbook.close()


def load_other(path: Path, kind: str, limits: Limits, streams: frozenset[str] = frozenset()) -> Book:
    """The :class:`Book` of a workbook of one of :data:`KINDS`; raises on a file neither library can read."""
    if kind == ET and ("workbook" in streams or "book" in streams):
        try:
            book = load_xls(path, limits, streams)
        except Exception:  # xlrd refuses some WPS extensions; calamine may still read the cells
            pass
        else:
            book.source = ET
            return book
    book = load_calamine(path, limits, kind)
    book.streams = streams
    return book
