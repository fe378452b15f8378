"""The hostile-returns corpus of tests/test_hostile.py: every bad file is built by code, no binary blobs.

A :class:`Case` names a file below the inbox, the builder that writes it, the outcome the
rollup must give it and fragments its findings (rule or message) must contain. The
builders start from real templates (pipeline.forms.generate.write_form), filled with openpyxl as
units do, then break them the way returns arrive broken: renamed files, truncated or
encrypted packages, macros, zip bombs, entity expansion, tampered sheets, odd values.

Kept free of pytest fixtures so that it can be imported by any test module.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import os
import random
import re
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl

from pipeline.forms.generate import FormContent, write_form
from pipeline.forms.spec import FormSpec, load_forms
from pipeline.model import Outcome
from pipeline.settings.campaign import Campaign, load_campaign
from pipeline.settings.roster import Roster, Unit, load_roster

REPO = Path(__file__).resolve().parents[1]
PYTHON = REPO / ".venv" / "bin" / "python"
SHEET_PART = "xl/worksheets/sheet1.xml"  # the form sheet of a template
REPORT_DATE = dt.date(2023, 6, 28)
# Small caps for the corpus run, so that a zip bomb needs megabytes, not gigabytes.
TEST_LIMITS = {"max_file_mb": 1, "max_unzipped_mb": 2, "max_zip_entries": 100, "max_compression_ratio": 100,
               "max_rows": 2000, "max_columns": 60, "seconds_per_file": 30}
VALID_UNITS = ("U001", "U002", "U003", "U004", "U005")
TEST_UNITS = 40  # extra roster units T01..T40 for the corpus, so that it never touches the valid units


# ----------------------------------------------------------------------------- settings


def write_settings(folder: Path, limits: Mapping[str, int] | None = None) -> tuple[Path, Path]:
    """A campaign.toml with ``limits`` and a roster of the real units plus T01..T40 in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (REPO / "campaign.toml").read_text(encoding="utf-8")
    head = text.split("[limits]")[0]
    body = "\n".join(f"{k} = {v}" for k, v in {**TEST_LIMITS, **(limits or {})}.items())
    campaign = folder / "campaign.toml"
    campaign.write_text(f"{head}[limits]\n{body}\n", encoding="utf-8")
    roster = folder / "units.csv"
    lines = (REPO / "units.csv").read_text(encoding="utf-8-sig").rstrip("\n").splitlines()
    lines += [f"T{i:02d},清河县测试单位{i:02d}有限公司,运输企业,t{i:02d}@example.com" for i in range(1, TEST_UNITS + 1)]
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return campaign, roster


@dataclass
class Kit:
    """Settings and helpers the builders share."""

    forms: dict[str, FormSpec]
    campaign: Campaign
    roster: Roster

    @classmethod
    def load(cls, campaign: Path, roster: Path) -> Kit:
        """The kit for the settings written by :func:`write_settings`."""
        return cls(load_forms(), load_campaign(campaign), load_roster(roster))

    def unit(self, code: str) -> Unit:
        """A roster unit by code."""
        unit = self.roster.by_code(code)
        assert unit is not None, code
        return unit

    def template(self, path: Path, form_id: str, code: str | None, *, campaign: Campaign | None = None,
                 spec: FormSpec | None = None) -> Path:
        """A fresh template of ``form_id`` for unit ``code`` (None: the generic one) at ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        owner = self.unit(code) if code else None
        return write_form(path, spec or self.forms[form_id], campaign or self.campaign, FormContent(unit=owner))

    def filled(self, path: Path, form_id: str, code: str | None, values: Mapping[str, Any] | None = None,
               **kwargs: Any) -> Path:
        """A template filled with clean answers, overridden by ``values``."""
        self.template(path, form_id, code, **kwargs)
        return fill(path, {**clean_values(form_id), **(values or {})})


def clean_values(form_id: str) -> dict[str, Any]:
    """Error- and warning-free answers (3 of everything; the unit name is prefilled)."""
    if form_id == "annex1":
        spec = load_forms()["annex1"]
        values: dict[str, Any] = {"contact": "李明", "phone": "0311-6627527", "report_date": REPORT_DATE}
        values.update({f.id: 3 for f in spec.fields if f.kind == "count"})
        return values
    return {"name": "王建国", "title": "安全员", "office_phone": "0311-6627001", "mobile": "13812345678",
            "email": "wangjianguo@163.com"}


# ----------------------------------------------------------------------------- editing workbooks


def _load(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return openpyxl.load_workbook(path)


def edit(path: Path, change: Callable[[Any], None]) -> Path:
    """Open a workbook with openpyxl, apply ``change`` and save it in place."""
    wb = _load(path)
    try:
        change(wb)
        wb.save(path)
    finally:
        wb.close()
    return path


def named_cell(wb: Any, name: str) -> Any:
    """The cell a workbook-level defined name points at."""
    (sheet, ref), = wb.defined_names[name].destinations
    return wb[sheet][ref.replace("$", "")]


def fill(path: Path, values: Mapping[str, Any], *, formulas: bool = False) -> Path:
    """Type ``values`` in by defined name; text starting with “=” stays text unless ``formulas``."""

    def change(wb: Any) -> None:
        for name, value in values.items():
            cell = named_cell(wb, name)
            cell.value = value
            if isinstance(value, str) and value.startswith("=") and not formulas:
                cell.data_type = "s"

    return edit(path, change)


def rewrite_zip(path: Path, change: Mapping[str, Callable[[bytes], bytes]] | None = None,
                add: Mapping[str, bytes] | None = None, stored: Iterable[str] = ()) -> Path:
    """Rewrite the package at ``path``: parts transformed by ``change``, parts added from ``add``."""
    change, add, stored = change or {}, add or {}, set(stored)
    with zipfile.ZipFile(path) as zf:
        parts = [(info.filename, zf.read(info)) for info in zf.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts:
            out.writestr(name, change[name](data) if name in change else data)
        for name, data in add.items():
            out.writestr(name, data, zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED)
    path.write_bytes(buffer.getvalue())
    return path


def _sub_once(pattern: str, replacement: str | Callable[[re.Match[str]], str], text: str) -> str:
    new, count = re.subn(pattern, replacement, text, count=1)
    assert count == 1, pattern
    return new


def xml_edit(func: Callable[[str], str]) -> Callable[[bytes], bytes]:
    """A :func:`rewrite_zip` change working on the part's text."""
    return lambda data: func(data.decode("utf-8")).encode("utf-8")


def cache_formula_value(path: Path, address: str, value: str) -> Path:
    """Give the formula in ``address`` of the form sheet a cached value, as Excel does on save."""

    def change(text: str) -> str:
        cell = re.search(rf'<c r="{address}"[^>]*>.*?</c>', text)
        assert cell is not None and "<f>" in cell.group(0), address
        old = cell.group(0)
        new = re.sub(r"<v\s*/>|<v>\s*</v>", "", old).replace("</c>", f"<v>{value}</v></c>")
        return text.replace(old, new)

    return rewrite_zip(path, {SHEET_PART: xml_edit(change)})


def address_of(path: Path, name: str) -> str:
    """The A1 address a defined name points at."""
    wb = _load(path)
    try:
        return str(named_cell(wb, name).coordinate)
    finally:
        wb.close()


# ----------------------------------------------------------------------------- hostile packages


_BILLION_LAUGHS = ('<!DOCTYPE worksheet [<!ENTITY lol "lol">'
                   + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                             for i in range(1, 10))
                   + "]>")


def billion_laughs(path: Path) -> Path:
    """Entity expansion in the form sheet: a DTD whose one reference expands to 10^9 “lol”s."""

    def change(text: str) -> str:
        text = _sub_once(r"^(<\?xml[^>]*\?>)?", lambda m: (m.group(1) or "") + _BILLION_LAUGHS, text)
        return _sub_once(r"</sheetData>", '<row r="200"><c r="A200" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
                         "</sheetData>", text)

    return rewrite_zip(path, {SHEET_PART: xml_edit(change)})


def far_cells(path: Path) -> Path:
    """A sheet declaring A1:XFD1048576, with a cell at XFD1048576 and a merge over the whole grid."""

    def change(text: str) -> str:
        text = _sub_once(r'<dimension ref="[^"]*"\s*/>', '<dimension ref="A1:XFD1048576"/>', text)
        text = _sub_once(r"</sheetData>", '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>far away</t>'
                         "</is></c></row></sheetData>", text)
        return _sub_once(r"</mergeCells>", '<mergeCell ref="A200:XFD1048576"/></mergeCells>', text)

    return rewrite_zip(path, {SHEET_PART: xml_edit(change)})


def padded_sheet(path: Path, megabytes: float) -> Path:
    """A highly compressible form sheet: ``megabytes`` of blanks inside sheetData (a small zip bomb)."""
    pad = " " * int(megabytes * (1 << 20))
    return rewrite_zip(path, {SHEET_PART: xml_edit(lambda t: _sub_once(r"<sheetData>", "<sheetData>" + pad, t))})


def many_parts(path: Path, count: int) -> Path:
    """A package with ``count`` extra tiny parts."""
    return rewrite_zip(path, add={f"customXml/item{i}.xml": b"<a/>" for i in range(count)})


def oversized(path: Path, megabytes: float) -> Path:
    """A package made large by an incompressible (deterministic pseudo-random) stored part."""
    noise = random.Random(7).randbytes(int(megabytes * (1 << 20)))
    return rewrite_zip(path, add={"xl/media/image1.png": noise}, stored=["xl/media/image1.png"])


def with_macro(path: Path) -> Path:
    """Turn a workbook into an .xlsm with a vbaProject part (never executed, and not a real project)."""
    ct = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
    vba_rel = ('<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
               'Target="vbaProject.bin"/>')
    return rewrite_zip(path, {
        "[Content_Types].xml": xml_edit(lambda t: _sub_once(
            r"application/vnd\.openxmlformats-officedocument\.spreadsheetml\.sheet\.main\+xml", ct, t).replace(
            "</Types>", '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>')),
        "xl/_rels/workbook.xml.rels": xml_edit(lambda t: t.replace("</Relationships>", vba_rel + "</Relationships>")),
    }, add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"Attribute VB_Name = \"Module1\"\0" * 20})


def with_external_link(path: Path) -> Path:
    """Add an external link to another workbook (xl/externalLinks), as a formula referencing a file does."""
    link = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<externalBook r:id="rId1"><sheetNames><sheetName val="Sheet1"/></sheetNames></externalBook>'
            "</externalLink>")
    link_rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                 '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                 '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                 'externalLinkPath" Target="file:///C:/secret/other.xlsx" TargetMode="External"/></Relationships>')
    rel = ('<Relationship Id="rIdExt1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
           'externalLink" Target="externalLinks/externalLink1.xml"/>')
    override = ('<Override PartName="/xl/externalLinks/externalLink1.xml" '
                'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"/>')

    def workbook(text: str) -> str:
        # Declares r itself: openpyxl's lxml writer declares it on each <sheet>, not on the root.
        refs = ('<externalReferences><externalReference xmlns:r="http://schemas.openxmlformats.org/officeDocument/'
                '2006/relationships" r:id="rIdExt1"/></externalReferences>')
        if "<definedNames>" in text:
            return _sub_once(r"<definedNames>", refs + "<definedNames>", text)
        return _sub_once(r"</sheets>", "</sheets>" + refs, text)

    return rewrite_zip(path, {
        "[Content_Types].xml": xml_edit(lambda t: t.replace("</Types>", override + "</Types>")),
        "xl/_rels/workbook.xml.rels": xml_edit(lambda t: t.replace("</Relationships>", rel + "</Relationships>")),
        "xl/workbook.xml": xml_edit(workbook),
    }, add={"xl/externalLinks/externalLink1.xml": link.encode(),
            "xl/externalLinks/_rels/externalLink1.xml.rels": link_rels.encode()})


def encrypt(path: Path, password: str = "1234") -> Path:
    """Password-protect (encrypt) a workbook as Excel's “用密码进行加密” does (msoffcrypto-tool)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = io.BytesIO(path.read_bytes())
    out = io.BytesIO()
    OOXMLFile(plain).encrypt(password, out)
    path.write_bytes(out.getvalue())
    return path


# ----------------------------------------------------------------------------- OLE2 files


def ole_file(streams: Mapping[str, bytes]) -> bytes:
    """A minimal OLE2 compound file (CFB v3, 512-byte sectors) holding ``streams`` in its root.

    Each stream is padded to 4096 bytes so that it lives in regular sectors (no mini stream);
    enough for olefile and the sniffer to list it, as Office and WPS files would be listed.
    """
    sector = 512
    names = list(streams)
    assert len(names) <= 3, "one directory sector holds the root and three streams"
    data = [streams[n] + b"\0" * max(0, 4096 - len(streams[n])) for n in names]
    data = [d + b"\0" * (-len(d) % sector) for d in data]
    sizes = [len(d) // sector for d in data]
    total = 2 + sum(sizes)  # FAT sector, directory sector, stream sectors
    fat = [0xFFFFFFFD, 0xFFFFFFFE]  # sector 0: FAT itself, sector 1: directory (end of chain)
    starts = []
    for count in sizes:
        start = len(fat)
        starts.append(start)
        fat += [start + i + 1 for i in range(count - 1)] + [0xFFFFFFFE]
    assert total <= sector // 4
    fat += [0xFFFFFFFF] * (sector // 4 - len(fat))
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16 + struct.pack(
        "<HHHHH6sIIIIIIIII", 0x3E, 3, 0xFFFE, 9, 6, b"\0" * 6, 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    header += struct.pack("<I", 0) + struct.pack("<I", 0xFFFFFFFF) * 108
    assert len(header) == sector

    def entry(name: str, kind: int, left: int, right: int, child: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0"
        return (raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw), kind, 1)
                + struct.pack("<III", left, right, child) + b"\0" * 16 + b"\0" * 4 + b"\0" * 16
                + struct.pack("<IIII", start, size, 0, 0)[:8] + b"\0" * 4)

    none = 0xFFFFFFFF
    # A degenerate (all right-sibling) tree is valid for readers: root -> first stream -> next ...
    entries = [entry("Root Entry", 5, none, none, 1 if names else none, 0xFFFFFFFE, 0)]
    for i, name in enumerate(names):
        right = i + 2 if i + 1 < len(names) else none
        entries.append(entry(name, 2, none, right, none, starts[i], len(data[i])))
    directory = b"".join(e.ljust(128, b"\0")[:128] for e in entries).ljust(sector, b"\0")
    return header + struct.pack(f"<{sector // 4}I", *fat) + directory + b"".join(data)


# ----------------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Case:
    """One corpus file: where it goes, how it is built, and what the rollup must make of it."""

    number: int
    file: str  # path below the inbox
    build: Callable[[Path, Kit], object]
    outcome: str
    fragments: tuple[str, ...] = ()  # each must occur in the file's findings (rule or message)
    form: str = ""  # the form it must be recognised as, when it is one
    note: str = ""  # a fragment of the file's note (duplicate, superseded)


def _counts_bad(path: Path, kit: Kit) -> None:
    kit.filled(path, "annex1", "T07", {"s1_center_study_times": -5, "s1_center_study_people": 0,
                                        "s1_film_sessions": 3.5, "s1_lecture_sessions": 1e12,
                                        "s1_reflection_articles": "abc", "s8_giveaways": 10**30})


def _counts_typed(path: Path, kit: Kit) -> None:
    kit.filled(path, "annex1", "T08", {"s1_center_study_times": "１２", "s1_center_study_people": "12次",
                                        "s1_film_people": "约300", "s1_reflection_articles": "无",
                                        "s1_lecture_people": "十二"})


def _formula(cached: bool) -> Callable[[Path, Kit], None]:
    def build(path: Path, kit: Kit) -> None:
        kit.filled(path, "annex1", "T09" if cached else "T10")
        fill(path, {"s1_reflection_articles": "=10+2"}, formulas=True)
        if cached:
            cache_formula_value(path, address_of(path, "s1_reflection_articles"), "12")

    return build


def _serial_date(path: Path, kit: Kit) -> None:
    kit.filled(path, "annex1", "T12")

    def change(wb: Any) -> None:
        cell = named_cell(wb, "report_date")
        cell.value = 45105  # 2023-06-28 as an Excel serial, in a General-formatted cell
        cell.number_format = "General"

    edit(path, change)


def _row_inserted(path: Path, kit: Kit) -> None:
    """Protection removed and a row inserted above the fields, names following as Excel/WPS do."""
    kit.template(path, "annex1", "T14")

    def change(wb: Any) -> None:
        ws = wb["附件1"]
        ws.protection.sheet = False
        at = 6  # the first section heading: every body field lies below it
        merged = list(ws.merged_cells.ranges)
        for rng in merged:
            ws.merged_cells.remove(rng)
        ws.insert_rows(at)
        for rng in merged:
            if rng.min_row >= at:
                rng.shift(0, 1)
            ws.merged_cells.add(rng)
        for defn in list(wb.defined_names.values()):
            (sheet, ref), = defn.destinations
            col, row = re.match(r"\$?([A-Z]+)\$?(\d+)", ref).groups()  # type: ignore[union-attr]
            if int(row) >= at:
                defn.attr_text = f"'{sheet}'!${col}${int(row) + 1}"
        for field_id, value in clean_values("annex1").items():
            named_cell(wb, field_id).value = value

    edit(path, change)


def _label_edited(path: Path, kit: Kit) -> None:
    kit.filled(path, "annex1", "T15")

    def change(wb: Any) -> None:
        cell = named_cell(wb, "s1_center_study_times")
        wb["附件1"].cell(cell.row, cell.column - 1).value = "学习次数（自己改的）"

    edit(path, change)


def _meta_deleted(path: Path, kit: Kit) -> None:
    kit.filled(path, "annex1", "T16")
    edit(path, lambda wb: wb.remove(wb["_meta"]))


def _other_year(path: Path, kit: Kit) -> None:
    last_year = dataclasses.replace(kit.campaign, id="2022-safety-month", year=2022)
    kit.filled(path, "annex1", "T17", {"report_date": dt.date(2022, 6, 28)}, campaign=last_year)


def _old_version(path: Path, kit: Kit) -> None:
    old = dataclasses.replace(kit.forms["annex1"], version="000000000000")
    kit.filled(path, "annex1", "T18", spec=old)


def _hidden_sheet_and_link(path: Path, kit: Kit) -> None:
    kit.filled(path, "annex1", "T19")

    def change(wb: Any) -> None:
        ws = wb.create_sheet("私下数据")
        ws["A1"] = "真实场次"
        ws["B1"] = 999
        ws.sheet_state = "hidden"

    edit(path, change)
    with_external_link(path)


def _injection(path: Path, kit: Kit) -> None:
    kit.filled(path, "annex1", "T20", {"s4_case_details": INJECTED["case"], "contact": INJECTED["contact"]})


def _injection2(path: Path, kit: Kit) -> None:
    kit.filled(path, "annex2", "T20", {"title": INJECTED["title"], "note": INJECTED["note"], "name": INJECTED["name"]})


INJECTED = {
    "case": '=HYPERLINK("http://evil.example/x","点我查看")',
    "contact": "@李明",
    "title": "https://evil.example/login",
    "note": "=cmd|' /C calc'!A0",
    "name": "+王建国",
}


def _two_versions(day: int) -> Callable[[Path, Kit], None]:
    def build(path: Path, kit: Kit) -> None:
        kit.filled(path, "annex1", "T21", {"report_date": dt.date(2023, 6, day), "s1_film_sessions": day,
                                            "s1_film_people": 10 * day})

    return build


def _duplicate(path: Path, kit: Kit) -> None:
    kit.filled(path, "annex1", "T22")
    stamp = dt.datetime(2023, 6, 28, 9).timestamp()
    os.utime(path, (stamp, stamp))


def _truncated(path: Path, kit: Kit) -> None:
    kit.filled(path, "annex1", "T23")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _encrypted(path: Path, kit: Kit) -> None:
    encrypt(kit.filled(path, "annex1", "T24"))


def _write(data: bytes) -> Callable[[Path, Kit], None]:
    return lambda path, kit: path.write_bytes(data)


def _then(build: Callable[[Path, Kit], object], *after: Callable[[Path], object]) -> Callable[[Path, Kit], None]:
    def run(path: Path, kit: Kit) -> None:
        build(path, kit)
        for step in after:
            step(path)

    return run


def _filled(form_id: str, code: str | None, values: Mapping[str, Any] | None = None) -> Callable[[Path, Kit], Path]:
    return lambda path, kit: kit.filled(path, form_id, code, values)


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


CASES: tuple[Case, ...] = (
    Case(1, "c01/统计表.xlsx", _write("单位,场次,人次\n清河县测试单位,3,30\n".encode()), Outcome.UNSUPPORTED, ("CSV",)),
    Case(2, "c02/附件1.xlsx", _write(b""), Outcome.UNSUPPORTED, ("文件损坏", "空的")),
    Case(3, "c03/附件1_截断.xlsx", _truncated, Outcome.UNSUPPORTED, ("不完整",)),
    Case(4, "c04/附件1_加密.xlsx", _encrypted, Outcome.UNSUPPORTED, ("有打开密码", "取消密码")),
    Case(6, "c06/附件1.xlsm", _then(_filled("annex1", "T02"), with_macro), Outcome.ACCEPTED, ("含有宏", "不运行"),
         "annex1"),
    Case(7, "c07/附件1_炸弹.xlsx", _then(_filled("annex1", "T03"), lambda p: padded_sheet(p, 3)), Outcome.UNSUPPORTED,
         ("压缩异常", "压缩炸弹")),
    Case(7, "c07/附件1_部件过多.xlsx", _then(_filled("annex1", "T03"), lambda p: many_parts(p, 120)), Outcome.UNSUPPORTED,
         ("部件过多",)),
    Case(7, "c07/附件1_过大.xlsx", _then(_filled("annex1", "T03"), lambda p: oversized(p, 1.2)), Outcome.UNSUPPORTED,
         ("文件过大", "超过上限 1 MB")),
    Case(8, "c08/附件1.xlsx", _then(_filled("annex1", "T04"), billion_laughs), Outcome.UNSUPPORTED, ("不安全内容", "ENTITY")),
    Case(9, "c09/附件1.xlsx", _then(_filled("annex1", "T05"), far_cells), Outcome.ACCEPTED, ("范围外内容", "XFD1048576"),
         "annex1"),
    Case(10, "c10/附件1.xlsx", _row_inserted, Outcome.ACCEPTED, ("保护被取消", "行列被改动"), "annex1"),
    Case(11, "c11/附件1.xlsx", _label_edited, Outcome.ACCEPTED, ("文字被改动", "学习次数（自己改的）"), "annex1"),
    Case(12, "c12/附件1.xlsx", _meta_deleted, Outcome.ACCEPTED, ("无模板标识",), "annex1"),
    Case(13, "c13/附件1_去年.xlsx", _other_year, Outcome.REJECTED, ("其他年度模板",), "annex1"),
    Case(13, "c13/附件1_旧版.xlsx", _old_version, Outcome.REJECTED, ("模板版本过期",), "annex1"),
    Case(14, "c14/附件1_活动情况统计表.xlsx", _filled("annex2", "T06"), Outcome.ACCEPTED, (), "annex2"),
    Case(15, "c15/附件1.xlsx", _counts_bad, Outcome.REJECTED, ("负数", "不是整数", "数值过大", "不是数字"), "annex1"),
    Case(16, "c16/附件1.xlsx", _counts_typed, Outcome.ACCEPTED, ("已自动更正", "12次", "约300", "十二"), "annex1"),
    Case(17, "c17/附件1_公式有值.xlsx", _formula(cached=True), Outcome.ACCEPTED, (), "annex1"),
    Case(17, "c17/附件1_公式无值.xlsx", _formula(cached=False), Outcome.REJECTED, ("公式未计算", "=10+2"), "annex1"),
    Case(18, "c18/附件1_文字日期.xlsx", _filled("annex1", "T11", {"report_date": "2023年6月28日"}), Outcome.ACCEPTED, (),
         "annex1"),
    Case(18, "c18/附件1_序列号日期.xlsx", _serial_date, Outcome.ACCEPTED, ("已自动更正", "数字形式"), "annex1"),
    Case(18, "c18/附件1_不存在日期.xlsx", _filled("annex1", "T13", {"report_date": "2023-02-30"}), Outcome.ACCEPTED,
         ("日期格式不对", "2023-02-30"), "annex1"),
    Case(19, "c19/附件2.xlsx", _filled("annex2", "T07", {"mobile": "1381234567", "email": "wang@@163",
                                                          "office_phone": "12-34"}), Outcome.REJECTED,
         ("手机号格式不对", "邮箱格式不对", "电话格式不对"), "annex2"),
    Case(20, "c20/a/附件1.xlsx", _duplicate, Outcome.ACCEPTED, (), "annex1"),
    Case(20, "c20/b/附件1.xlsx", lambda path, kit: path.write_bytes((path.parents[1] / "a" / path.name).read_bytes()),
         Outcome.DUPLICATE, (), "annex1", "内容完全相同"),
    Case(21, "c21/附件1_第一版.xlsx", _two_versions(20), Outcome.SUPERSEDED, (), "annex1", "已被较新的"),
    Case(21, "c21/附件1_第二版.xlsx", _two_versions(25), Outcome.ACCEPTED, (), "annex1"),
    Case(22, "c22/附件1_通用.xlsx", _filled("annex1", None, {"unit_name": "清河县不存在的运输公司"}), Outcome.REJECTED,
         ("未知单位", "不在单位名录中"), "annex1"),
    Case(23, "c23/附件1.xlsx", _injection, Outcome.ACCEPTED, (), "annex1"),
    Case(23, "c23/附件2.xlsx", _injection2, Outcome.ACCEPTED, (), "annex2"),
    Case(24, "c24/~$附件1.xlsx", _write(b"\x04Li Ming" + b"\x00" * 100), Outcome.IGNORED),
    Case(24, "c24/.DS_Store", _write(b"\x00\x00\x00\x01Bud1" + b"\x00" * 60), Outcome.IGNORED),
    Case(25, "c25/附件1_pdf.xlsx", _write(PDF), Outcome.UNSUPPORTED, ("格式不符",)),  # named as a return: 格式不符
    Case(25, "c25/现场照片_jpg.xlsx", _write(JPEG), Outcome.MATERIAL, ("不是报表",)),  # a photo not named as a return
    Case(26, "c26/附件1.xlsx", _hidden_sheet_and_link, Outcome.ACCEPTED, ("隐藏工作表", "私下数据", "外部链接"), "annex1"),
    # Beyond the list: a name with invalid UTF-8, a terminal escape and a newline must not break any writer.
    Case(27, "c27/\udcff附件1\x1b[31m红\n.xlsx", _filled("annex1", "T25"), Outcome.ACCEPTED, (), "annex1"),
)


def build_corpus(inbox: Path, kit: Kit, cases: Sequence[Case] = CASES) -> dict[str, Case]:
    """Write every case below ``inbox``; returns the cases by file."""
    built: dict[str, Case] = {}
    for case in cases:
        path = inbox / case.file
        path.parent.mkdir(parents=True, exist_ok=True)
        case.build(path, kit)
        built[case.file] = case
    return built


def build_valid(inbox: Path, kit: Kit, units: Sequence[str] = VALID_UNITS) -> list[Path]:
    """Clean returns of both forms for ``units``, with different numbers per unit."""
    paths = []
    for n, code in enumerate(units, start=1):
        values = {"s1_center_study_times": n, "s1_center_study_people": 10 * n, "s8_giveaways": 100 + n}
        paths.append(kit.filled(inbox / "valid" / f"{code}_附件1.xlsx", "annex1", code, values))
        paths.append(kit.filled(inbox / "valid" / f"{code}_附件2.xlsx", "annex2", code))
    return paths


# ----------------------------------------------------------------------------- outputs


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of one of the rollup's CSV files."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def snapshot(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Every file below ``folder``: (sha256, size, mtime in ns), by relative path."""
    import hashlib

    return {p.relative_to(folder).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size,
                                               p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def workbook_values(path: Path, skip: Iterable[tuple[str, str]] = ()) -> dict[tuple[str, str], Any]:
    """Every non-empty cell value of a workbook, by (sheet, address), without the cells in ``skip``."""
    skipped = set(skip)
    wb = _load(path)
    try:
        return {(ws.title, c.coordinate): c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row
                if c.value is not None and (ws.title, c.coordinate) not in skipped}
    finally:
        wb.close()
