"""Read one returned workbook: identify form, campaign and unit, pull the raw field values,
and compare what came back with the template it was made from.

:func:`read_return` is the one entry point for a file from inbox/: it applies the guards
(:mod:`pipeline.guards`), reads the workbook under a time limit and normalises the values;
it never raises for a bad file, which instead gets an 错误 finding and the outcome
``unsupported``. Files are only ever opened for reading.

Only a bounded grid of each sheet (``max_rows`` x ``max_columns`` of campaign.toml) is held:
cells are streamed from the sheet XML, so a huge declared dimension, cells far outside the
grid or a huge merged range never make the reader allocate for them. An .xlsx is read with
openpyxl's read-only machinery, a legacy .xls with xlrd; both become a :class:`Book`.

Fields are located by, in order: the template's ``_meta`` plus its defined names, defined
names alone (a copied sheet keeps them), then the printed labels. Sheet protection is not
trusted: the returned sheet is compared with the template layout and each difference
becomes a 警告 (or an 错误 when a value cannot be found).
"""

from __future__ import annotations

import functools
import hashlib
import io
import time
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openpyxl
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet._reader import WorkSheetParser

from pipeline.campaign import Campaign, Limits
from pipeline.generate import META_SHEET, template_name
from pipeline.guards import (
    FileTimeout,
    GuardError,
    Package,
    check_package,
    check_size,
    safe_name,
    time_limit,
    timeout_message,
)
from pipeline.layout import Cell, FormLayout, build_layout
from pipeline.normalise import normalise_submission
from pipeline.roster import Roster, normalise_name
from pipeline.sniff import WORKBOOK, XLS, Sniffed
from pipeline.spec import FormSpec
from pipeline.submission import ERROR, UNSUPPORTED, WARNING, RawCell, Submission

if TYPE_CHECKING:
    from pipeline.ledger import StatCache

MAX_EXCEL_COLUMN = 16384
_STATES = {0: "visible", 1: "hidden", 2: "veryHidden"}
_AGAIN = "请用 WPS 或 Excel 打开下发的模板重新填写、保存为 .xlsx 后发送。"
# Parts of a package that mean macros, links out of the file, or foreign objects.
_MACRO_PARTS = ("xl/vbaproject.bin", "xl/macrosheets/", "xl/dialogsheets/")
_OLE_MACRO_STREAMS = ("_vba_project_cur", "macros", "_vba_project")
_LINK_PARTS = "xl/externallinks/"
_CONNECTION_PARTS = ("xl/connections.xml", "xl/querytables/")
_EMBEDDED_PARTS = ("xl/embeddings/", "xl/activex/")
_MAX_LISTED = 3  # edited texts listed one by one before they are summarised


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_submission(path: Path, inbox: Path, stats: StatCache | None = None) -> Submission:
    """The record of one file below ``inbox``: printable name, size, time and sha256; never raises.

    With ``stats``, a file whose stat is unchanged since it was last hashed is not read again.
    A file that vanished or cannot be read keeps size 0 and an empty sha256; the reader
    then reports it.
    """
    try:
        relative = path.relative_to(inbox).as_posix()
    except ValueError:
        relative = path.name
    sub = Submission(file=safe_name(relative), path=path, sha256="", mtime=0.0)
    try:
        started = time.time_ns()
        stat = path.stat()
        sub.mtime, sub.size = stat.st_mtime, stat.st_size
        known = stats.lookup(path, stat) if stats is not None else None
        sub.sha256 = known or file_digest(path)
        if stats is not None and known is None:
            stats.remember(path, stat, sub.sha256, started)
    except OSError:
        pass
    return sub


# ----------------------------------------------------------------------------- the bounded grid


@dataclass
class Grid:
    """The cells of one sheet inside the max_rows x max_columns window, keyed by (row, column)."""

    title: str
    state: str = "visible"
    cells: dict[tuple[int, int], Any] = field(default_factory=dict)
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)  # formula text; ``cells`` holds the cached value
    protected: bool | None = None  # None when the format does not tell (xls)
    outside: str = ""  # the first filled cell found beyond the window, if any

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


def _address(row: int, col: int) -> str:
    letters = get_column_letter(col) if 1 <= col <= MAX_EXCEL_COLUMN else f"第{col}列"
    return f"{letters}{row}"


@functools.lru_cache(maxsize=1 << 12)
def _parse_ref(ref: str, limits: Limits) -> tuple[int, int] | None:
    """``$D$7`` -> (7, 4); None when it is not one cell inside the grid."""
    try:
        letters, row = coordinate_from_string(ref.replace("$", ""))
        col = column_index_from_string(letters)
    except (ValueError, TypeError):
        return None
    if 1 <= row <= limits.max_rows and 1 <= col <= limits.max_columns:
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
                        grid.outside = _address(r, c)
                    continue
                if cell["data_type"] == "f":
                    grid.formulas[(r, c)] = _formula_text(cell["value"])
                if value is not None:
                    grid.cells[(r, c)] = value
        protection = getattr(parser, "protection", None)
        grid.protected = bool(protection is not None and protection.sheet)
    return grid


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
                        grid.outside = _address(r + 1, c + 1)
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
                names.setdefault(name.name, (sheet.name, _address(row_lo + 1, col_lo + 1)))
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


# ----------------------------------------------------------------------------- locating the fields


def _norm_label(text: Any) -> str:
    if text is None:
        return ""
    if isinstance(text, float) and text.is_integer():
        text = int(text)
    return _norm_text(str(text))


@functools.lru_cache(maxsize=1 << 16)
def _norm_text(text: str) -> str:
    # Every return repeats the same labels: normalise each distinct text once per run.
    return normalise_name(text).rstrip(":：")


def _label_positions(grid: Grid) -> dict[str, tuple[int, int]]:
    """Normalised text of every string cell -> its (row, column), first occurrence (row by row) wins."""
    found: dict[str, tuple[int, int]] = {}
    for pos in sorted(grid.cells):
        value = grid.cells[pos]
        if isinstance(value, str):
            found.setdefault(_norm_label(value), pos)
    return found


# Per-layout facts, computed once: layouts are built once per form and read for every file.
# The layout itself is kept in the value so that its id cannot be reused while cached.
_OFFSETS: dict[int, tuple[FormLayout, dict[str, tuple[str, int, int]]]] = {}
_FIXED: dict[int, tuple[FormLayout, list[tuple[tuple[int, int], Cell, str]]]] = {}


def _label_offsets(layout: FormLayout) -> dict[str, tuple[str, int, int]]:
    """For each field: its label text and where the input sits relative to that label."""
    if id(layout) not in _OFFSETS:
        _OFFSETS[id(layout)] = (layout, _compute_label_offsets(layout))
    return _OFFSETS[id(layout)][1]


def _fixed_texts(layout: FormLayout) -> list[tuple[tuple[int, int], Cell, str]]:
    """The fixed texts other than field labels: grid position, layout cell and normalised text."""
    if id(layout) not in _FIXED:
        offsets = _label_offsets(layout)
        field_labels = {(_grid_pos(layout.input_for(fid))[0] - dr, _grid_pos(layout.input_for(fid))[1] - dc)
                        for fid, (_, dr, dc) in offsets.items()}
        fixed = [(_grid_pos(c), c, _norm_label(c.text)) for c in layout.labels if _grid_pos(c) not in field_labels]
        _FIXED[id(layout)] = (layout, fixed)
    return _FIXED[id(layout)][1]


def _compute_label_offsets(layout: FormLayout) -> dict[str, tuple[str, int, int]]:
    by_pos = {(c.row, c.col): c for c in layout.labels}
    offsets: dict[str, tuple[str, int, int]] = {}
    for cell in layout.inputs:
        assert cell.field is not None
        for dr, dc in ((0, -1), (-1, 0)):
            label = by_pos.get((cell.row + dr, cell.col + dc))
            if label and _norm_label(label.text) == _norm_label(cell.field.label):
                offsets[cell.field.id] = (_norm_label(label.text), -dr, -dc)
                break
    return offsets


def identify_form(book: Book, meta: Mapping[str, str], forms: Mapping[str, FormSpec],
                  campaign: Campaign) -> tuple[FormSpec | None, str]:
    """Which form a workbook holds, and how that was decided (meta / names / labels)."""
    if meta.get("form_id") in forms:
        return forms[meta["form_id"]], "meta"
    names = set(book.names)
    best: tuple[float, FormSpec | None] = (0.0, None)
    for spec in forms.values():
        share = len(names & {f.id for f in spec.fields}) / len(spec.fields)
        best = max(best, (share, spec), key=lambda b: b[0])
    if best[1] is not None and best[0] >= 0.5:
        return best[1], "names"
    for grid in book.sheets:
        if grid.title == META_SHEET:
            continue
        labels = _label_positions(grid)
        for spec in forms.values():
            offsets = _label_offsets(build_layout(spec, campaign.year))
            hits = sum(text in labels for text, _, _ in offsets.values())
            if hits >= 0.5 * len(offsets):
                return spec, "labels"
    return None, ""


Located = dict[str, tuple[Grid, int, int]]


def _form_grid(book: Book, spec: FormSpec, by_name: Located) -> Grid | None:
    """The sheet holding the form: where most names point, else the spec's sheet, else the first sheet."""
    if by_name:
        title, _ = Counter(g.title for g, _, _ in by_name.values()).most_common(1)[0]
        return book.sheet(title)
    named = book.sheet(spec.sheet)
    if named is not None:
        return named
    return next((g for g in book.sheets if g.title != META_SHEET), None)


def locate_fields(book: Book, spec: FormSpec, campaign: Campaign) -> tuple[Located, Located, Grid | None]:
    """Each field's cell by defined name, falling back to its printed label.

    Returns all located fields, those located by name, and the sheet holding the form.
    """
    limits = campaign.limits
    by_name: Located = {}
    for f in spec.fields:
        target = book.names.get(f.id)
        if target is None:
            continue
        grid, pos = book.sheet(target[0]), _parse_ref(target[1], limits)
        if grid is not None and pos is not None:
            by_name[f.id] = (grid, *pos)
    form = _form_grid(book, spec, by_name)
    located = dict(by_name)
    missing = [f for f in spec.fields if f.id not in located]
    if missing and form is not None:
        offsets = _label_offsets(build_layout(spec, campaign.year))
        labels = _label_positions(form)
        for f in missing:
            if f.id in offsets and offsets[f.id][0] in labels:
                _, dr, dc = offsets[f.id]
                row, col = labels[offsets[f.id][0]]
                if row + dr <= limits.max_rows and col + dc <= limits.max_columns:
                    located[f.id] = (form, row + dr, col + dc)
    return located, by_name, form


# ----------------------------------------------------------------------------- tampering


def _sheet_list(names: list[str]) -> str:
    return "、".join(f"“{n}”" for n in names)


def _package_findings(sub: Submission, book: Book) -> None:
    """Macros are an 错误; external links, data connections and embedded objects a 警告. None is followed."""
    parts = book.package.names if book.package else ()
    lower = [p.lower() for p in parts]
    macro = any(p.startswith(_MACRO_PARTS) for p in lower) or any(
        s.split("/")[0] in _OLE_MACRO_STREAMS for s in book.streams)
    if macro:
        sub.add(ERROR, "含有宏", "文件含有宏（VBA 代码或宏表）。程序不会运行其中的任何代码，但含宏的文件不予采用。"
                "请在 WPS 或 Excel 中“另存为”“Excel 工作簿(*.xlsx)”（不含宏）后重新发送。")
    links = [p for p in parts if p.lower().startswith(_LINK_PARTS) and p.lower().endswith(".xml")]
    if links:
        sub.add(WARNING, "外部链接", f"文件中有 {len(links)} 个指向其他文件的外部链接，程序不会打开或跟随这些链接，"
                "引用了其他文件的单元格只按保存时的结果读取。请把数字直接填在表中，不要引用其他文件。")
    if any(p.startswith(_CONNECTION_PARTS) for p in lower):
        sub.add(WARNING, "数据连接", "文件中有外部数据连接或查询，程序不会连接或刷新它们。"
                "请删除数据连接，直接在表中填写。")
    embedded = [p.rsplit("/", 1)[-1] for p in parts if p.lower().startswith(_EMBEDDED_PARTS)
                and not p.lower().endswith(".rels")]
    if embedded:
        sub.add(WARNING, "嵌入对象", f"文件中嵌入了其他文件或控件（{'、'.join(embedded[:_MAX_LISTED])}），"
                "程序不会打开它们，其内容不会汇总。照片、总结等材料请作为单独的文件发送。")


def _sheet_findings(sub: Submission, book: Book, spec: FormSpec, form: Grid, limits: Limits) -> None:
    """Renamed, added and hidden sheets, and content beyond the window."""
    if form.title != spec.sheet:
        sub.add(WARNING, "工作表改名", f"填报表格所在的工作表名称是“{form.title}”（模板中为“{spec.sheet}”），"
                "已按单元格名称读取，请核对汇总结果；今后请勿改动工作表名称。")
    extra = [(g.title, g.state) for g in book.sheets if g is not form and g.title != META_SHEET]
    extra += book.other_sheets
    hidden = [t for t, state in extra if state != "visible"]
    shown = [t for t, state in extra if state == "visible"]
    if form.state != "visible":
        sub.add(WARNING, "隐藏工作表", f"填报表格所在的工作表“{form.title}”被隐藏了，已照常读取。"
                "请取消隐藏，今后请勿隐藏工作表。")
    if hidden:
        sub.add(WARNING, "隐藏工作表", f"文件中有隐藏的工作表{_sheet_list(hidden)}，其中的内容不会被读取或汇总。"
                "请删除不需要的工作表，只在“" + spec.sheet + "”表中填写。")
    if shown:
        sub.add(WARNING, "多出工作表", f"文件中多了工作表{_sheet_list(shown)}，其中的内容不会被读取或汇总。"
                "请只在“" + spec.sheet + "”表中填写，不要另加工作表。")
    if form.outside:
        window = f"前 {limits.max_rows} 行、前 {limits.max_columns} 列"
        sub.add(WARNING, "范围外内容", f"工作表“{form.title}”在读取范围（{window}）之外还有内容（如 {form.outside}），"
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


def _layout_findings(sub: Submission, spec: FormSpec, campaign: Campaign, form: Grid, by_name: Located,
                     how: str) -> None:
    """Compare the returned sheet with the template layout: protection, moved cells, edited texts."""
    layout = build_layout(spec, campaign.year, _layout_offset(sub.meta))
    if how == "meta" and form.protected is False:
        sub.add(WARNING, "保护被取消", f"工作表“{form.title}”的保护已被取消。程序已按模板核对各填报项的位置，"
                "请核对汇总结果；今后请勿取消工作表保护或改动表格。")
    moved = [(layout.input_for(fid), row, col) for fid, (grid, row, col) in by_name.items()
             if grid is form and _grid_pos(layout.input_for(fid)) != (row, col)]
    if moved:
        cell, row, col = moved[0]
        assert cell.field is not None
        now = _address(row, col)
        sub.add(WARNING, "行列被改动", f"表格中插入或删除了行/列：“{cell.field.label}”的填写格在模板中是 "
                f"{cell.address}，现在在 {now}（共 {len(moved)} 项位置有变化）。已按单元格名称读取，"
                "请核对汇总结果；今后请勿增删行列。", cell.field.id, cell.field.label, now)
    # Field labels: beside each named input, wherever it moved.
    offsets = _label_offsets(layout)
    edited: list[tuple[str, str, str, str, str]] = []  # field id, field label, address, expected, found
    for fid, (grid, row, col) in by_name.items():
        if grid is not form or fid not in offsets:
            continue
        text, dr, dc = offsets[fid]
        lr, lc = row - dr, col - dc
        if lr < 1 or lc < 1:
            continue
        found = _text_at(form, lr, lc)
        if _norm_label(found) != text:
            f = spec.field(fid)
            edited.append((fid, f.label, _address(lr, lc), f.label, found))
    for fid, label, where, expected, found in edited[:_MAX_LISTED]:
        sub.add(WARNING, "文字被改动", f"“{expected}”这一项的说明文字被改成了“{found or '（空白）'}”。"
                "已按单元格名称读取该项，请核对所填内容是否对应原来的项目；今后请勿修改表中文字。",
                fid, label, where, found)
    if len(edited) > _MAX_LISTED:
        examples = "、".join(e[2] for e in edited[_MAX_LISTED:_MAX_LISTED * 2])
        sub.add(WARNING, "文字被改动", f"另有 {len(edited) - _MAX_LISTED} 项的说明文字被改动（如 {examples}），"
                "请核对；今后请勿修改表中文字。")
    if moved:
        return  # other fixed texts moved with the rows: their positions no longer tell
    cells = form.cells  # an untouched text equals the template's exactly: normalise only the others
    changed = [(c.address, c.text, _text_at(form, *pos)) for pos, c, text in _fixed_texts(layout)
               if cells.get(pos) != c.text and _norm_label(_text_at(form, *pos)) != text]
    if changed:
        where, expected, found = changed[0]
        more = f"（共 {len(changed)} 处）" if len(changed) > 1 else ""
        shown = _short(found) or "（空白）"
        sub.add(WARNING, "文字被改动", f"表中固定文字被改动{more}：{where} 原为“{_short(expected)}”，现为“{shown}”。"
                "不影响读取，但请今后勿修改表格中的文字。", cell=where, value=_short(found))


def _grid_pos(cell: Cell) -> tuple[int, int]:
    """A layout cell's (row, column), 1-based like the grid (layouts count from 0, as xlsxwriter does)."""
    return cell.row + 1, cell.col + 1


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


# ----------------------------------------------------------------------------- identity


def _check_identity(sub: Submission, spec: FormSpec, campaign: Campaign, roster: Roster) -> bool:
    """Campaign, form version and unit; returns whether the template is this campaign's current one."""
    meta = sub.meta
    current = True
    name_raw = sub.raw.get("unit_name")
    typed = str(name_raw.value).strip() if name_raw and name_raw.value is not None else ""
    # The unit is settled below; for the advice on which template to use, a best guess is enough.
    likely = roster.by_code(meta["unit_code"]) if meta.get("unit_code") else roster.by_name(typed)
    if meta:
        if meta.get("campaign_id") and meta["campaign_id"] != campaign.id:
            current = False
            sub.add(ERROR, "其他年度模板", f"该文件是其他年度活动（{meta.get('year') or meta['campaign_id']}）的模板，"
                    f"请改用{campaign.year}年下发的模板“{template_name(spec, likely)}”重新填报。")
        elif meta.get("form_version") and meta["form_version"] != spec.version:
            current = False
            sub.add(ERROR, "模板版本过期", f"该文件使用的是旧版模板（版本 {meta['form_version']}），"
                    f"请改用最新下发的模板“{template_name(spec, likely)}”重新填报。")
    label = spec.field("unit_name").label
    address = name_raw.address if name_raw else ""
    if meta.get("unit_code"):
        sub.unit = roster.by_code(meta["unit_code"])
        if sub.unit is None:
            sub.add(ERROR, "未知单位", f"模板中的单位编码“{meta['unit_code']}”不在单位名录中，"
                    "请核实后使用本单位的模板。")
        elif typed and roster.by_name(typed) not in (None, sub.unit):
            other = roster.by_name(typed)
            assert other is not None
            sub.add(ERROR, "单位不一致", f"这是“{sub.unit.name}”的模板，但{label}填的是“{typed}”（另一个单位）。"
                    f"请使用本单位的模板“{template_name(spec, other)}”重新填写后发送。",
                    "unit_name", label, address, typed)
        elif typed and normalise_name(typed) != normalise_name(sub.unit.name):
            sub.add(WARNING, "单位名称被改动", f"这是“{sub.unit.name}”的模板，但{label}被改成了“{typed}”。"
                    f"已按模板计入“{sub.unit.name}”，如有误请联系局安全股。", "unit_name", label, address, typed)
        return current
    if not typed and _unit_from_folder(sub, roster):
        return current
    if not typed:
        sub.add(ERROR, "未填单位", f"没有填写{label}，无法确定是哪个单位的报表，请填写单位全称后重新发送。",
                "unit_name", label, address)
        return current
    sub.unit = roster.by_name(typed)
    if sub.unit is None:
        close = roster.closest_names(typed)
        hint = f"是否为：{'、'.join(close)}？" if close else ""
        sub.add(ERROR, "未知单位", f"“{typed}”不在单位名录中。{hint}请填写与名录一致的单位全称，"
                "或联系局安全股将本单位加入名录。", "unit_name", label, address, typed)
    return current


def _unit_from_folder(sub: Submission, roster: Roster) -> bool:
    """When the file does not say its unit, take the unit its folder names (``邮件/<date>/U013_…/``,
    the sender's unit as fetch saved it); returns whether that settled the unit."""
    from pipeline.arrival import folder_unit

    sub.unit = folder_unit(sub.file, roster)
    return sub.unit is not None


# ----------------------------------------------------------------------------- reading


def read_book(sub: Submission, book: Book, forms: Mapping[str, FormSpec], campaign: Campaign,
              roster: Roster) -> FormSpec | None:
    """Fill ``sub`` from a loaded book: form, unit, raw cell values and tamper findings."""
    _package_findings(sub, book)
    if book.source == "xls":
        sub.add(WARNING, "旧版格式", "文件是旧版 Excel 97-2003 格式（.xls），已尽量读取，请核对汇总结果；"
                "今后请直接在下发的 .xlsx 模板上填写后发回，不要另存为其他格式。")
    sub.meta = book.meta
    spec, how = identify_form(book, sub.meta, forms, campaign)
    if spec is None:
        sub.add(ERROR, "无法识别表格", "文件中找不到附件1或附件2的填报内容。请使用下发的模板填写，不要改动表格结构。")
        return None
    sub.form_id, sub.located_by = spec.id, how
    located, by_name, form = locate_fields(book, spec, campaign)
    if form is not None:
        sub.sheet = form.title
    if how != "meta" and located:
        basis = "单元格名称" if how == "names" else "表中文字"
        sub.add(WARNING, "无模板标识", f"该文件不是直接在下发的模板上填写的（缺少模板标识），已按{basis}定位各填报项，"
                "请核对汇总结果；今后请直接使用下发的模板。")
    for fid, (grid, row, col) in located.items():
        pos = (row, col)
        sub.raw[fid] = RawCell(grid.value(row, col), _address(row, col), grid.formulas.get(pos))
    for f in spec.fields:
        if f.id not in located:
            sub.add(ERROR, "找不到填报项", f"找不到“{f.label}”的填写位置，表格可能被改动。请使用下发的模板重新填写。",
                    f.id, f.label)
    current = _check_identity(sub, spec, campaign, roster)
    if form is not None:
        _sheet_findings(sub, book, spec, form, campaign.limits)
        if current and how in ("meta", "names"):
            _layout_findings(sub, spec, campaign, form, by_name, how)
    return spec


def read_workbook(sub: Submission, forms: Mapping[str, FormSpec], campaign: Campaign,
                  roster: Roster, sniffed: Sniffed | None = None) -> FormSpec | None:
    """Load ``sub.path`` (xlsx, xlsm or xls) within the guards and fill ``sub``; raises on a broken file."""
    limits = campaign.limits
    if sniffed is not None and sniffed.kind == XLS:
        book = load_xls(sub.path, limits, sniffed.streams)
    else:
        from pipeline.fastread import fast_reader_enabled, load_xlsx_fast

        package = check_package(sub.path, limits)
        fast = load_xlsx_fast(sub.path, package, limits) if sniffed is not None and sniffed.kind == WORKBOOK \
            and fast_reader_enabled() else None
        book = fast or load_xlsx(sub.path, limits)
        book.package = package
    return read_book(sub, book, forms, campaign, roster)


def _unsupported(sub: Submission, rule: str, message: str) -> None:
    """Drop whatever was half read and record why the file cannot be used."""
    sub.form_id, sub.unit, sub.located_by, sub.sheet = None, None, "", ""
    sub.raw, sub.values, sub.meta, sub.findings = {}, {}, {}, []
    sub.add(ERROR, rule, message)
    sub.outcome = UNSUPPORTED


def _cause_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _describe(exc: Exception, sniffed: Sniffed) -> tuple[str, str]:
    """The rule and Chinese message for an exception raised while reading a file."""
    import zipfile
    import zlib

    from defusedxml import DefusedXmlException

    chain = _cause_chain(exc)
    if any(isinstance(e, DefusedXmlException) for e in chain):
        return "不安全内容", ("文件中含有 XML 实体或外部引用等不安全内容，正常的报表不会有这些内容，"
                          "可能是被篡改或恶意构造的文件，已拒绝读取。" + _AGAIN)
    if any(isinstance(e, MemoryError) for e in chain):
        return "内容过多", "文件内容过多，超出了程序能处理的范围，已拒绝读取。" + _AGAIN
    if sniffed.kind == XLS:
        if "encrypt" in str(exc).lower():
            return "有打开密码", "文件设置了打开密码，程序无法读取。请取消密码后重新发送。"
        return "无法读取", (f"文件是旧版 Excel 97-2003（.xls）或 WPS 格式，但无法读取（{type(exc).__name__}）。"
                        "请在 WPS 或 Excel 中打开，另存为“Excel 工作簿(*.xlsx)”后重新发送。")
    if any(isinstance(e, RuntimeError) and "encrypted" in str(e) for e in chain):  # a zip-level password
        return "有打开密码", ("文件中的内容设置了密码，程序无法读取。"
                          "请取消密码，另存为“Excel 工作簿(*.xlsx)”后重新发送。")
    if any(isinstance(e, zipfile.BadZipFile | zlib.error | EOFError) for e in chain):
        return "文件损坏", f"文件已损坏或不完整（{type(exc).__name__}），可能是下载或发送中断。请重新保存后再发送一次。"
    return "无法读取", f"文件无法作为 Excel 工作簿打开（{type(exc).__name__}）。" + _AGAIN


def read_return(sub: Submission, sniffed: Sniffed, forms: Mapping[str, FormSpec], campaign: Campaign,
                roster: Roster) -> FormSpec | None:
    """Guard, read and normalise one returned file into ``sub``; never raises for a bad file.

    A file the reader cannot use gets one 错误 finding saying why and what to do, and the
    outcome ``unsupported``; its bytes in inbox/ are never touched.
    """
    limits = campaign.limits
    sub.kind = sniffed.kind
    if not sniffed.readable:
        _unsupported(sub, sniffed.rule, sniffed.message)
        return None
    if not sub.sha256:
        _unsupported(sub, "无法读取", "文件无法读取（可能没有读取权限或已被移走）。请检查该文件，或请单位重新发送。")
        return None
    try:
        with time_limit(limits.seconds_per_file), warnings.catch_warnings():
            # openpyxl warns about features it drops (e.g. unknown extensions); they do not affect values.
            warnings.simplefilter("ignore")
            check_size(sub.size, limits)
            spec = read_workbook(sub, forms, campaign, roster, sniffed)
            if spec is not None:
                normalise_submission(sub, spec)
            return spec
    except GuardError as exc:
        _unsupported(sub, exc.rule, exc.message)
    except FileTimeout:
        _unsupported(sub, "处理超时", timeout_message(limits.seconds_per_file))
    except RecursionError:
        _unsupported(sub, "内容过多", "文件结构嵌套过深，不像是正常的报表，已拒绝读取。" + _AGAIN)
    except Exception as exc:  # one broken file must never stop the batch
        _unsupported(sub, *_describe(exc, sniffed))
    return None
