"""Read one returned workbook: identify form, campaign and unit, and pull the raw field values.

Fields are located by, in order: the template's ``_meta`` plus its defined names,
defined names alone (a copied sheet keeps them), then the printed labels.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils.cell import coordinate_from_string, get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from pipeline.campaign import Campaign
from pipeline.generate import META_SHEET, template_name
from pipeline.layout import FormLayout, build_layout
from pipeline.roster import Roster, normalise_name
from pipeline.spec import FormSpec
from pipeline.submission import ERROR, WARNING, RawCell, Submission


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_meta(wb: Workbook) -> dict[str, str]:
    """Key/value pairs of the hidden ``_meta`` sheet, or {} when there is none."""
    if META_SHEET not in wb.sheetnames:
        return {}
    ws = wb[META_SHEET]
    meta: dict[str, str] = {}
    for row in ws.iter_rows(min_row=1, max_row=40, max_col=2, values_only=True):
        if row and row[0] is not None:
            meta[str(row[0])] = "" if row[1] is None else str(row[1])
    return meta


def _name_targets(wb: Workbook) -> dict[str, tuple[str, str]]:
    """Workbook-scoped defined names that point at one cell: name -> (sheet, A1 address)."""
    targets: dict[str, tuple[str, str]] = {}
    for name, defn in wb.defined_names.items():
        try:
            dests = list(defn.destinations)
        except Exception:  # noqa: BLE001  (a malformed name is simply not usable)
            continue
        if len(dests) == 1:
            sheet, ref = dests[0]
            ref = ref.replace("$", "")
            if ":" not in ref:
                targets[name] = (sheet, ref)
    return targets


def _norm_label(text: Any) -> str:
    return normalise_name(str(text)).rstrip(":：") if text is not None else ""


def _label_positions(ws: Worksheet) -> dict[str, tuple[int, int]]:
    """Normalised text of every string cell -> its (row, column), first occurrence wins."""
    found: dict[str, tuple[int, int]] = {}
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                found.setdefault(_norm_label(cell.value), (cell.row, cell.column))
    return found


def _label_offsets(layout: FormLayout) -> dict[str, tuple[str, int, int]]:
    """For each field: its label text and where the input sits relative to that label."""
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


def identify_form(wb: Workbook, meta: Mapping[str, str], forms: Mapping[str, FormSpec],
                  campaign: Campaign) -> tuple[FormSpec | None, str]:
    """Which form a workbook holds, and how that was decided (meta / names / labels)."""
    if meta.get("form_id") in forms:
        return forms[meta["form_id"]], "meta"
    names = set(_name_targets(wb))
    best: tuple[float, FormSpec | None] = (0.0, None)
    for spec in forms.values():
        share = len(names & {f.id for f in spec.fields}) / len(spec.fields)
        best = max(best, (share, spec), key=lambda b: b[0])
    if best[1] is not None and best[0] >= 0.5:
        return best[1], "names"
    for ws in wb.worksheets:
        if ws.title == META_SHEET:
            continue
        labels = _label_positions(ws)
        for spec in forms.values():
            offsets = _label_offsets(build_layout(spec, campaign.year))
            hits = sum(text in labels for text, _, _ in offsets.values())
            if hits >= 0.5 * len(offsets):
                return spec, "labels"
    return None, ""


def _cell_value(ws: Worksheet, address: str) -> RawCell:
    cell = ws[address]
    value = cell.value
    formula = None
    if cell.data_type == "f" or (isinstance(value, str) and value.startswith("=")):
        formula = str(getattr(value, "text", value))
        value = None
    return RawCell(value, address, formula)


def locate_fields(wb: Workbook, spec: FormSpec, campaign: Campaign, how: str,
                  sub: Submission) -> dict[str, tuple[Worksheet, str]]:
    """Find each field's cell by defined name, falling back to its printed label."""
    located: dict[str, tuple[Worksheet, str]] = {}
    targets = _name_targets(wb)
    for f in spec.fields:
        if f.id in targets and targets[f.id][0] in wb.sheetnames:
            sheet, ref = targets[f.id]
            located[f.id] = (wb[sheet], ref)
    missing = [f for f in spec.fields if f.id not in located]
    if missing:
        offsets = _label_offsets(build_layout(spec, campaign.year))
        form_ws = wb[spec.sheet] if spec.sheet in wb.sheetnames else wb.worksheets[0]
        labels = _label_positions(form_ws)
        for f in missing:
            if f.id in offsets and offsets[f.id][0] in labels:
                _, dr, dc = offsets[f.id]
                row, col = labels[offsets[f.id][0]]
                located[f.id] = (form_ws, f"{get_column_letter(col + dc)}{row + dr}")
    if how != "meta" and located:
        sub.add(WARNING, "无模板标识", "该文件不是直接在下发的模板上填写的（缺少模板标识），已按"
                + ("单元格名称" if how == "names" else "表中文字") + "定位各填报项，请核对汇总结果；今后请直接使用下发的模板。")
    return located


def _check_identity(sub: Submission, spec: FormSpec, campaign: Campaign, roster: Roster) -> None:
    meta = sub.meta
    if meta:
        if meta.get("campaign_id") and meta["campaign_id"] != campaign.id:
            sub.add(ERROR, "其他年度模板", f"该文件是其他年度活动（{meta.get('year') or meta['campaign_id']}）的模板，"
                    f"请改用{campaign.year}年下发的模板“{template_name(spec, sub.unit)}”重新填报。")
        elif meta.get("form_version") and meta["form_version"] != spec.version:
            sub.add(ERROR, "模板版本过期", f"该文件使用的是旧版模板（版本 {meta['form_version']}），"
                    f"请改用最新下发的模板“{template_name(spec, sub.unit)}”重新填报。")
    name_raw = sub.raw.get("unit_name")
    typed = str(name_raw.value).strip() if name_raw and name_raw.value is not None else ""
    if meta.get("unit_code"):
        sub.unit = roster.by_code(meta["unit_code"])
        if sub.unit is None:
            sub.add(ERROR, "未知单位", f"模板中的单位编码“{meta['unit_code']}”不在单位名录中，请核实后使用本单位的模板。")
        return
    if not typed:
        sub.add(ERROR, "未填单位", f"没有填写{spec.field('unit_name').label}，无法确定是哪个单位的报表，请填写单位全称后重新发送。",
                "unit_name", spec.field("unit_name").label, name_raw.address if name_raw else "")
        return
    sub.unit = roster.by_name(typed)
    if sub.unit is None:
        close = roster.closest_names(typed)
        hint = f"是否为：{'、'.join(close)}？" if close else ""
        sub.add(ERROR, "未知单位", f"“{typed}”不在单位名录中。{hint}请填写与名录一致的单位全称，或联系局安全股将本单位加入名录。",
                "unit_name", spec.field("unit_name").label, name_raw.address if name_raw else "", typed)


def read_workbook(sub: Submission, forms: Mapping[str, FormSpec], campaign: Campaign,
                  roster: Roster) -> FormSpec | None:
    """Fill ``sub`` with the form, unit and raw cell values; returns the form spec when known."""
    with warnings.catch_warnings():
        # openpyxl warns about features it drops (e.g. unknown extensions); they do not affect values.
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(sub.path, data_only=False, keep_links=False, keep_vba=False)
    try:
        sub.meta = read_meta(wb)
        spec, how = identify_form(wb, sub.meta, forms, campaign)
        if spec is None:
            sub.add(ERROR, "无法识别表格", "文件中找不到附件1或附件2的填报内容。请使用下发的模板填写，不要改动表格结构。")
            return None
        sub.form_id, sub.located_by = spec.id, how
        located = locate_fields(wb, spec, campaign, how, sub)
        sheet_names = {ws.title for ws, _ in located.values()}
        sub.sheet = spec.sheet if spec.sheet in sheet_names else next(iter(sheet_names), "")
        formulas = False
        for fid, (ws, ref) in located.items():
            sub.raw[fid] = _cell_value(ws, ref)
            formulas = formulas or sub.raw[fid].formula is not None
        if formulas:
            _fill_cached_values(sub, located)
        for f in spec.fields:
            if f.id not in located:
                sub.add(ERROR, "找不到填报项", f"找不到“{f.label}”的填写位置，表格可能被改动。请使用下发的模板重新填写。",
                        f.id, f.label)
        _check_identity(sub, spec, campaign, roster)
        return spec
    finally:
        wb.close()


def _fill_cached_values(sub: Submission, located: Mapping[str, tuple[Worksheet, str]]) -> None:
    """Replace formula cells by the value the spreadsheet last computed, when it saved one."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cached = openpyxl.load_workbook(sub.path, data_only=True, keep_links=False)
    try:
        for fid, raw in sub.raw.items():
            if raw.formula is not None:
                ws, ref = located[fid]
                raw.value = cached[ws.title][ref].value
    finally:
        cached.close()


def split_address(address: str) -> tuple[str, int]:
    """``D7`` -> (``D``, 7)."""
    col, row = coordinate_from_string(address)
    return col, row
