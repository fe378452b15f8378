"""Write locked, printable form workbooks (xlsxwriter) from a :class:`FormLayout`.

Used for the blank templates and, with values and marks, for the feedback workbooks.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from pipeline.forms.layout import Cell, FormLayout, build_layout, text_lines
from pipeline.forms.spec import (
    MAX_COUNT,
    META_SHEET,
    NOTICE_SHEET,
    READ_MAP_SHEET,
    TEXT_LIMITS,
    Field,
    FormSpec,
    template_name,
)
from pipeline.outputs.limits import MAX_COMMENT_CHARS, clip, row_points
from pipeline.portable import pool_context
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster, Unit
from pipeline.store.atomic import atomic_path

SHEET_PASSWORD = "aqscy"  # Published in the README: protection guides, it does not secure.
BODY_FONT = "仿宋"
TITLE_FONT = "宋体"
HEAD_FONT = "黑体"
INPUT_FILL = "#FFF2CC"
MARK_FILL = "#FFC7CE"
NOTICE_WIDTH = 66.0  # the 审核意见 sheet's one column, in width units: a portrait A4 page across in Excel and LibreOffice

_BORDER = {"border": 1}
_STYLES: dict[str, dict[str, Any]] = {
    "annex": {"font_name": HEAD_FONT, "font_size": 14},
    "title": {"font_name": TITLE_FONT, "font_size": 18, "bold": True, "align": "center", "valign": "vcenter"},
    "head_label": {"font_name": BODY_FONT, "font_size": 11, "bold": True, "align": "right", "valign": "vcenter"},
    "col_header": {"font_name": HEAD_FONT, "font_size": 11, "align": "center", "valign": "vcenter",
                   "text_wrap": True, "bg_color": "#D9D9D9", **_BORDER},
    "section": {"font_name": HEAD_FONT, "font_size": 11, "valign": "vcenter", "bg_color": "#F2F2F2", **_BORDER},
    "item_title": {"font_name": BODY_FONT, "font_size": 11, "bold": True, "align": "center",
                   "valign": "vcenter", "text_wrap": True, **_BORDER},
    "requirement": {"font_name": BODY_FONT, "font_size": 9, "valign": "top", "text_wrap": True, **_BORDER},
    "label": {"font_name": BODY_FONT, "font_size": 10.5, "valign": "vcenter", "text_wrap": True, **_BORDER},
    "unit": {"font_name": BODY_FONT, "font_size": 10.5, "align": "center", "valign": "vcenter", **_BORDER},
    "note": {"font_name": BODY_FONT, "font_size": 9, "valign": "top", "text_wrap": True},
    "notice": {"font_name": BODY_FONT, "font_size": 10, "valign": "top", "text_wrap": True,
               "font_color": "#9C0006", "bg_color": "#FFEB9C", **_BORDER},
}
_INPUT_BASE = {"font_name": BODY_FONT, "font_size": 11, "valign": "vcenter", **_BORDER}
_INPUT_BY_KIND: dict[str, dict[str, Any]] = {
    "count": {"num_format": "0", "align": "center"},
    "date": {"num_format": "yyyy-mm-dd", "align": "center"},
    "text": {"num_format": "@", "text_wrap": True, "valign": "top"},
}
_TEXT_FORMAT = {"num_format": "@", "text_wrap": True}


def input_style(kind: str, *, locked: bool, marked: bool) -> dict[str, Any]:
    """Format properties of an input cell: light fill and unlocked, unless prefilled and locked."""
    props = {**_INPUT_BASE, **_INPUT_BY_KIND.get(kind, _TEXT_FORMAT)}
    if marked:
        props.update(bg_color=MARK_FILL, font_color="#9C0006", locked=False)
    elif locked:
        props.update(locked=True)
    else:
        props.update(bg_color=INPUT_FILL, locked=False)
    return props


@dataclass
class FormContent:
    """What goes into one generated form besides its layout."""

    unit: Unit | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    marks: Mapping[str, str] = field(default_factory=dict)  # field id -> message (feedback)
    notice: Sequence[str] = ()  # lines of a feedback workbook's 审核意见 sheet, one row each
    read_map: Sequence[tuple[str, str, str]] = ()  # a hand-made return: (cell, its text, items read) for 读取对应


def generated_at() -> str:
    """The generation date: SOURCE_DATE_EPOCH when set (reproducible builds), else today."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    return when.date().isoformat()


def check_rc(rc: int | None, what: str) -> None:
    # xlsxwriter reports mistakes with negative return codes instead of raising.
    if rc is not None and rc < 0:
        raise RuntimeError(f"xlsxwriter rejected {what} (code {rc})")


def _validation(f: Field, campaign: Campaign) -> dict[str, Any]:
    if f.kind == "count":
        return {"validate": "integer", "criteria": "between", "minimum": 0, "maximum": MAX_COUNT,
                "input_title": "填写整数", "input_message": "请填0至1000000之间的整数；没有开展的填0。",
                "error_title": "只能填整数", "error_message": "此处只能填写0至1000000之间的整数，不要加单位或文字。"}
    if f.kind == "date":
        low, high = campaign.date_window
        return {"validate": "date", "criteria": "between", "minimum": dt.datetime.combine(low, dt.time()),
                "maximum": dt.datetime.combine(high, dt.time()), "input_title": "填写日期",
                "input_message": f"请按 {campaign.year}-06-28 的格式填写日期。",
                "error_title": "日期不对", "error_message": f"请填写{low:%Y年%m月%d日}至{high:%Y年%m月%d日}之间的日期，格式如 {campaign.year}-06-28。"}
    length, prompt = TEXT_LIMITS[f.kind]
    return {"validate": "length", "criteria": "<=", "value": length, "input_title": f.label[:32],
            "input_message": prompt, "error_title": "内容过长", "error_message": f"最多{length}个字符。"}


def _write_cell(ws: Any, cell: Cell, value: Any, fmt: Any) -> None:
    last_row = cell.last_row if cell.last_row is not None else cell.row
    last_col = cell.last_col if cell.last_col is not None else cell.col
    if cell.merged:
        check_rc(ws.merge_range(cell.row, cell.col, last_row, last_col, "", fmt), f"merge at {cell.address}")
    if value is None or value == "":
        check_rc(ws.write_blank(cell.row, cell.col, None, fmt), f"blank at {cell.address}")
    elif isinstance(value, bool):
        check_rc(ws.write_string(cell.row, cell.col, str(value), fmt), f"text at {cell.address}")
    elif isinstance(value, int | float):
        check_rc(ws.write_number(cell.row, cell.col, value, fmt), f"number at {cell.address}")
    elif isinstance(value, dt.date):
        when = value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())
        check_rc(ws.write_datetime(cell.row, cell.col, when, fmt), f"date at {cell.address}")
    else:
        # Unit text is always a string: never a formula, never a link; cut to Excel's cell limit.
        check_rc(ws.write_string(cell.row, cell.col, clip(str(value)), fmt), f"text at {cell.address}")


def _write_meta(wb: Any, spec: FormSpec, campaign: Campaign, unit: Unit | None, offset: int) -> None:
    meta = wb.add_worksheet(META_SHEET)
    rows = [
        ("form_id", spec.id), ("form_version", spec.version), ("campaign_id", campaign.id),
        ("year", str(campaign.year)), ("unit_code", unit.code if unit else ""),
        ("unit_name", unit.name if unit else ""), ("generated_at", generated_at()),
        ("layout_offset", str(offset)),
    ]
    for r, (key, value) in enumerate(rows):
        check_rc(meta.write_string(r, 0, key), "meta key")
        check_rc(meta.write_string(r, 1, value), "meta value")
    meta.protect(SHEET_PASSWORD)
    meta.very_hidden()


def notice_height(line: str, width: float = NOTICE_WIDTH) -> float:
    """Points one notice line needs in the 审核意见 column, with a line to spare (at most Excel's 409)."""
    return row_points(15.0 * (text_lines(line, width) + 1) + 4)


# The print header of a feedback form: where its problems are, without moving a single cell of the form.
FEEDBACK_HEADER = f"&L&9审核反馈表：问题清单见“{NOTICE_SHEET}”工作表，标红单元格附有批注"


def _notice_sheet(wb: Any, notice: Sequence[str], campaign: Campaign) -> None:
    """审核意见: the headline and the numbered problems, one row each, top-aligned, on the workbook's first sheet."""
    ws = wb.add_worksheet(NOTICE_SHEET)
    title = wb.add_format({**_STYLES["title"], "font_size": 14})
    line = wb.add_format({"font_name": BODY_FONT, "font_size": 10.5, "valign": "top", "text_wrap": True,
                          "border": 1})
    head = wb.add_format({**_STYLES["notice"], "font_size": 11})
    ws.set_column(0, 0, NOTICE_WIDTH)
    check_rc(ws.write_string(0, 0, "审核意见", title), "notice title")
    ws.set_row(0, 28)
    for r, text in enumerate(notice, start=1):
        check_rc(ws.write_string(r, 0, clip(text), head if r == 1 else line), "notice line")
        ws.set_row(r, notice_height(text))
    check_rc(ws.write_string(len(notice) + 2, 0, f"{campaign.section}　{campaign.contact_person}　"
                                                  f"{campaign.contact_phone}", wb.add_format(_STYLES["note"])),
             "notice contact")
    ws.set_paper(9)
    ws.set_portrait()
    ws.set_margins(left=0.6, right=0.6, top=0.7, bottom=0.7)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    ws.set_footer("&C第 &P 页，共 &N 页")
    ws.protect(SHEET_PASSWORD, {"select_locked_cells": True, "select_unlocked_cells": True,
                                "format_columns": True, "format_rows": True})


def _read_map_sheet(wb: Any, read_map: Sequence[tuple[str, str, str]]) -> None:
    """读取对应 of a feedback workbook: how the unit's own sheet was read, one label a row, in its own cells."""
    ws = wb.add_worksheet(READ_MAP_SHEET)
    head = wb.add_format(_STYLES["col_header"])
    cell = wb.add_format({**_STYLES["label"], "valign": "top"})
    for col, (text, width) in enumerate((("原表单元格", 12), ("原表中的文字", 40), ("读作填报项", 44))):
        ws.set_column(col, col, width)
        check_rc(ws.write_string(0, col, text, head), "read map head")
    for r, row in enumerate(read_map, start=1):
        for col, value in enumerate(row):
            check_rc(ws.write_string(r, col, clip(value), cell), "read map row")
    ws.repeat_rows(0)
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.protect(SHEET_PASSWORD, {"select_locked_cells": True, "select_unlocked_cells": True})


def write_form(path: Path, spec: FormSpec, campaign: Campaign, content: FormContent) -> Path:
    """Write one form workbook to ``path`` atomically and return the path.

    A feedback workbook (``content.notice``) opens on its 审核意见 sheet; the form sheet after it keeps
    the template's layout cell for cell, so that every address in a notice is the unit's own.
    """
    layout = build_layout(spec, campaign.year)
    with atomic_path(path, durable=False) as tmp:  # a template or feedback form is made again at will
        wb = xlsxwriter.Workbook(str(tmp), {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                            "strings_to_numbers": False})
        created = dt.datetime.fromisoformat(generated_at())
        wb.set_properties({"title": spec.title_for(campaign.year), "author": campaign.bureau,
                           "company": campaign.bureau, "created": created,
                           "comments": f"{campaign.id} {spec.id} {spec.version}"})
        if content.notice:
            _notice_sheet(wb, content.notice, campaign)
        ws = wb.add_worksheet(spec.sheet)
        _render(wb, ws, layout, campaign, content)
        if content.notice:
            ws.set_header(FEEDBACK_HEADER)
        if content.read_map:
            _read_map_sheet(wb, content.read_map)
        _write_meta(wb, spec, campaign, content.unit, 0)
        for cell in layout.inputs:
            assert cell.field is not None
            ref = xl_rowcol_to_cell(cell.row, cell.col, row_abs=True, col_abs=True)
            check_rc(wb.define_name(cell.field.id, f"='{spec.sheet}'!{ref}"), f"name {cell.field.id}")
        wb.close()
    return path


def _render(wb: Any, ws: Any, layout: FormLayout, campaign: Campaign, content: FormContent) -> None:
    formats = {name: wb.add_format(props) for name, props in _STYLES.items()}
    validations: dict[str, tuple[dict[str, Any], list[Cell]]] = {}
    for col, width in enumerate(layout.widths):
        ws.set_column(col, col, width)
    for row, height in layout.heights.items():
        ws.set_row(row, height)
    for cell in layout.cells:
        f = cell.field
        if f is None:
            _write_cell(ws, cell, cell.text, formats[cell.style])
            continue
        prefilled = f.kind == "unit" and content.unit is not None
        marked = f.id in content.marks
        key = f"input:{f.kind}:{prefilled}:{marked}"
        if key not in formats:  # one Format per distinct input style, not one per cell
            formats[key] = wb.add_format(input_style(f.kind, locked=prefilled, marked=marked))
        fmt = formats[key]
        value = content.unit.name if prefilled and content.unit else content.values.get(f.id)
        _write_cell(ws, cell, value, fmt)
        if not prefilled:
            rule = _validation(f, campaign)
            validations.setdefault(repr(sorted(rule.items())), (rule, []))[1].append(cell)
        if marked:
            check_rc(ws.write_comment(cell.row, cell.col, clip(content.marks[f.id], MAX_COMMENT_CHARS),
                                 {"x_scale": 2.2, "y_scale": 1.6, "author": campaign.section}),
                f"comment {f.id}")
    for rule, cells in validations.values():
        # Cells sharing one rule (every count) get one validation over all of them: a smaller file, same checks.
        first = cells[0]
        ranged = {**rule, "multi_range": " ".join(c.address for c in cells)} if len(cells) > 1 else rule
        check_rc(ws.data_validation(first.row, first.col, first.row, first.col, ranged), f"validation at {first.address}")
    _print_setup(ws, layout)
    ws.protect(SHEET_PASSWORD, {"select_locked_cells": True, "select_unlocked_cells": True,
                                "format_columns": True, "format_rows": True})


def _print_setup(ws: Any, layout: FormLayout) -> None:
    ws.set_paper(9)  # A4
    if layout.landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.center_horizontally()
    ws.repeat_rows(*layout.repeat_rows)
    if layout.print_scale:
        ws.set_print_scale(layout.print_scale)
        ws.set_h_pagebreaks(list(layout.page_breaks))
    else:
        ws.fit_to_pages(1, layout.fit_pages_tall)
    ws.print_area(0, 0, layout.last_row, len(layout.widths) - 1)
    ws.set_footer("&C第 &P 页，共 &N 页")
    ws.hide_gridlines(2)


def generate_templates(
    forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster, out_dir: Path
) -> list[Path]:
    """Write every unit's two forms plus one generic copy of each; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(out_dir / template_name(spec, unit), spec.id, unit) for spec in forms.values() for unit in [*roster, None]]
    if len(jobs) < PARALLEL_MIN_TEMPLATES or (os.cpu_count() or 1) < 2:
        return [write_form(path, forms[form_id], campaign, FormContent(unit=unit)) for path, form_id, unit in jobs]
    # The forms and campaign go to each worker once, so its layouts are built once, not per template.
    with ProcessPoolExecutor(mp_context=pool_context(), initializer=_init_worker, initargs=(forms, campaign)) as pool:
        return list(pool.map(_write_template, jobs, chunksize=max(1, len(jobs) // ((os.cpu_count() or 1) * 8))))


PARALLEL_MIN_TEMPLATES = 64  # below this, starting worker processes costs more than it saves
_WORKER: tuple[Mapping[str, FormSpec], Campaign] | None = None


def _init_worker(forms: Mapping[str, FormSpec], campaign: Campaign) -> None:
    global _WORKER  # per-process state, set once by the pool initializer
    _WORKER = (forms, campaign)


def _write_template(job: tuple[Path, str, Unit | None]) -> Path:
    assert _WORKER is not None
    path, form_id, unit = job
    forms, campaign = _WORKER
    return write_form(path, forms[form_id], campaign, FormContent(unit=unit))
