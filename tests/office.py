"""Test helpers: run LibreOffice headless, read its PDFs with poppler, and inspect xlsx files.

Kept free of pytest so that it can be imported by any test module (and by the small
test sessions that ``test_libreoffice.py`` starts to check the ``soffice`` fixture).
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree

import openpyxl
from openpyxl.utils.cell import get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from pipeline.forms.spec import FormSpec
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Unit

SOFFICE_TIMEOUT = 240  # seconds for one soffice call (a cold start of a new profile is the slow part)
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_WHITESPACE = re.compile(r"\s+")


# ----------------------------------------------------------------------------- LibreOffice


def convert(soffice: str, files: Sequence[Path], out_dir: Path, target: str, profile: Path) -> list[Path]:
    """Convert ``files`` to ``target`` (e.g. ``pdf``, ``xlsx``) with ONE headless soffice call.

    ``profile`` is a private user-installation folder, so that concurrent test runs never
    share (and lock) a LibreOffice profile. Returns the output paths in input order and
    raises AssertionError with soffice's output when any of them was not written
    (soffice exits 0 even when it cannot load a file).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    extension = target.split(":", 1)[0]
    outputs = [out_dir / f"{Path(f).stem}.{extension}" for f in files]
    if len({o.name for o in outputs}) != len(outputs):
        raise ValueError("two inputs would convert to the same output name")
    for output in outputs:
        output.unlink(missing_ok=True)
    command = [
        soffice,
        f"-env:UserInstallation={profile.resolve().as_uri()}",
        "--headless",
        "--norestore",
        "--nologo",
        "--convert-to",
        target,
        "--outdir",
        str(out_dir),
        *(str(f) for f in files),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=SOFFICE_TIMEOUT, check=False)
    missing = [o.name for o in outputs if not o.is_file()]
    if proc.returncode != 0 or missing:
        raise AssertionError(
            f"soffice --convert-to {target} failed (exit {proc.returncode}); not written: {missing}\n"
            f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
        )
    return outputs


def _run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout


def pdf_page_sizes(pdf: Path) -> list[tuple[float, float]]:
    """Width and height in points of every page, from ``pdfinfo``."""
    match = re.search(r"^Pages:\s+(\d+)$", _run("pdfinfo", str(pdf)), re.MULTILINE)
    assert match, f"pdfinfo found no page count in {pdf}"
    pages = int(match.group(1))
    sized = _run("pdfinfo", "-f", "1", "-l", str(pages), str(pdf))
    sizes = [
        (float(w), float(h))
        for w, h in re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", sized, re.MULTILINE)
    ]
    assert len(sizes) == pages, sized
    return sizes


def pdf_text(pdf: Path) -> str:
    """The text of a PDF (``pdftotext``) with all whitespace removed, since wrapping splits lines."""
    return squeeze(_run("pdftotext", "-enc", "UTF-8", str(pdf), "-"))


def squeeze(text: str) -> str:
    """``text`` without any whitespace."""
    return _WHITESPACE.sub("", text)


# ----------------------------------------------------------------------------- xlsx contents


def defined_cells(wb: Workbook) -> dict[str, tuple[str, str]]:
    """Workbook-level defined names (Excel's own ``_xlnm.*`` left out) -> (sheet, ``D7``)."""
    cells: dict[str, tuple[str, str]] = {}
    for name, defined in wb.defined_names.items():
        if name.startswith("_xlnm."):
            continue
        destinations = list(defined.destinations)
        assert len(destinations) == 1, f"{name} refers to {destinations}"
        sheet, ref = destinations[0]
        coordinate = ref.replace("$", "")
        assert ":" not in coordinate, f"{name} refers to a range {ref}"
        cells[name] = (sheet, coordinate)
    return cells


def unlocked_cells(ws: Worksheet) -> set[str]:
    """Cells a user can type into once the sheet is protected.

    A merged area counts once, by its top-left cell (the only one Excel edits). An unlocked
    cell inside a merged area whose top-left cell is locked is reported by its own address,
    so that such an inconsistency shows up in a set comparison.
    """
    anchor: dict[tuple[int, int], tuple[int, int]] = {}
    for merged in ws.merged_cells.ranges:
        for row in range(merged.min_row, merged.max_row + 1):
            for col in range(merged.min_col, merged.max_col + 1):
                anchor[(row, col)] = (merged.min_row, merged.min_col)
    raw = {(c.row, c.column) for line in ws.iter_rows() for c in line if not c.protection.locked}
    found = {anchor.get(rc, rc) if anchor.get(rc, rc) in raw else rc for rc in raw}
    return {f"{get_column_letter(col)}{row}" for row, col in found}


def unlocked_defaults(ws: Worksheet) -> list[str]:
    """Whole columns or rows whose default format is unlocked (every empty cell there would be editable)."""
    columns = [f"column {k}" for k, d in ws.column_dimensions.items() if not d.protection.locked]
    rows = [f"row {k}" for k, d in ws.row_dimensions.items() if not d.protection.locked]
    return columns + rows


def named_values(path: Path) -> dict[str, Any]:
    """The value of every defined name's cell, read back with openpyxl."""
    wb = openpyxl.load_workbook(path)
    try:
        return {name: wb[sheet][coord].value for name, (sheet, coord) in defined_cells(wb).items()}
    finally:
        wb.close()


def fill(src: Path, dst: Path, values: Mapping[str, Any]) -> None:
    """Type ``values`` into a copy of ``src``, locating each cell by its defined name."""
    wb = openpyxl.load_workbook(src)
    cells = defined_cells(wb)
    for name, value in values.items():
        sheet, coord = cells[name]
        wb[sheet][coord].value = value
    wb.save(dst)
    wb.close()


def validations_by_cell(ws: Worksheet) -> dict[str, list[Any]]:
    """Each cell covered by a data validation -> the validations covering it."""
    found: dict[str, list[Any]] = {}
    for dv in ws.data_validations.dataValidation:
        for cell_range in dv.sqref.ranges:
            for row in range(cell_range.min_row, cell_range.max_row + 1):
                for col in range(cell_range.min_col, cell_range.max_col + 1):
                    found.setdefault(f"{get_column_letter(col)}{row}", []).append(dv)
    return found


def _package_parts(path: Path) -> tuple[zipfile.ZipFile, ElementTree.Element, dict[str, str]]:
    archive = zipfile.ZipFile(path)
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {}
    for rel in rels.iter(f"{_PKG_REL}Relationship"):
        target = rel.get("Target", "")
        part = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
        targets[rel.get("Id", "")] = part
    return archive, workbook, targets


def sheet_states(path: Path) -> dict[str, str]:
    """Sheet name -> ``state`` attribute in ``xl/workbook.xml`` (``visible`` when absent)."""
    with zipfile.ZipFile(path) as archive:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    return {s.get("name", ""): s.get("state", "visible") for s in workbook.iter(f"{_MAIN}sheet")}


def sheet_protection(path: Path) -> dict[str, dict[str, str] | None]:
    """Sheet name -> attributes of its ``<sheetProtection>`` element (None when the sheet has none)."""
    archive, workbook, targets = _package_parts(path)
    with archive:
        found: dict[str, dict[str, str] | None] = {}
        for sheet in workbook.iter(f"{_MAIN}sheet"):
            part = ElementTree.fromstring(archive.read(targets[sheet.get(f"{_REL}id", "")]))
            element = part.find(f"{_MAIN}sheetProtection")
            found[sheet.get("name", "")] = None if element is None else dict(element.attrib)
    return found


def is_true(flag: str | None) -> bool:
    """An OOXML boolean attribute (``1``/``true``) is set."""
    return flag in ("1", "true")


def meta_rows(path: Path) -> dict[str, str]:
    """The key/value rows of the ``_meta`` sheet."""
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return {str(k): "" if v is None else str(v) for k, v in wb["_meta"].iter_rows(values_only=True)}
    finally:
        wb.close()


# ----------------------------------------------------------------------------- sample answers


def sample_values(spec: FormSpec, campaign: Campaign, unit: Unit | None) -> dict[str, Any]:
    """Plausible answers for every field a unit types in (the unit name too when ``unit`` is None).

    Counts are distinct six-digit numbers so that each can be found in a PDF's text; the phone
    keeps its leading zero and the mobile is a string of digits, as a user types them.
    """
    texts = {"s4_case_details": "某客运企业驾驶员疲劳驾驶被曝光，已约谈整改。",
             "title": "安全股股长", "note": "兼任值班联络人"}
    by_kind: dict[str, Any] = {
        "unit": "清河县某某运输有限公司",
        "person": "欧阳明远",
        "phone": "0311-6627527",
        "mobile": "13812345678",
        "email": campaign.contact_email,
        "date": dt.date(campaign.year, 6, 28),
    }
    values: dict[str, Any] = {}
    counts = 0
    for f in spec.fields:
        if f.kind == "unit" and unit is not None:
            continue  # prefilled and locked in a unit's own template
        if f.kind == "count":
            values[f.id] = 900_000 + counts
            counts += 1
        elif f.kind == "text":
            values[f.id] = texts.get(f.id, f"{f.label}说明")
        else:
            values[f.id] = by_kind[f.kind]
    return values
