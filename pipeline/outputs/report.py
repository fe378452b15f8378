"""Write the county rollup workbook and its CSV twins into outbox/, atomically."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gc
import math
import multiprocessing
import os
import signal
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import xlsxwriter

from pipeline.checks.confirm import CONFIRM_COLUMNS, CONFIRM_NAME, confirm_rows
from pipeline.checks.rollup import RATE_NOTE, Rollup, UnitStatus, records
from pipeline.forms.generate import BODY_FONT, HEAD_FONT, TITLE_FONT, check_rc
from pipeline.forms.layout import section_heading, text_lines
from pipeline.forms.spec import READ_MAP_SHEET, FormSpec
from pipeline.intake.materials import MATERIAL_COLUMNS, SUBMITTED
from pipeline.model import Finding, Outcome, Severity, Status
from pipeline.outputs.compare import write_compare_sheet
from pipeline.outputs.limits import MAX_CELL_CHARS, MAX_ROWS, clip, row_points, sheet_name
from pipeline.outputs.materials_report import (
    material_rows,
    summary_cell,
    summary_form_id,
    summary_units,
    write_materials_sheet,
)
from pipeline.portable import can_fork
from pipeline.store.atomic import atomic_path

CONFIRM_SHEET = "核对"
STATUSES = (Status.PASSED, Status.WARNED, Status.RETURNED, Status.MISMATCH, Status.MISSING)
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "{=")
ISSUE_COLUMNS = ["file", "unit_code", "form", "sheet", "cell", "field_id", "value", "severity", "rule", "message"]
STATUS_COLUMNS = ["unit_code", "unit_name", "form", "status", "file", "read_as", "report_date", "arrival", "on_time",
                  "errors", "warnings", "note"]
RECORD_COLUMNS = ["unit_code", "unit_name", "form", "field_id", "value"]
# One row per file under inbox/, so that every file is accounted for exactly once.
FILE_COLUMNS = ["file", "sha256", "size", "kind", "outcome", "unit_code", "form", "errors", "warnings", "note"]


def _csv_cell(value: Any) -> Any:
    """One value as the CSV twin shows it: text clipped to Excel's cell limit and quote-prefixed when a
    spreadsheet would evaluate it; None (and NaN) empty; numbers as they are."""
    if isinstance(value, str):
        # Excel opens the CSV: its cell limit holds there too, with room for the quote prefix.
        value = clip(value, MAX_CELL_CHARS - 1)
        return "'" + value if value.startswith(FORMULA_TRIGGERS) else value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


CSV_CHUNK = 65_536  # rows turned into columns at a time: the columns of a province's records.csv never all at once


def _csv_column(values: Sequence[Any]) -> list[Any]:
    """One column as the CSV shows it (see :func:`_csv_cell`), each distinct text converted once.

    A column repeats a few texts (unit codes and names, field ids) and holds counts: at 10,000
    returns that is 3.8 million cells of which a few thousand differ, so converting per distinct
    value instead of per cell made writing the CSV twins four times cheaper.
    """
    try:
        distinct = set(values)
    except TypeError:  # an unhashable value: cell by cell
        return [_csv_cell(v) for v in values]
    texts = {v: _csv_cell(v) for v in distinct if type(v) is str}
    if len(texts) == len(distinct):  # text only
        return list(map(texts.__getitem__, values))
    return [v if type(v) is int else texts[v] if type(v) is str else _csv_cell(v) for v in values]


def write_csv(path: Path, rows: Sequence[Any], columns: Sequence[str]) -> None:
    """Rows (dicts or tuples in ``columns`` order) as UTF-8 with BOM, which Excel opens right; written atomically.

    Text a spreadsheet would evaluate (a leading = + - @ tab CR) gets a quote prefix (OWASP CSV injection).
    Written with the csv module straight from the rows: no DataFrame, so no column turns 12 into 12.0.
    """
    names = list(columns)
    # The BOM written once by hand: the utf-8-sig codec's encoder is Python code called for every row.
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as out:
        out.write("\ufeff")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(names)
        for start in range(0, len(rows), CSV_CHUNK):
            chunk = rows[start:start + CSV_CHUNK]
            if isinstance(chunk[0], Mapping):
                cells: Sequence[Sequence[Any]] = [[row.get(name) for row in chunk] for name in names]
            else:
                cells = list(zip(*chunk, strict=True))
            writer.writerows(zip(*map(_csv_column, cells), strict=True))


ROLLUP_SUFFIX = "活动情况汇总.xlsx"  # after the campaign's name: any campaign's rollup workbook ends so


def rollup_name(rollup: Rollup) -> str:
    """File name of the rollup workbook: county, year, the campaign's name: 清河县2023年安全生产月活动情况汇总.xlsx."""
    c = rollup.campaign
    return f"{c.county}{c.year}年{c.name}{ROLLUP_SUFFIX}"


def issue_rows(rollup: Rollup) -> list[dict[str, Any]]:
    """Every finding of every file."""
    rows = []
    for sub in rollup.submissions:
        for f in sub.findings:
            rows.append({"file": f.file, "unit_code": f.unit_code, "form": f.form, "sheet": f.sheet, "cell": f.cell,
                         "field_id": f.field_id, "value": f.value, "severity": f.severity, "rule": f.rule,
                         "message": f.text})
    return rows


def file_rows(rollup: Rollup) -> list[dict[str, Any]]:
    """Every file of the run with its outcome (files.csv), in inbox order."""
    return [{"file": s.file, "sha256": s.sha256, "size": s.size, "kind": s.kind, "outcome": s.outcome,
             "unit_code": s.unit.code if s.unit else "", "form": s.form_id or "", "errors": s.errors,
             "warnings": s.warnings, "note": s.note} for s in rollup.submissions]


def status_rows(rollup: Rollup) -> list[dict[str, Any]]:
    """One row per roster unit and form."""
    rows = []
    for st in rollup.statuses:
        basis = st.counted or st.latest
        date = basis.report_date if basis else None
        rows.append({"unit_code": st.unit.code, "unit_name": st.unit.name, "form": st.form_id, "status": st.status,
                     "file": basis.file if basis else "", "read_as": basis.read_as if basis else "",
                     "report_date": date.isoformat() if date else "", "arrival": arrival_cell(st),
                     "on_time": "" if st.on_time is None else ("是" if st.on_time else "否"),
                     "errors": st.latest.errors if st.latest else 0,
                     "warnings": st.latest.warnings if st.latest else 0, "note": status_note(st)})
    return rows


REASONS_SHOWN = 2  # the first problems named in 说明; the rest are counted and left to 校验问题


def _reason(f: Finding) -> str:
    """One problem in a few words: 【错误】D77 安全生产举报条幅标语·个数“abc”：不是数字."""
    where = " ".join(p for p in (f.cell, f.label) if p)
    value = f"“{f.value}”" if f.value else ""
    return f"【{f.severity}】{where}{value}：{f.rule}" if where or value else f"【{f.severity}】{f.rule}"


def status_note(st: UnitStatus) -> str:
    """说明 of a unit's status: why a return was 退回 or 有警告 (its first problems), and which file counts instead."""
    parts = [st.note] if st.note else []
    if st.status in (Status.RETURNED, Status.WARNED) and st.latest is not None:
        findings = sorted(st.latest.findings, key=lambda f: f.severity != Severity.ERROR)
        if findings:
            shown = "；".join(_reason(f) for f in findings[:REASONS_SHOWN])
            more = len(findings) - REASONS_SHOWN
            parts.append(shown + (f"；另有 {more} 个问题，见“校验问题”表" if more > 0 else ""))
    return "。".join(parts)


class _Book:
    """Thin wrapper: shared formats and string-only writing of unit text."""

    def __init__(self, path: Path) -> None:
        self.wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                                  "strings_to_numbers": False})
        base = {"font_name": BODY_FONT, "font_size": 10, "valign": "vcenter"}
        self.props: dict[str, dict[str, Any]] = {
            "title": {"font_name": TITLE_FONT, "font_size": 18, "bold": True, "align": "center", "valign": "vcenter"},
            "annex": {"font_name": HEAD_FONT, "font_size": 14},
            "head": {**base, "font_name": HEAD_FONT, "bold": True, "border": 1, "align": "center", "text_wrap": True,
                     "bg_color": "#D9D9D9"},
            "cell": {**base, "border": 1, "text_wrap": True, "valign": "top"},  # a long cell reads from its top
            "item": {**base, "border": 1, "text_wrap": True},  # 汇总表's 活动项目, centred beside its sentence
            "num": {**base, "border": 1, "num_format": "#,##0", "align": "right"},
            "pct": {**base, "border": 1, "num_format": "0.0%"},
            "total": {**base, "border": 1, "bold": True, "num_format": "#,##0", "bg_color": "#F2F2F2"},
            "missing": {**base, "border": 1, "font_color": "#9C0006", "bg_color": "#FFC7CE"},
            "warn": {**base, "border": 1, "bg_color": "#FFEB9C"},
            "ok": {**base, "border": 1, "bg_color": "#C6EFCE"},
            "text": {**base, "text_wrap": True, "valign": "top", "border": 1, "font_size": 10.5},
            "plain": base,
            "note": {**base, "text_wrap": True, "valign": "top"},
            "bold": {**base, "bold": True},
            # 分单位明细's free text: one line per unit, cut off in print (the full text is in 典型案例).
            "line": {**base, "border": 1},
            # 分单位明细's unit names: one line; where a name is longer than Excel's narrower column, it shrinks.
            "fit": {**base, "border": 1, "shrink": True},
        }
        self.f = {name: self.wb.add_format(props) for name, props in self.props.items()}
        self._quoted: dict[str, Any] = {}

        self.widths: dict[str, dict[int, float]] = {}
        self.lines: dict[str, dict[int, int]] = {}
        self._totals: dict[str, dict[str, int]] = {}

    def totals(self, rollup: Rollup, form_id: str) -> dict[str, int]:
        """The county totals of a form, summed once for the sheets that show them (a pass over every value)."""
        if form_id not in self._totals:
            self._totals[form_id] = rollup.totals(form_id)
        return self._totals[form_id]

    def sheet(self, name: str, spec: FormSpec | None = None) -> Any:
        """A new worksheet; a second form's sheet of the same kind is told apart by its annex (31 characters at most)."""
        if spec is not None and self.wb.get_worksheet_by_name(name) is not None:
            name = f"{name}（{spec.annex}）"
        return self.wb.add_worksheet(sheet_name(name))

    def columns(self, ws: Any, widths: Sequence[float]) -> None:
        """Set column widths; wrapped text written afterwards grows its row to fit (see :meth:`fit_rows`)."""
        for col, width in enumerate(widths):
            ws.set_column(col, col, width)
        self.widths[ws.name] = dict(enumerate(widths))

    def table(self, ws: Any, widths: Sequence[float], flexible: Sequence[int], header_row: int = 0) -> None:
        """A table sheet printed on A4 landscape at 90% (10 pt text at 9 pt, never smaller): its wrapped
        (``flexible``) columns narrowed until the table fits a page across, the header row on every page."""
        from pipeline.outputs.printing import MIN_SCALE, fitted_widths

        margins = TABLE_MARGINS
        self.columns(ws, fitted_widths(widths, flexible, MIN_SCALE, margins["left"], margins["right"]))
        ws.set_landscape()
        ws.set_paper(9)
        ws.set_margins(**margins)
        ws.set_print_scale(MIN_SCALE)
        ws.repeat_rows(header_row)
        ws.set_footer("&C&A　第 &P 页，共 &N 页")

    def text(self, ws: Any, row: int, col: int, value: Any, fmt: str = "cell") -> None:
        """Write unit-supplied text strictly as a string; a leading = + - @ gets a quote prefix."""
        # Excel's limits; xlsxwriter refuses longer strings
        text = clip(value if type(value) is str else "" if value is None else str(value))
        if not text:  # a blank cell keeps the border, without an empty shared string
            if rc := ws.write_blank(row, col, None, self.f[fmt]):
                check_rc(rc, f"blank at {row},{col}")
            return
        fmt_obj = self.quoted(fmt) if text.startswith(FORMULA_TRIGGERS) else self.f[fmt]
        # Hot at province scale: the message is only built when xlsxwriter refuses the cell.
        if rc := ws.write_string(row, col, text, fmt_obj):
            check_rc(rc, f"text at {row},{col}")
        widths = self.widths.get(ws.name)
        # Text at most half as long as the column is wide (less a character's room) is one line, whatever its
        # characters (see text_lines): most cells, so only the others are measured.
        if widths and fmt in _WRAPPED and (width := widths.get(col)) and 2 * len(text) > width / WRAP_SCALE - 1:
            rows = self.lines.setdefault(ws.name, {})
            lines = text_lines(text, width, WRAP_SCALE)
            if lines > rows.get(row, 1):
                rows[row] = lines

    def quoted(self, fmt: str) -> Any:
        """``fmt`` with a quote prefix, so that text a unit typed starting with = + - @ never reads as a formula."""
        if fmt not in self._quoted:
            self._quoted[fmt] = self.wb.add_format({**self.props[fmt], "quote_prefix": True})
        return self._quoted[fmt]

    def fit_rows(self) -> None:
        """Give every row holding wrapped text the height its longest cell needs (neither Excel nor
        LibreOffice re-measures rows of a generated file), unless the sheet sized that row itself."""
        for ws in self.wb.worksheets():
            for row, lines in self.lines.get(ws.name, {}).items():
                if lines > 1 and row not in ws.row_sizes:
                    ws.set_row(row, row_points(13.0 * lines + 3))

    def value(self, ws: Any, row: int, col: int, value: Any, fmt: str = "num") -> None:
        """A number as a number, anything else as text."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            if rc := ws.write_number(row, col, value, self.f[fmt]):
                check_rc(rc, f"number at {row},{col}")
        else:
            self.text(ws, row, col, "" if value is None else (value.isoformat() if isinstance(value, dt.date)
                                                                else value))


TABLE_MARGINS = {"left": 0.4, "right": 0.4, "top": 0.5, "bottom": 0.5}  # inches
STATUS_FORMAT = {Status.PASSED: "ok", Status.WARNED: "warn", Status.RETURNED: "missing", Status.MISMATCH: "missing",
                 Status.MISSING: "missing"}
_WRAPPED = ("cell", "item", "text", "head")
WRAP_SCALE = 0.9  # the font scale wrapped cells are measured at (text_lines) to size their rows (fit_rows)


SUMMARY_WIDTHS = (16, 38, 52)  # 活动项目, 内容要求, 进展情况
SUMMARY_PT = 10.5  # the sentences' and requirements' font size ("text" format)
SUMMARY_SPARE_LINES = 1  # a row keeps one line to spare: no font wraps a sentence past its border
SUMMARY_SPARE_UNITS = 2.0  # and each line a character: Windows' 宋体/仿宋 are not the fonts measured here


def _summary_sheet(book: _Book, rollup: Rollup, spec: FormSpec) -> None:
    """汇总表: the official 附件1 layout with the county totals in the 进展情况 sentences."""
    c = rollup.campaign
    from pipeline.outputs.printing import break_lines
    from pipeline.outputs.printing import row_points as printed_row

    ws = book.sheet("汇总表", spec)
    spec = spec.for_campaign(c.year, c.theme, c.edition)  # {theme}, {year}, {edition} in the sentences
    for col, width in enumerate(SUMMARY_WIDTHS):
        ws.set_column(col, col, width)
    check_rc(ws.write_string(0, 0, spec.annex, book.f["annex"]), "annex")
    check_rc(ws.merge_range(1, 0, 1, 2, spec.title_for(c.year), book.f["title"]), "title")
    ws.set_row(1, 34)
    counted = rollup.counted(spec.id)
    header = (f"填报单位：{c.bureau}    联系人：{c.contact_person}    电话：{c.contact_phone}    "
              f"填报日期：{dt.date.today().isoformat()}")
    check_rc(ws.merge_range(2, 0, 2, 2, header, book.f["plain"]), "header")
    for col, head in enumerate(("活动项目", "内容要求", "进展情况")):
        book.text(ws, 3, col, head, "head")
    totals = book.totals(rollup, spec.id)
    row = 4
    for index, section in enumerate(spec.sections):
        sentence = section.sentence
        for f in section.fields:
            if f.kind == "count":
                filled = f"{totals[f.id]:,}".replace(",", "")
            else:  # the texts themselves are on the 典型案例 sheet: a sentence row never outgrows a page
                filled = answers_reference(sum(bool(s.values.get(f.id)) for s in counted))
            sentence = sentence.replace("{" + f.id + "}", filled)
        book.text(ws, row, 0, section_heading(index, section.title).split("、", 1)[1], "item")
        # Our own line breaks, for Excel's narrower units with a character to spare: every program shows the same
        # lines, and no line starts with a closing mark nor splits a number from its brackets.
        broken = break_lines(sentence, SUMMARY_WIDTHS[2] - SUMMARY_SPARE_UNITS, SUMMARY_PT)
        required = break_lines(section.requirement, SUMMARY_WIDTHS[1] - SUMMARY_SPARE_UNITS, SUMMARY_PT)
        book.text(ws, row, 1, "\n".join(required), "text")
        book.text(ws, row, 2, "\n".join(broken), "text")
        lines = max(len(broken), len(required))
        ws.set_row(row, row_points(printed_row(lines + SUMMARY_SPARE_LINES, SUMMARY_PT)))
        row += 1
    note = (f"说明：本表由 {len(counted)} 个单位报送的合格报表汇总而成（应报 {len(rollup.roster)} 个单位）；"
            f"各单位明细见“分单位明细”，报送情况见“报送情况”。")
    check_rc(ws.merge_range(row + 1, 0, row + 1, 2, note, book.f["plain"]), "note")
    ws.set_paper(9)
    ws.set_portrait()
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.repeat_rows(3)
    ws.fit_to_pages(1, 0)
    ws.set_footer("&C第 &P 页，共 &N 页")


def answers_reference(count: int) -> str:
    """What a 进展情况 sentence says in place of a free-text field: where the texts are and how many.

    Joining the units' texts into the sentence made its row outgrow Excel's 409 pt cap, and the
    printout then lost every total after it; the full texts are on the 典型案例 sheet, one row each.
    """
    return f"见“典型案例”表，共{count}件" if count else "无"


DETAIL_SCALE = 90  # percent: 10 pt text prints at 9 pt, as small as a table of numbers stays readable
DETAIL_MARGINS = {"left": 0.3, "right": 0.3, "top": 0.6, "bottom": 0.6}  # inches
DETAIL_HEADING_LINES = 3  # a section heading needing more lines on a page shows its number only there
DETAIL_COUNT_WIDTH = 5.0  # a count column at least: three digits (wider for a larger total), its label in short lines
DETAIL_HEAD_PT = 10  # header text: 9 pt in print, never smaller
DETAIL_HEADER_ROWS = 3  # section headings, item labels, units
DETAIL_TAIL = 0.12  # a section starts on the next page only when less than this share of a page is left
WIDE_CJK_UNITS = 0.71  # width units per display-width unit of 10 pt CJK text where a unit prints 7.05 pt wide


def detail_title(rollup: Rollup, spec: FormSpec) -> str:
    """The printed title of 分单位明细 (its page header)."""
    c = rollup.campaign
    title = spec.title_for(c.year).removeprefix(f"{c.year}年").removesuffix("统计表").removesuffix("表")
    return f"{c.county}{c.year}年{title}分单位明细".replace("&", "&&")


ITEM_WIDTHS = (30.0, 5.0)  # 填报项, 单位 of the by-item layout
ITEM_UNIT_WIDTH = 8.0  # one unit's column in the by-item layout (its name in short lines above)


def _fits_by_item(rollup: Rollup, spec: FormSpec) -> bool:
    """Whether the units, one column each with the total, fit one page across: then 分单位明细 lists the items down
    the page (a few units' sheet then takes two or three pages instead of six)."""
    from pipeline.outputs.printing import page_room, printed_points

    units = sum(1 for s in rollup.statuses if s.form_id == spec.id)
    widths = [*ITEM_WIDTHS, *[ITEM_UNIT_WIDTH] * (units + 1)]
    return sum(map(printed_points, widths)) <= page_room(DETAIL_SCALE, DETAIL_MARGINS["left"], DETAIL_MARGINS["right"])


def _detail_by_item(book: _Book, rollup: Rollup, spec: FormSpec) -> None:
    """分单位明细 of a few units: one row per item under its section's heading, one column per unit, a total column."""
    from pipeline.outputs.printing import (
        WIDE_PT_PER_UNIT,
        WIDTH_PADDING,
        break_lines,
        page_room,
        printed_points,
        row_points,
    )

    ws = book.sheet("分单位明细", spec)
    statuses = [s for s in rollup.statuses if s.form_id == spec.id]
    totals = book.totals(rollup, spec.id)
    # The unit columns share what the item columns leave of the page, so that it is filled across.
    free = page_room(DETAIL_SCALE, DETAIL_MARGINS["left"], DETAIL_MARGINS["right"]) - sum(map(printed_points, ITEM_WIDTHS))
    share = free / WIDE_PT_PER_UNIT / (len(statuses) + 1) - WIDTH_PADDING
    unit_width = min(max(ITEM_UNIT_WIDTH, share), 2 * ITEM_UNIT_WIDTH)
    widths = [*ITEM_WIDTHS, *[unit_width] * len(statuses), unit_width]
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    last_col = len(widths) - 1
    head = book.wb.add_format({"font_name": HEAD_FONT, "font_size": DETAIL_HEAD_PT, "bold": True, "border": 1,
                               "align": "center", "valign": "vcenter", "text_wrap": True, "bg_color": "#D9D9D9"})
    section_fmt = book.wb.add_format({"font_name": HEAD_FONT, "font_size": DETAIL_HEAD_PT, "bold": True, "border": 1,
                                      "valign": "vcenter", "bg_color": "#F2F2F2"})
    names = [break_lines(st.unit.name, unit_width, DETAIL_HEAD_PT) for st in statuses]
    check_rc(ws.write_string(0, 0, "填报项", head), "head")
    check_rc(ws.write_string(0, 1, "单位", head), "head")
    for c, lines in enumerate(names, start=2):
        check_rc(ws.write_string(0, c, "\n".join(lines), head), "unit name")
    check_rc(ws.write_string(0, last_col, "合计", head), "head")
    ws.set_row(0, row_points(max([len(n) for n in names] + [1]), DETAIL_HEAD_PT))
    book.text(ws, 1, 0, "状态", "head")
    book.text(ws, 1, 1, "", "head")
    for c, st in enumerate(statuses, start=2):
        book.text(ws, 1, c, st.status, STATUS_FORMAT[st.status])
    book.text(ws, 1, last_col, f"{len(rollup.counted(spec.id))} 个单位", "total")
    row = 2
    for index, section in enumerate(spec.sections):
        check_rc(ws.merge_range(row, 0, row, last_col, section_heading(index, section.title), section_fmt), "section")
        row += 1
        for f in section.fields:
            book.text(ws, row, 0, f.label, "line")
            book.text(ws, row, 1, f.unit, "line")
            for c, st in enumerate(statuses, start=2):
                value = st.counted.values.get(f.id) if st.counted else None
                if isinstance(value, int) and not isinstance(value, bool):
                    check_rc(ws.write_number(row, c, value, book.f["num"]), "count")
                else:
                    book.text(ws, row, c, "" if value is None else str(value), "line")
            if f.kind == "count":
                check_rc(ws.write_number(row, last_col, totals[f.id], book.f["total"]), "total")
            else:
                check_rc(ws.write_blank(row, last_col, None, book.f["total"]), "total")
            row += 1
    ws.freeze_panes(2, 2)
    ws.set_landscape()
    ws.set_paper(9)
    ws.set_margins(**DETAIL_MARGINS)
    ws.set_print_scale(DETAIL_SCALE)
    ws.print_area(0, 0, row - 1, last_col)
    ws.repeat_rows(0, 1)
    ws.set_header(f'&C&"{HEAD_FONT},Bold"&14{detail_title(rollup, spec)}', {"margin": 0.25})
    ws.set_footer("&C&A　第 &P 页，共 &N 页")


def _detail_sheet(book: _Book, rollup: Rollup, spec: FormSpec) -> None:
    """分单位明细: one row per roster unit, one column per field, a totals row.

    Printed on A4 landscape in pages of columns (see pipeline.outputs.printing) under the title in
    the page header: 单位编码 and 单位名称 and the three header rows (section, item, unit) repeat on
    every page, and each section's heading is merged over its columns on each page it reaches
    (continued ones marked 续). Header texts are broken into lines here, never inside a bracket.
    """
    from pipeline.forms.layout import display_width
    from pipeline.outputs.printing import break_lines, page_room, plan_pages, printed_points, row_points

    ws = book.sheet("分单位明细", spec)
    fixed = ("单位编码", "单位名称", "类别", "状态")
    fields = [f for f in spec.body_fields]
    statuses = [s for s in rollup.statuses if s.form_id == spec.id]
    totals = book.totals(rollup, spec.id)
    last_col = len(fixed) + len(fields) - 1
    first_row = DETAIL_HEADER_ROWS
    total_row = len(statuses) + first_row
    # Widths: names on one line as LibreOffice prints them (a long one wraps in Excel's narrower units, its row
    # growing to fit); numbers as wide as the county total needs.
    longest = max([display_width(st.unit.name) for st in statuses] + [8])
    name_width = longest * WIDE_CJK_UNITS + 1.5
    kind_width = max([display_width(st.unit.category) for st in statuses] + [4]) * WIDE_CJK_UNITS + 1.5
    widths = [5.0, min(name_width, 40.0), kind_width, 6.0]
    for f in fields:
        widths.append(max(DETAIL_COUNT_WIDTH, len(f"{totals.get(f.id, 0):,}") + 2.0) if f.kind == "count" else 12.0)
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    # Pages of columns: the columns after the two repeated ones, broken preferably between sections.
    starts, col = [], len(fixed)
    for section in spec.sections:
        starts.append(col - 2)
        col += len(section.fields)
    pages = [(first + 2, last + 2) for first, last in plan_pages(
        [printed_points(w) for w in widths[2:]], printed_points(widths[0]) + printed_points(widths[1]),
        page_room(DETAIL_SCALE, DETAIL_MARGINS["left"], DETAIL_MARGINS["right"]), starts, tail=DETAIL_TAIL)]
    head = book.wb.add_format({"font_name": HEAD_FONT, "font_size": DETAIL_HEAD_PT, "bold": True, "border": 1,
                               "align": "center", "valign": "vcenter", "text_wrap": True, "bg_color": "#D9D9D9"})
    for col, text in enumerate(fixed):
        lines = break_lines(text, widths[col], DETAIL_HEAD_PT)
        check_rc(ws.merge_range(0, col, first_row - 1, col, "\n".join(lines), head), "head")
    section_lines, label_lines = 1, 1
    col = len(fixed)
    for index, section in enumerate(spec.sections):
        span = range(col, col + len(section.fields))
        for first, last in ((max(span.start, a), min(span.stop - 1, b)) for a, b in pages
                            if a <= span.stop - 1 and b >= span.start):
            continued = "（续）" if first > span.start else ""
            room = sum(widths[first:last + 1])
            lines = break_lines(section_heading(index, section.title) + continued, room, DETAIL_HEAD_PT)
            if len(lines) > DETAIL_HEADING_LINES:  # too narrow here for the whole title: its number, whole
                lines = break_lines(section_heading(index, "").rstrip() + continued, room, DETAIL_HEAD_PT)
            title = "\n".join(lines)
            if last > first:
                check_rc(ws.merge_range(0, first, 0, last, title, head), "section head")
            else:
                check_rc(ws.write_string(0, first, title, head), "section head")
            section_lines = max(section_lines, len(lines))
        for f in section.fields:
            lines = break_lines(f.label, widths[col], DETAIL_HEAD_PT)
            check_rc(ws.write_string(1, col, "\n".join(lines), head), "label")
            check_rc(ws.write_string(2, col, f.unit, head) if f.unit else ws.write_blank(2, col, None, head), "unit")
            label_lines = max(label_lines, len(lines))
            col += 1
    ws.set_row(0, row_points(section_lines, DETAIL_HEAD_PT))
    ws.set_row(1, row_points(label_lines, DETAIL_HEAD_PT))
    ws.set_row(2, row_points(1, DETAIL_HEAD_PT))
    number, blank = book.f["num"], book.f["cell"]
    write_number, write_blank = ws.write_number, ws.write_blank
    columns = list(enumerate((f.id for f in fields), start=len(fixed)))
    for r, st in enumerate(statuses, start=first_row):
        book.text(ws, r, 0, st.unit.code)
        book.text(ws, r, 1, st.unit.name, "fit")
        book.text(ws, r, 2, st.unit.category, "fit")
        book.text(ws, r, 3, st.status, STATUS_FORMAT[st.status])
        values: Mapping[str, Any] = st.counted.values if st.counted else {}
        for c, fid in columns:
            value = values.get(fid)
            # The hot loop of a province-size rollup: counts go straight to write_number.
            if value is None:
                rc = write_blank(r, c, None, blank)
            elif type(value) is int:
                rc = write_number(r, c, value, number)
            else:  # free text stays on one line (in full in 典型案例), so that every row keeps its height
                book.text(ws, r, c, value.isoformat() if isinstance(value, dt.date) else value, "line")
                continue
            if rc:
                check_rc(rc, f"cell {r},{c}")
    book.text(ws, total_row, 0, "合计", "total")
    book.text(ws, total_row, 1, f"{len(rollup.counted(spec.id))} 个单位", "total")
    for c, f in enumerate(fields, start=len(fixed)):
        if f.kind == "count":
            check_rc(ws.write_number(total_row, c, totals[f.id], book.f["total"]), "total")
        else:
            check_rc(ws.write_blank(total_row, c, None, book.f["total"]), "total")
    for c in (2, 3):
        check_rc(ws.write_blank(total_row, c, None, book.f["total"]), "total")
    ws.freeze_panes(first_row, 2)
    ws.autofilter(first_row - 1, 0, total_row - 1, last_col)
    ws.set_landscape()
    ws.set_paper(9)
    ws.set_margins(**DETAIL_MARGINS)
    ws.set_print_scale(DETAIL_SCALE)
    ws.print_area(0, 0, total_row, last_col)
    ws.repeat_rows(0, first_row - 1)  # every printed page keeps the header rows and the unit columns
    ws.repeat_columns(0, 1)
    ws.set_v_pagebreaks([first for first, _ in pages[1:]])
    ws.set_header(f'&C&"{HEAD_FONT},Bold"&14{detail_title(rollup, spec)}', {"margin": 0.25})
    ws.set_footer("&C&A　第 &P 页，共 &N 页")


# Column widths of a table form's sheet, by the kind of field in the column.
_KIND_WIDTHS = {"person": 10, "text": 16, "phone": 16, "mobile": 15, "email": 26, "count": 10, "date": 12, "unit": 32}


def _liaison_sheet(book: _Book, rollup: Rollup, spec: FormSpec) -> None:
    """联络员表: the consolidated 附件2, one row per roster unit."""
    ws = book.sheet(spec.rollup_sheet, spec)
    fields = [f for f in spec.body_fields]
    heads = ["序号", "单位名称", *(f.label for f in fields), "报送状态"]
    title = f"{spec.annex}　{spec.title_for(rollup.campaign.year)}（汇总）"  # which annex of the notice this is
    check_rc(ws.merge_range(0, 0, 0, len(heads) - 1, title, book.f["title"]), "title")
    ws.set_row(0, 30)
    widths = (6, 28, *(_KIND_WIDTHS.get(f.kind, 14) for f in fields), 8)
    wrapped = (1, *(c for c, f in enumerate(fields, start=2) if f.kind in ("text", "email", "unit")))
    book.table(ws, widths, flexible=wrapped, header_row=1)
    for col, head in enumerate(heads):
        book.text(ws, 1, col, head, "head")
    statuses = [s for s in rollup.statuses if s.form_id == spec.id]
    for r, st in enumerate(statuses, start=2):
        check_rc(ws.write_number(r, 0, r - 1, book.f["cell"]), "seq")
        book.text(ws, r, 1, st.unit.name)
        for c, f in enumerate(fields, start=2):
            value = st.counted.values.get(f.id) if st.counted else None
            if f.kind == "count" and isinstance(value, int):
                book.value(ws, r, c, value)
            else:
                book.text(ws, r, c, value if value is not None else "")
        book.text(ws, r, len(heads) - 1, st.status, STATUS_FORMAT[st.status])
    ws.freeze_panes(2, 0)


STATUS_SCALE = 90  # percent: the sheet's 10 pt text prints at 9 pt
# 单位编码 单位名称 表 状态 采用文件 读取方式 填报日期 收到日期（依据） 是否按时 首次发现 错误数 警告数 说明 活动总结;
# the wrapped ones give way first.
STATUS_WIDTHS = (5.5, 14.0, 5.0, 6.0, 15.0, 7.0, 10.5, 10.5, 4.5, 10.0, 4.0, 4.0, 22.0, 6.0)
STATUS_FLEXIBLE = (1, 4, 5, 12)
RATE_HEADS = ("应报单位", "已报送", "报送率", "合格", "合格率", "按时合格", "按时率")
STATUS_COLUMN_HEADS = ("单位编码", "单位名称", "表", "状态", "采用文件", "读取方式", "填报日期", "收到日期（依据）",
                       "是否按时", "首次发现时间", "错误数", "警告数", "说明", "活动总结")


def arrival_cell(st: UnitStatus) -> str:
    """The day the on-time judgement used, with its year and its source: “2023-06-23（日期文件夹）”."""
    return f"{st.arrival.isoformat()}（{st.arrival_source}）" if st.arrival is not None else ""


def _status_sheet(book: _Book, rollup: Rollup) -> None:
    """报送情况: the three rates at the top with their definitions, a status chart, then one row per unit and form;
    A4 landscape at 9 pt."""
    from pipeline.outputs.printing import break_lines, fitted_widths

    ws = book.wb.add_worksheet("报送情况")
    margins = {"left": 0.3, "right": 0.3, "top": 0.5, "bottom": 0.6}
    # Never narrower print: the flexible columns wrap more instead.
    widths = fitted_widths(STATUS_WIDTHS, STATUS_FLEXIBLE, STATUS_SCALE, margins["left"], margins["right"])
    book.columns(ws, widths)
    check_rc(ws.merge_range(0, 0, 0, 1, "表", book.f["head"]), "head")
    first_status = 2 + len(RATE_HEADS)
    for col, head in enumerate((*RATE_HEADS, *STATUSES), start=2):
        book.text(ws, 0, col, "\n".join(break_lines(head, widths[col], 10)), "head")
    ws.set_row(0, 30)
    for r, spec in enumerate(rollup.forms.values(), start=1):
        sts = [s for s in rollup.statuses if s.form_id == spec.id]
        rates = rollup.rates(spec.id)
        check_rc(ws.merge_range(r, 0, r, 1, f"{spec.annex} {spec.title_for(rollup.campaign.year)}", book.f["cell"]),
                 "form")
        ws.set_row(r, 30)
        figures = (rates.due, rates.sent, rates.sent_rate, rates.accepted, rates.accepted_rate, rates.on_time,
                   rates.on_time_rate)
        for c, figure in enumerate(figures, start=2):
            check_rc(ws.write_number(r, c, figure, book.f["pct" if isinstance(figure, float) else "num"]), "rate")
        counts = Counter(s.status for s in sts)
        for c, status in enumerate(STATUSES, start=first_status):
            check_rc(ws.write_number(r, c, counts.get(status, 0), book.f["num"]), "count")
    note_row = len(rollup.forms) + 1
    last_col = len(STATUS_COLUMN_HEADS) - 1
    check_rc(ws.merge_range(note_row, 0, note_row, last_col, "说明：" + RATE_NOTE, book.f["note"]), "rate note")
    ws.set_row(note_row, row_points(13.0 * text_lines(RATE_NOTE, sum(widths), 0.9) + 4))
    chart = book.wb.add_chart({"type": "column", "subtype": "stacked"})
    for c, status in enumerate(STATUSES, start=first_status):
        chart.add_series({"name": ["报送情况", 0, c], "categories": ["报送情况", 1, 0, len(rollup.forms), 0],
                          "values": ["报送情况", 1, c, len(rollup.forms), c],
                          "fill": {"color": {Status.PASSED: "#70AD47", Status.WARNED: "#FFC000", Status.RETURNED: "#C00000",
                                            Status.MISMATCH: "#7030A0", Status.MISSING: "#A5A5A5"}[status]}})
    chart.set_title({"name": "各表报送状态", "name_font": {"name": HEAD_FONT, "size": 12}})
    chart.set_legend({"position": "bottom", "font": {"name": BODY_FONT}})
    chart.set_x_axis({"num_font": {"name": BODY_FONT}})
    chart.set_size({"width": 620, "height": 260})
    check_rc(ws.insert_chart(note_row + 2, 0, chart), "chart")
    start = note_row + 17
    for col, head in enumerate(STATUS_COLUMN_HEADS):  # never “收到日期（依据” / “）”
        book.text(ws, start, col, "\n".join(break_lines(head, widths[col], 10)), "head")
    summary_form, summaries = summary_form_id(rollup), summary_units(rollup)
    for r, (st, row) in enumerate(zip(rollup.statuses, status_rows(rollup), strict=True), start=start + 1):
        basis = st.counted or st.latest
        values = (row["unit_code"], row["unit_name"], rollup.forms[st.form_id].annex, st.status, row["file"],
                  row["read_as"], row["report_date"], row["arrival"], row["on_time"],
                  basis.first_seen if basis else "", row["errors"], row["warnings"], row["note"],
                  summary_cell(st, summary_form, summaries))
        for c, value in enumerate(values):
            if c == 3:
                book.text(ws, r, c, value, STATUS_FORMAT[st.status])
            elif c == last_col and value:
                book.text(ws, r, c, value, "ok" if value == SUBMITTED else "missing")
            elif type(value) is str:  # most cells: straight to text, as value() would send them
                book.text(ws, r, c, value)
            else:
                book.value(ws, r, c, value)
    ws.repeat_rows(start)
    ws.autofilter(start, 0, start + len(rollup.statuses), last_col)
    ws.set_landscape()
    ws.set_paper(9)
    ws.set_margins(**margins)
    ws.set_print_scale(STATUS_SCALE)
    ws.print_area(0, 0, start + len(rollup.statuses), last_col)
    ws.set_footer("&C&A　第 &P 页，共 &N 页")


def _issues_sheet(book: _Book, rollup: Rollup) -> None:
    """校验问题: one row per finding."""
    ws = book.wb.add_worksheet("校验问题")
    heads = ("文件", "单位编码", "单位名称", "表", "工作表", "单元格", "填报项", "所填内容", "规则", "级别", "问题及处理")
    book.table(ws, (26, 6, 20, 5, 7, 6, 20, 12, 10, 5, 56), flexible=(0, 2, 6, 7, 10))
    for col, head in enumerate(heads):
        book.text(ws, 0, col, head, "head")
    names = {u.code: u.name for u in rollup.roster}
    annex = {k: v.annex for k, v in rollup.forms.items()}
    findings: list[Finding] = [f for s in rollup.submissions for f in s.findings]
    if len(findings) > MAX_ROWS - 1:  # Excel's last row says how many more there are
        book.text(ws, MAX_ROWS - 1, 0, f"……另有 {len(findings) - MAX_ROWS + 2} 条问题未能列入本表，全部问题见 issues.csv。")
        findings = findings[: MAX_ROWS - 2]
    for r, f in enumerate(findings, start=1):
        values = (f.file, f.unit_code, names.get(f.unit_code, ""), annex.get(f.form, ""), f.sheet, f.cell, f.label,
                  f.value, f.rule, f.severity, f.message)
        for c, value in enumerate(values):
            book.text(ws, r, c, value, "missing" if c == 9 and value == "错误" else "cell")
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(findings), 1), len(heads) - 1)


def _read_map_sheet(book: _Book, rollup: Rollup) -> None:
    """读取对应: for each sheet a unit made itself, which of its labels was read as which item, one row each."""
    subs = [s for s in rollup.submissions for s in s.flattened() if s.read_map]
    if not subs:
        return
    ws = book.wb.add_worksheet(READ_MAP_SHEET)
    heads = ("文件", "单位编码", "单位名称", "表", "单元格", "表中文字", "读作填报项")
    book.table(ws, (24, 6, 20, 5, 6, 30, 36), flexible=(0, 2, 5, 6))
    for col, head in enumerate(heads):
        book.text(ws, 0, col, head, "head")
    annex = {k: v.annex for k, v in rollup.forms.items()}
    r = 1
    for sub in subs:
        for index, (cell, text, items) in enumerate(sub.read_map):
            # The file and its unit on its first row only: a block per file, each row one line.
            whose = (sub.file, sub.unit.code if sub.unit else "", sub.unit.name if sub.unit else "",
                     annex.get(sub.form_id or "", "")) if index == 0 else ("", "", "", "")
            values = (*whose, cell, text, items)
            for c, value in enumerate(values):
                book.text(ws, r, c, value)
            r += 1
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(r - 1, 1), len(heads) - 1)


def _cases_sheet(book: _Book, rollup: Rollup, spec: FormSpec) -> None:
    """典型案例: the free-text answers, by unit."""
    ws = book.sheet("典型案例", spec)
    text_fields = [f for f in spec.body_fields if f.kind == "text"]
    heads = ("单位编码", "单位名称", "填报项", "内容")
    book.table(ws, (6, 24, 18, 80), flexible=(1, 2, 3))
    for col, head in enumerate(heads):
        book.text(ws, 0, col, head, "head")
    r = 1
    for sub in rollup.counted(spec.id):
        for f in text_fields:
            if sub.values.get(f.id):
                book.text(ws, r, 0, sub.unit.code if sub.unit else "")
                book.text(ws, r, 1, sub.unit.name if sub.unit else "")
                book.text(ws, r, 2, f.label)
                book.text(ws, r, 3, sub.values[f.id], "cell")
                r += 1
    ws.freeze_panes(1, 0)


CROP_HEIGHT = 40  # pixels: each crop is scaled to about this height in the 核对 sheet
CROP_WIDTH = 240  # pixels at most


def _confirm_sheet(book: _Book, rollup: Rollup) -> None:
    """核对: one row per value read from a scan or photo, with the crop of its place on the page."""
    subs = [s for s in rollup.submissions if s.scanned and s.outcome != Outcome.MATERIAL]
    if not subs:
        return
    ws = book.wb.add_worksheet(CONFIRM_SHEET)
    heads = ("单位编码", "单位名称", "文件", "填报项", "识别结果", "可信度", "原图", "问题", "核对")
    book.table(ws, (6, 20, 24, 26, 8, 7, 36, 22, 5), flexible=(1, 2, 3, 7))
    for col, head in enumerate(heads):
        book.text(ws, 0, col, head, "head")
    r = 1
    for sub in subs:
        for row in confirm_rows([sub], rollup.confirmed):
            value = next(v for v in sub.scanned if v.field_id == row["字段"])
            for c, key in ((0, "单位编码"), (1, "单位名称"), (2, "文件"), (3, "填报项"), (4, "识别结果"), (7, "问题"), (8, "核对")):
                book.text(ws, r, c, row[key], "missing" if key == "问题" and row[key] else "cell")
            ws.write_number(r, 5, float(value.confidence))
            ws.set_row(r, CROP_HEIGHT + 6)  # points (4/3 px each): room around the crop in Excel, WPS and LibreOffice
            if value.crop:
                _insert_crop(ws, r, 6, value.crop)
            r += 1
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, r - 1, len(heads) - 1)


def _insert_crop(ws: Any, row: int, col: int, png: bytes) -> None:
    """A crop in a cell, scaled to the row's height (its size is read from the PNG header)."""
    import io
    import struct

    width, height = struct.unpack(">II", png[16:24]) if png[:8] == b"\x89PNG\r\n\x1a\n" else (1, 1)
    scale = min(CROP_HEIGHT / max(height, 1), CROP_WIDTH / max(width, 1), 1.0)
    ws.insert_image(row, col, "crop.png", {"image_data": io.BytesIO(png), "x_scale": scale, "y_scale": scale,
                                           "x_offset": 2, "y_offset": 2, "object_position": 1})


def write_workbook(path: Path, rollup: Rollup) -> None:
    """The rollup workbook, written to a temporary file then renamed.

    A statistics form (one with 进展情况 sentences) gets a 汇总表, a 分单位明细 and a 典型案例
    sheet; any other form one table sheet (its spec's ``rollup_sheet``), one row per unit.
    """
    stats = [s for s in rollup.forms.values() if s.has_sentences]
    tables = [s for s in rollup.forms.values() if not s.has_sentences]
    with atomic_path(path) as tmp, _collector_paused():
        book = _Book(tmp)
        book.wb.set_properties({"title": rollup_name(rollup).removesuffix(".xlsx"), "author": rollup.campaign.bureau})
        for spec in stats:
            _summary_sheet(book, rollup, spec)
        for spec in stats:
            (_detail_by_item if _fits_by_item(rollup, spec) else _detail_sheet)(book, rollup, spec)
        for spec in tables:
            _liaison_sheet(book, rollup, spec)
        _status_sheet(book, rollup)
        _issues_sheet(book, rollup)
        _read_map_sheet(book, rollup)
        for spec in stats:
            _cases_sheet(book, rollup, spec)
        write_materials_sheet(book, rollup, path.parent)
        write_compare_sheet(book, rollup)
        _confirm_sheet(book, rollup)
        book.fit_rows()
        book.wb.close()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector off while many short-lived objects without cycles are built.

    xlsxwriter keeps one small object per cell until it closes the file, and none of them forms a
    cycle; the collector walking them again and again was a quarter of the workbook's time at
    10,000 returns (2 s of 8.6). Turned back on as it was when the block ends; the few thousand
    objects in cycles that a workbook leaves (its formats and sheets) go at the next collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this child when the run that forked it is killed (kill -9 included), where it can.

    Linux's prctl(PR_SET_PDEATHSIG) is looked up, not assumed: elsewhere the check on the
    parent's pid below is all there is.
    """
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (AttributeError, OSError, TypeError):  # no prctl in this C library (or no C library to load)
        prctl = None
    if prctl is not None and hasattr(signal, "SIGKILL"):
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _workbook_in_child(path: Path, rollup: Rollup, parent: int) -> None:
    _die_with_parent(parent)
    try:
        write_workbook(path, rollup)
    except Exception as exc:  # logged here; the parent writes it again in-process, where the error surfaces whole
        from pipeline.faults import is_disk_full, log_error

        if is_disk_full(exc):
            sys.exit(1)  # not a program error: the parent meets the full disk too and ends the run
        log_error(f"写汇总表“{path.name}”的子进程出错", exc)
        sys.exit(1)
    except BaseException:
        sys.exit(1)


@contextlib.contextmanager
def workbook_alongside(path: Path, rollup: Rollup, parallel: bool = True) -> Iterator[Path]:
    """Write the rollup workbook in a forked process while the body writes the other outputs.

    The workbook is the slowest output (xlsxwriter is pure Python, a million cells at province
    scale), so on a machine with more than one core it overlaps with the CSVs and feedback.
    Without fork (Windows: a spawned child would first have to receive the whole rollup
    pickled, which costs about what it saves), on one core, or when the child fails, it is
    written here instead, so that a real error surfaces with its own traceback. Either way
    it is complete when the block ends.
    """
    forkable = parallel and can_fork() and (os.cpu_count() or 1) > 1
    child = multiprocessing.get_context("fork").Process(target=_workbook_in_child, args=(path, rollup, os.getpid())) \
        if forkable else None
    if child is not None:
        child.start()
    try:
        yield path
    finally:
        if child is not None:
            child.join()
    if child is None or child.exitcode != 0:
        write_workbook(path, rollup)


CSV_NAMES = ("records.csv", "issues.csv", "status.csv", "materials.csv", "files.csv", CONFIRM_NAME)


def write_tables(outbox: Path, rollup: Rollup) -> None:
    """The CSV twins of the workbook: records, issues, status, materials, files and 核对 (values read from scans).

    Their rows (a tuple per value: 760,000 at 10,000 returns) hold no cycles: the collector is paused
    while they are built and written (it took 1.3 s of 3.2 there).
    """
    with _collector_paused():
        tables: list[tuple[Sequence[Any], Sequence[str]]] = [
            (records(rollup), RECORD_COLUMNS), (issue_rows(rollup), ISSUE_COLUMNS),
            (status_rows(rollup), STATUS_COLUMNS), (material_rows(rollup), MATERIAL_COLUMNS),
            (file_rows(rollup), FILE_COLUMNS), (confirm_rows(rollup.submissions, rollup.confirmed), CONFIRM_COLUMNS)]
        for name, (rows, columns) in zip(CSV_NAMES, tables, strict=True):
            write_csv(outbox / name, rows, columns)
