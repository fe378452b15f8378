"""Comparing the fast (calamine) reader with the full (openpyxl) reader, and rewriting sheet XML to test them.

The rollup of one inbox is run once with each reader (``PIPELINE_READER``), by the CLI or in
process, and its CSVs are compared byte for byte; :func:`book_differences` compares the two
readers' :class:`~pipeline.workbook.read.Book` of one file. The XML helpers rewrite a package's parts with
lxml: a cell's XML (error values, booleans, formulas with cached values, rich inline strings)
and the main namespace under an ``x:`` prefix, as Open XML SDK tools write it.

Kept free of pytest fixtures so that hypothesis tests can call it directly.
"""

from __future__ import annotations

import difflib
import io
import os
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

import pipeline.program as program
import pipeline.workbook.fastread as fastread
from pipeline.forms.spec import FormSpec
from pipeline.job import collect
from pipeline.outputs.report import write_tables
from pipeline.safety.guards import check_package
from pipeline.safety.sniff import WORKBOOK, sniff
from pipeline.settings.campaign import Campaign, Limits
from pipeline.settings.roster import Roster
from pipeline.workbook.read import load_xlsx

COMPARED_CSVS = ("records.csv", "issues.csv", "status.csv", "files.csv")  # materials.csv holds first-seen times
READERS = ("fast", "full")
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET_PART = "xl/worksheets/sheet1.xml"  # the form sheet of a template
REPO = Path(__file__).resolve().parents[1]
_M = f"{{{MAIN}}}"


# ----------------------------------------------------------------------------- running both readers


def rollup_cli(settings: tuple[Path, Path], inbox: Path, outbox: Path, reader: str) -> subprocess.CompletedProcess[str]:
    """``python -m pipeline rollup`` in a subprocess, with ``PIPELINE_READER=reader``."""
    campaign, roster = settings
    command = [sys.executable, "-m", "pipeline", "rollup", "--campaign", str(campaign), "--roster", str(roster),
               "--inbox", str(inbox), "--outbox", str(outbox)]
    # The subprocess imports this checkout's pipeline package, as the test itself does (not an installed copy).
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))
    env = {**os.environ, program.READER_ENV: reader, "PYTHONPATH": path}
    return subprocess.run(command, cwd=outbox.parent, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def rollup_both(settings: tuple[Path, Path], inbox: Path, root: Path) -> tuple[dict[str, Path], dict[str, Any]]:
    """The CLI rollup of ``inbox`` once with each reader, into ``root``/outbox-fast and outbox-full."""
    outboxes = {reader: root / f"outbox-{reader}" for reader in READERS}
    runs = {reader: rollup_cli(settings, inbox, outboxes[reader], reader) for reader in READERS}
    return outboxes, runs


def tables_both(inbox: Path, forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster,
                root: Path) -> dict[str, Path]:
    """The rollup's CSVs of ``inbox`` made in this process once with each reader, into ``root``/outbox-<reader>."""
    outboxes = {reader: root / f"outbox-{reader}" for reader in READERS}
    with pytest.MonkeyPatch.context() as patch:
        for reader, outbox in outboxes.items():
            patch.setenv(program.READER_ENV, reader)
            outbox.mkdir(parents=True, exist_ok=True)
            write_tables(outbox, collect(inbox, outbox, forms, campaign, roster, "test"))
    return outboxes


def assert_same_csvs(outboxes: dict[str, Path]) -> None:
    """records/issues/status/files.csv are byte-identical in both outboxes (a line diff when not)."""
    for name in COMPARED_CSVS:
        fast, full = (outboxes[reader] / name for reader in READERS)
        if fast.read_bytes() != full.read_bytes():
            diff = difflib.unified_diff(full.read_text(encoding="utf-8-sig").splitlines(),
                                        fast.read_text(encoding="utf-8-sig").splitlines(),
                                        f"full/{name}", f"fast/{name}", lineterm="", n=0)
            pytest.fail(f"{name} differs between PIPELINE_READER=full and =fast:\n" + "\n".join(list(diff)[:40]))


def plain_value(value: Any) -> tuple[str, Any]:
    """A cell value with whole floats as ints (calamine gives 29.0 where openpyxl gives 29), and its type."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return type(value).__name__, value


def book_differences(path: Path, limits: Limits) -> tuple[bool, list[str]] | None:
    """Whether the fast reader answered for ``path``, and how its Book differs from the full reader's.

    None when the full reader does not get that far (not a workbook, stopped by a guard, broken).
    """
    if sniff(path).kind != WORKBOOK:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # as read_return does: openpyxl's notes on dropped features
        try:
            package = check_package(path, limits)
            full = load_xlsx(path, limits)
        except Exception:  # the guards or openpyxl refuse it: the fast reader is never asked
            return None
        fast = fastread.load_xlsx_fast(path, package, limits)
    if fast is None:
        return False, []
    diffs: list[str] = []
    shape = [(g.title, g.state, g.protected) for g in full.sheets]
    if [(g.title, g.state, g.protected) for g in fast.sheets] != shape:
        diffs.append(f"sheets: full {shape}, fast {[(g.title, g.state, g.protected) for g in fast.sheets]}")
    for a, b in zip(full.sheets, fast.sheets, strict=False):
        cells_a = {pos: plain_value(v) for pos, v in a.cells.items()}
        cells_b = {pos: plain_value(v) for pos, v in b.cells.items()}
        diffs += [f"{a.title}!R{r}C{c}: full {cells_a.get((r, c))!r}, fast {cells_b.get((r, c))!r}"
                  for r, c in sorted(cells_a.keys() | cells_b.keys()) if cells_a.get((r, c)) != cells_b.get((r, c))]
        if (a.formulas, a.outside) != (b.formulas, b.outside):
            diffs.append(f"{a.title}: formulas/outside full {(a.formulas, a.outside)}, fast {(b.formulas, b.outside)}")
    if full.names != fast.names:
        diffs.append(f"names: full {full.names}, fast {fast.names}")
    if (full.source, full.other_sheets) != (fast.source, fast.other_sheets):
        diffs.append(f"source/other sheets: full {(full.source, full.other_sheets)}, fast {(fast.source, fast.other_sheets)}")
    return True, diffs


# ----------------------------------------------------------------------------- rewriting parts with lxml


def _rewrite_parts(path: Path, change: Mapping[str, Any]) -> Path:
    """Rewrite the parts named in ``change`` (name -> function of the parsed root, returning the new root)."""
    with zipfile.ZipFile(path) as zf:
        parts = [(info, zf.read(info)) for info in zf.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in parts:
            if info.filename in change:
                root = change[info.filename](etree.fromstring(data))
                data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
            out.writestr(info.filename, data)
    path.write_bytes(buffer.getvalue())
    return path


def set_cells(path: Path, cells: Mapping[str, tuple[str | None, Sequence[Any]]]) -> Path:
    """Replace the content of cells of the form sheet: address -> (type attribute, children).

    Each child is ``(tag, text)`` for ``f``/``v``, or ``("is", runs)`` with runs of ``(text, bold)``
    for an inline string with rich text. The cell keeps its position and style.
    """

    def change(root: Any) -> Any:
        for address, (kind, children) in cells.items():
            found = root.xpath("//m:c[@r=$r]", namespaces={"m": MAIN}, r=address)
            assert len(found) == 1, address
            cell = found[0]
            for child in list(cell):
                cell.remove(child)
            cell.attrib.pop("t", None)
            if kind is not None:
                cell.set("t", kind)
            for tag, content in children:
                node = etree.SubElement(cell, _M + tag)
                if tag != "is":
                    node.text = content
                    continue
                for text, bold in content:
                    run = etree.SubElement(node, _M + "r")
                    if bold:
                        etree.SubElement(etree.SubElement(run, _M + "rPr"), _M + "b")
                    etree.SubElement(run, _M + "t").text = text
        return root

    return _rewrite_parts(path, {SHEET_PART: change})


def _reprefixed(node: Any, parent: Any | None, nsmap: Mapping[str | None, str]) -> Any:
    """A copy of ``node`` whose main-namespace elements are written as ``x:`` (lxml picks the in-scope prefix)."""
    copy = etree.Element(node.tag, dict(node.attrib), nsmap=nsmap) if parent is None \
        else etree.SubElement(parent, node.tag, dict(node.attrib))
    copy.text, copy.tail = node.text, node.tail
    for child in node:
        if isinstance(child.tag, str):
            _reprefixed(child, copy, nsmap)
    return copy


def prefix_main_namespace(path: Path) -> Path:
    """Every part whose root is in the SpreadsheetML main namespace rewritten with the ``x:`` prefix.

    The other namespaces keep their prefixes (``mc:Ignorable`` names them), declared on the root.
    """
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if n.endswith(".xml") and etree.fromstring(zf.read(n)).tag.startswith(_M)]

    def change(root: Any) -> Any:
        declared = {p: u for el in root.iter() if isinstance(el.tag, str) for p, u in el.nsmap.items()}
        nsmap = {("x" if uri == MAIN else prefix): uri for prefix, uri in declared.items()}
        return _reprefixed(root, None, nsmap)

    return _rewrite_parts(path, dict.fromkeys(names, change))
