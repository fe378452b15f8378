"""Compare a returned sheet with the template it was made from; each difference is a finding.

Sheet protection is not trusted: the returned sheet is compared with the template layout and
each difference becomes a 警告 (or an 错误 when a value cannot be found).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pipeline.forms.spec import PROGRAM_SHEETS, FormSpec
from pipeline.model import Severity, Submission
from pipeline.settings.campaign import Campaign, Limits
from pipeline.workbook.book import Book, Grid, cell_address, grid_pos
from pipeline.workbook.locate import Located, fixed_texts, label_offsets, layout_of, norm_label

if TYPE_CHECKING:
    pass

# Parts of a package that mean macros, links out of the file, or foreign objects.
_MACRO_PARTS = ("xl/vbaproject.bin", "xl/macrosheets/", "xl/dialogsheets/")
_OLE_MACRO_STREAMS = ("_vba_project_cur", "macros", "_vba_project")
_LINK_PARTS = "xl/externallinks/"
_CONNECTION_PARTS = ("xl/connections.xml", "xl/querytables/")
_EMBEDDED_PARTS = ("xl/embeddings/", "xl/activex/")
_MAX_LISTED = 3  # edited texts listed one by one before they are summarised


def _sheet_list(names: list[str]) -> str:
    return "、".join(f"“{n}”" for n in names)


def package_findings(sub: Submission, book: Book) -> None:
    """Macros, external links, data connections and embedded objects are each a 警告: none is run or followed,
    only the values saved in the cells are read."""
    parts = book.package.names if book.package else ()
    lower = [p.lower() for p in parts]
    macro = any(p.startswith(_MACRO_PARTS) for p in lower) or any(
        s.split("/")[0] in _OLE_MACRO_STREAMS for s in book.streams)
    if macro:
        sub.add(Severity.WARNING, "含有宏", "文件含有宏（VBA 代码或宏表）。程序只读取表中保存的数值，不运行也不保留其中的"
                "任何代码，宏计算出而未保存在表中的内容不会被读取，请核对汇总结果。今后请在 WPS 或 Excel 中“另存为”"
                "“Excel 工作簿(*.xlsx)”（不含宏）后发送。")
    links = [p for p in parts if p.lower().startswith(_LINK_PARTS) and p.lower().endswith(".xml")]
    if links:
        sub.add(Severity.WARNING, "外部链接", f"文件中有 {len(links)} 个指向其他文件的外部链接，程序不会打开或跟随这些链接，"
                "引用了其他文件的单元格只按保存时的结果读取。请把数字直接填在表中，不要引用其他文件。")
    if any(p.startswith(_CONNECTION_PARTS) for p in lower):
        sub.add(Severity.WARNING, "数据连接", "文件中有外部数据连接或查询，程序不会连接或刷新它们。"
                "请删除数据连接，直接在表中填写。")
    embedded = [p.rsplit("/", 1)[-1] for p in parts if p.lower().startswith(_EMBEDDED_PARTS)
                and not p.lower().endswith(".rels")]
    if embedded:
        sub.add(Severity.WARNING, "嵌入对象", f"文件中嵌入了其他文件或控件（{'、'.join(embedded[:_MAX_LISTED])}），"
                "程序不会打开它们，其内容不会汇总。照片、总结等材料请作为单独的文件发送。")


def sheet_findings(sub: Submission, book: Book, spec: FormSpec, form: Grid, limits: Limits) -> None:
    """Renamed, added and hidden sheets, and content beyond the window."""
    if form.title != spec.sheet:
        sub.add(Severity.WARNING, "工作表改名", f"填报表格所在的工作表名称是“{form.title}”（模板中为“{spec.sheet}”），"
                "已按单元格名称读取，请核对汇总结果；今后请勿改动工作表名称。")
    extra = [(g.title, g.state) for g in book.sheets if g is not form and g.title not in PROGRAM_SHEETS]
    extra += book.other_sheets
    hidden = [t for t, state in extra if state != "visible"]
    shown = [t for t, state in extra if state == "visible"]
    if form.state != "visible":
        sub.add(Severity.WARNING, "隐藏工作表", f"填报表格所在的工作表“{form.title}”被隐藏了，已照常读取。"
                "请取消隐藏，今后请勿隐藏工作表。")
    if hidden:
        sub.add(Severity.WARNING, "隐藏工作表", f"文件中有隐藏的工作表{_sheet_list(hidden)}，其中的内容不会被读取或汇总。"
                "请删除不需要的工作表，只在“" + spec.sheet + "”表中填写。")
    if shown:
        sub.add(Severity.WARNING, "多出工作表", f"文件中多了工作表{_sheet_list(shown)}，其中的内容不会被读取或汇总。"
                "请只在“" + spec.sheet + "”表中填写，不要另加工作表。")
    if form.outside:
        window = f"前 {limits.max_rows} 行、前 {limits.max_columns} 列"
        sub.add(Severity.WARNING, "范围外内容", f"工作表“{form.title}”在读取范围（{window}）之外还有内容（如 {form.outside}），"
                "已忽略。请删除表格范围外的多余内容。", cell=form.outside)


def _layout_offset(meta: Mapping[str, str]) -> int:
    try:
        offset = int(meta.get("layout_offset", "0") or 0)
    except ValueError:
        return 0
    return offset if 0 <= offset <= 50 else 0


def _text_at(grid: Grid, row: int, col: int) -> str:
    value = grid.value(row, col)
    return "" if value is None else str(int(value) if isinstance(value, float) and value.is_integer() else value)


def layout_findings(sub: Submission, spec: FormSpec, campaign: Campaign, form: Grid, by_name: Located,
                     how: str) -> None:
    """Compare the returned sheet with the template layout: protection, moved cells, edited texts."""
    layout = layout_of(spec, campaign.year, _layout_offset(sub.meta))
    if how == "meta" and form.protected is False:
        sub.add(Severity.WARNING, "保护被取消", f"工作表“{form.title}”的保护已被取消。程序已按模板核对各填报项的位置，"
                "请核对汇总结果；今后请勿取消工作表保护或改动表格。")
    moved = [(layout.input_for(fid), row, col) for fid, (grid, row, col) in by_name.items()
             if grid is form and grid_pos(layout.input_for(fid)) != (row, col)]
    if moved:
        cell, row, col = moved[0]
        assert cell.field is not None
        now = cell_address(row, col)
        sub.add(Severity.WARNING, "行列被改动", f"表格中插入或删除了行/列：“{cell.field.label}”的填写格在模板中是 "
                f"{cell.address}，现在在 {now}（共 {len(moved)} 项位置有变化）。已按单元格名称读取，"
                "请核对汇总结果；今后请勿增删行列。", cell.field.id, cell.field.label, now)
    # Field labels: beside each named input, wherever it moved.
    offsets = label_offsets(layout)
    edited: list[tuple[str, str, str, str, str]] = []  # field id, field label, address, expected, found
    for fid, (grid, row, col) in by_name.items():
        if grid is not form or fid not in offsets:
            continue
        text, dr, dc = offsets[fid]
        lr, lc = row - dr, col - dc
        if lr < 1 or lc < 1:
            continue
        found = _text_at(form, lr, lc)
        if norm_label(found) != text and not _label_further_out(form, lr, lc, dr, dc, text):
            f = spec.field(fid)
            edited.append((fid, f.label, cell_address(lr, lc), f.label, found))
    for fid, label, where, expected, found in edited[:_MAX_LISTED]:
        sub.add(Severity.WARNING, "文字被改动", f"“{expected}”这一项的说明文字被改成了“{found or '（空白）'}”。"
                "已按单元格名称读取该项，请核对所填内容是否对应原来的项目；今后请勿修改表中文字。",
                fid, label, where, found)
    if len(edited) > _MAX_LISTED:
        examples = "、".join(e[2] for e in edited[_MAX_LISTED:_MAX_LISTED * 2])
        sub.add(Severity.WARNING, "文字被改动", f"另有 {len(edited) - _MAX_LISTED} 项的说明文字被改动（如 {examples}），"
                "请核对；今后请勿修改表中文字。")
    if moved:
        return  # other fixed texts moved with the rows: their positions no longer tell
    cells = form.cells  # an untouched text equals the template's exactly: normalise only the others
    changed = [(c.address, c.text, _text_at(form, *pos)) for pos, c, text in fixed_texts(layout)
               if cells.get(pos) != c.text and norm_label(_text_at(form, *pos)) != text]
    if changed:
        where, expected, found = changed[0]
        more = f"（共 {len(changed)} 处）" if len(changed) > 1 else ""
        shown = _short(found) or "（空白）"
        sub.add(Severity.WARNING, "文字被改动", f"表中固定文字被改动{more}：{where} 原为“{_short(expected)}”，现为“{shown}”。"
                "不影响读取，但请今后勿修改表格中的文字。", cell=where, value=_short(found))


_LABEL_REACH = 5  # how many inserted blank columns (or rows) between a label and its input are looked across


def _label_further_out(form: Grid, row: int, col: int, dr: int, dc: int, text: str) -> bool:
    """Whether the label ``text`` stands further from its input along the same line, across blank cells only:
    a column (row) inserted between label and input moves the label away, it does not edit it."""
    step_r, step_c = (0, 1) if dc else (1, 0)
    for k in range(1, _LABEL_REACH + 1):
        r, c = row - k * step_r, col - k * step_c
        if r < 1 or c < 1:
            return False
        if form.value(r, c) is not None:
            return norm_label(_text_at(form, r, c)) == text
    return False


def missing_field_findings(sub: Submission, spec: FormSpec, located: Located, how: str) -> None:
    """Fields whose input cannot be found. When the form was recognised by its template names and most fields were
    found, a deleted row or column cost only those items: each is a 警告 and stays blank. Otherwise the table
    is too changed to trust: an 错误 per field, as before."""
    # A copy located by its labels may leave out an optional field (典型案例) without any finding.
    missing = [f for f in spec.fields if f.id not in located and not (how == "labels" and f.optional)]
    if not missing:
        return
    few = how in ("meta", "names") and len(missing) * 2 <= len(spec.fields)
    for f in missing:
        if few:
            sub.add(Severity.WARNING, "填报项被删除", f"找不到“{f.label}”的填写位置（所在的行或列可能被删除了），该项按空白计，"
                    "其余各项照常汇总。如该项有数，请在下发的模板上补填后重新报送；今后请勿删除行列。", f.id, f.label)
        else:
            sub.add(Severity.ERROR, "找不到填报项", f"找不到“{f.label}”的填写位置，表格可能被改动。请使用下发的模板重新填写。",
                    f.id, f.label)


def merge_findings(sub: Submission, spec: FormSpec, form: Grid, located: Located, limits: Limits) -> None:
    """A 警告 for each input cell that a merged range covers without starting at it: the unit no longer sees it,
    and the value it held is either hidden (still in the file, read as it is) or lost (Excel empties it)."""
    if not form.merged:
        return
    covered = _covered(form.merged, limits.max_rows, limits.max_columns)
    if not covered:
        return
    for fid, (grid, row, col) in located.items():
        if grid is not form or (row, col) not in covered:
            continue
        top = covered[(row, col)]
        f = spec.field(fid)
        value = form.value(row, col)
        where, start = cell_address(row, col), cell_address(*top)
        kept = (f"文件中该格仍保存着“{_short(_text_at(form, row, col))}”，已按此读取" if value is not None
                else "该格原有的内容已丢失，该项按空白计")
        sub.add(Severity.WARNING, "合并单元格", f"“{f.label}”的填写格 {where} 被并入了从 {start} 开始的合并单元格，"
                f"在表中已看不到；{kept}。请取消合并，核对 {where} 的数字后重新报送。", fid, f.label, where,
                "" if value is None else _text_at(form, row, col))


@functools.lru_cache(maxsize=64)
def _covered(merged: tuple[tuple[int, int, int, int], ...], max_rows: int,
             max_columns: int) -> dict[tuple[int, int], tuple[int, int]]:
    """Every cell inside the window that a merged range hides (all but its first cell) -> that first cell.

    Memoised: the returns made from one template share its merged ranges.
    """
    hidden: dict[tuple[int, int], tuple[int, int]] = {}
    for r1, c1, r2, c2 in merged:
        for r in range(r1, min(r2, max_rows) + 1):
            for c in range(c1, min(c2, max_columns) + 1):
                if (r, c) != (r1, c1):
                    hidden.setdefault((r, c), (r1, c1))
    return hidden


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
