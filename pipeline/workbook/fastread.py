"""The fast reader: python-calamine for the cell values of a plain .xlsx, openpyxl for everything else.

It builds the same :class:`~pipeline.workbook.book.Book` that :func:`pipeline.workbook.book.load_xlsx` builds, so
every later check (identity, layout, tampering, normalising, validation) runs unchanged. It only
answers for packages whose shape it can vouch for; for anything unusual it returns None and the
caller uses the full openpyxl reader. Every part it reads is first parsed and checked by
:mod:`pipeline.workbook.sheetxml` (formulas, error values, the window, protection, namespaces); those
checks never produce a value. Set ``PIPELINE_READER=full`` to force the full reader everywhere.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import posixpath
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml.ElementTree import fromstring
from openpyxl.workbook.defined_name import DefinedName

from pipeline.safety.guards import Package, Source, open_source
from pipeline.settings.campaign import Limits
from pipeline.workbook.book import MAX_MERGED, Book, Grid
from pipeline.workbook.sheetxml import (
    SHARED_STRINGS,
    STYLES,
    SheetFacts,
    plain_shared_strings,
    plain_styles,
    sheet_facts,
)

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_PLAIN_VALUES = (str, int, float, bool, dt.date)  # datetime is a date subclass
_LAST_SERIAL = 2958465  # 9999-12-31, the last date Excel has; numbers outside [0, this) go to the full reader
_FIXED_PARTS = {"sharedstrings.xml": SHARED_STRINGS, "styles.xml": STYLES}  # calamine reads them by these names
_STATE = {"visible": "visible", "hidden": "hidden", "veryHidden": "veryHidden"}


Layout = tuple[tuple[tuple[str, str, str], ...], dict[str, tuple[str, str]]]


@functools.lru_cache(maxsize=16)  # keys are whole parts (up to guards.KEEP_PART_BYTES): keep few
def _sheet_parts(workbook_xml: bytes, rels_xml: bytes) -> Layout | None:
    """(title, state, part) per worksheet in order, and single-cell defined names; None if unusual.

    Memoised on the bytes: returns made from one template mostly share these two parts.
    """
    try:
        book = fromstring(workbook_xml)
        rels = fromstring(rels_xml)
    except ParseError:  # not well-formed: the full reader reports it in its own words
        return None
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_PKG_REL}Relationship")}
    sheets: list[tuple[str, str, str]] = []
    for sheet in book.iter(f"{_MAIN}sheet"):
        target = targets.get(sheet.get(f"{_REL}id"))
        state = _STATE.get(sheet.get("state", "visible"))
        if not target or state is None:
            return None
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        if not part.startswith("xl/worksheets/"):
            return None  # a chart sheet or something else: the full reader knows how to report it
        sheets.append((sheet.get("name", ""), state, part))
    return tuple(sheets), _names(book)


def _names(book: Element) -> dict[str, tuple[str, str]]:
    """Workbook-scoped single-cell names first, then sheet-scoped ones, as openpyxl resolves them."""
    scoped: list[tuple[bool, str, str]] = []
    for node in book.iter(f"{_MAIN}definedName"):
        scoped.append((node.get("localSheetId") is not None, node.get("name", ""), node.text or ""))
    targets: dict[str, tuple[str, str]] = {}
    for _, name, text in sorted(scoped, key=lambda s: s[0]):
        target = _single_cell(name, text)
        if target is not None:
            targets.setdefault(name, target)
    return targets


@functools.lru_cache(maxsize=1 << 12)
def _single_cell(name: str, text: str) -> tuple[str, str] | None:
    """(sheet, A1) when a defined name points at one cell, resolved by openpyxl as the full reader does."""
    try:
        dests = list(DefinedName(name=name, attr_text=text).destinations)
    except Exception:  # a malformed name is simply not usable, as in the full reader
        return None
    if len(dests) != 1:
        return None
    sheet, ref = dests[0]
    ref = ref.replace("$", "")
    return None if ":" in ref else (sheet, ref)


def _grid(title: str, state: str, facts: SheetFacts, rows: list[list[Any]]) -> Grid | None:
    grid = Grid(title, state, protected=facts.protected)
    cells = grid.cells
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            kind = type(value)
            if kind is str:  # the usual cases first, by exact type; anything else is judged by _held
                if value:
                    cells[(r, c)] = value
            elif kind is float or kind is int:
                if not 0 <= value < _LAST_SERIAL:
                    return None  # in a date cell, openpyxl makes it #VALUE! or an old date, calamine leaves the number
                cells[(r, c)] = value
            elif value is not None and value != "":
                held = _held(value)
                if held is None:
                    return None
                cells[(r, c)] = held
    return grid


def _held(value: Any) -> Any:
    """A calamine value other than a plain str, int or float as the Book holds it; None to decline the file."""
    if not isinstance(value, _PLAIN_VALUES) or isinstance(value, dt.time):
        return None  # error values, durations: leave them to the full reader
    if type(value) is dt.date:  # calamine drops a midnight time; openpyxl gives a datetime
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, int | float) and not isinstance(value, bool) and not 0 <= value < _LAST_SERIAL:
        return None  # in a date cell, openpyxl makes it #VALUE! or an old date, calamine leaves the number
    return value


def load_xlsx_fast(path: Path, package: Package, limits: Limits) -> Book | None:
    """A :class:`Book` read with calamine, or None when the package is not plainly a filled template."""
    parts = {n.lower() for n in package.names}
    if any(p.startswith(("xl/chartsheets/", "xl/dialogsheets/", "xl/macrosheets/")) for p in parts):
        return None
    with contextlib.ExitStack() as stack:
        opened: list[zipfile.ZipFile] = []

        def part(name: str) -> bytes:  # the guard's copy when it kept one, else inflated here
            kept = package.parts.get(name)
            if kept is not None:
                return kept
            if not opened:
                handle = stack.enter_context(open_source(path if package.content is None else package.content))
                opened.append(stack.enter_context(zipfile.ZipFile(handle)))
            return opened[0].read(name)

        layout = _sheet_parts(part("xl/workbook.xml"), part("xl/_rels/workbook.xml.rels"))
        if layout is None:
            return None
        sheets, names = layout
        payloads = [part(name) for _, _, name in sheets]
        facts = [f for f in (sheet_facts(data, limits) for data in payloads) if f is not None]
        if len(facts) != len(payloads) or not _plain_parts(package, part):
            return None  # formulas, error values, cells beyond the window, unusual XML: the full reader's detail
    try:
        grids = _calamine_grids(path if package.content is None else package.content, sheets, facts)
    except Exception:  # whatever calamine refuses, the full reader diagnoses with a precise message
        return None
    return None if grids is None else Book("xlsx", grids, dict(names), [])  # a copy: the memoised layout stays intact


def _plain_parts(package: Package, part: Callable[[str], bytes]) -> bool:
    """The shared strings and styles parts are plain, when present, and lie where calamine looks for them."""
    names = set(package.names)
    elsewhere = {n for n in names if posixpath.basename(n).lower() in _FIXED_PARTS} - set(_FIXED_PARTS.values())
    return (not elsewhere and (SHARED_STRINGS not in names or plain_shared_strings(part(SHARED_STRINGS)))
            and (STYLES not in names or plain_styles(part(STYLES))))


def _calamine_grids(source: Source, sheets: tuple[tuple[str, str, str], ...],
                    facts: list[SheetFacts]) -> list[Grid] | None:
    from python_calamine import CalamineWorkbook

    # Through a file object: calamine cannot open a path whose name is not valid UTF-8.
    with open_source(source) as handle:
        workbook = CalamineWorkbook.from_filelike(handle)
    try:
        if [m.name for m in workbook.sheets_metadata] != [title for title, _, _ in sheets]:
            return None
        grids = []
        for (title, state, _), checked in zip(sheets, facts, strict=True):
            sheet = workbook.get_sheet_by_name(title)
            rows = sheet.to_python(skip_empty_area=False)
            grid = _grid(title, state, checked, rows)
            if grid is None:
                return None
            # calamine counts from 0; the grid from 1, as openpyxl does.
            grid.merged = tuple((r1 + 1, c1 + 1, r2 + 1, c2 + 1)
                                for (r1, c1), (r2, c2) in (sheet.merged_cell_ranges or [])[:MAX_MERGED])
            grids.append(grid)
        return grids
    finally:
        workbook.close()
