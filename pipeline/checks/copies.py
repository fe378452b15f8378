"""Scans and printed copies beside a unit's Excel return, and one form sent as several photos.

- **Several photos of one form** (“附件1(1).jpg”, “附件1(2).jpg”): each is read on its own
  (:mod:`pipeline.intake.sources.scan` marks it as a part); here the parts of one unit and form
  become one return: the first part takes the others' values, the others are filed as its 续页.
  Items found on no part are an 错误 (a scan never turns an unseen item into a blank).
- **An Excel return wins over its scan or print**: when a unit sent the form as an Excel file and
  also as a PDF or photo (“Excel + 盖章PDF”), the copy is filed as material (盖章件), with no
  格式不符 and no request to send again; its numbers are compared with the counted Excel return,
  and a 警告 lists any difference, since the stamped copy is the official one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import PurePosixPath

from pipeline.forms.spec import FormSpec
from pipeline.model import CONTINUED, STAMPED, Outcome, Severity, Submission
from pipeline.scans.marks import MISSING_ON_SCAN as PARTS_RULE
from pipeline.scans.marks import PART_KEY

COPY_KINDS = frozenset({"pdf", "image"})
EXCEL_KINDS = frozenset({"workbook", "macro-workbook", "xls", "et", "xlsb", "ods"})
DIFFERENT_RULE = "盖章件与Excel不一致"


def _part(sub: Submission) -> tuple[str, int] | None:
    key = sub.meta.get(PART_KEY, "")
    base, _, number = key.rpartition("|")
    return (base, int(number)) if base and number.isdigit() else None


def merge_parts(subs: list[Submission], forms: Mapping[str, FormSpec]) -> None:
    """One return per form sent as several photos; every part's items are checked for completeness together."""
    groups: dict[tuple[str, str, str], list[tuple[int, Submission]]] = defaultdict(list)
    for sub in subs:
        part = _part(sub)
        if part is not None and not sub.outcome and sub.form_id is not None:
            groups[(sub.unit.code if sub.unit else "", sub.form_id, part[0])].append((part[1], sub))
    for (_, form_id, _), parts in groups.items():
        parts.sort(key=lambda p: (p[0], p[1].file))
        first = parts[0][1]
        for _, other in parts[1:]:
            for fid, raw in other.raw.items():
                if first.raw.get(fid) is None or first.raw[fid].value is None:
                    first.raw[fid] = raw
                    if fid in other.values:
                        first.values[fid] = other.values[fid]
            known = {v.field_id for v in first.scanned}
            first.scanned += [v for v in other.scanned if v.field_id not in known]
            other.scanned = []
            first.findings += [f for f in other.findings if f.rule not in (PARTS_RULE,)]
            other.outcome, other.material_kind, other.form_id = Outcome.MATERIAL, CONTINUED, None
            other.note = f"与“{PurePosixPath(first.file).name}”是同一份报表的不同页，已合并读取"
            other.findings = []
        spec = forms[form_id]
        missing = [f for f in spec.fields if f.kind == "count" and first.raw.get(f.id) is None]
        if missing:
            names = "、".join(PurePosixPath(s.file).name for _, s in parts)
            first.add(Severity.ERROR, PARTS_RULE, f"扫描件或照片（{names}）中找不到以下{len(missing)}项："
                      f"{'、'.join(f.label for f in missing)}（可能没有拍全、被遮挡或无法辨认）。本次报送退回，"
                      "请补发缺少的页，或直接发送填好的 Excel 报表文件（.xlsx）。")


def file_copies(subs: list[Submission]) -> dict[int, Submission]:
    """Scans and PDFs of a form whose unit also sent it as Excel become 盖章件; returns id(copy) -> the copy."""
    excel: set[tuple[str, str]] = set()
    for sub in subs:
        if sub.kind in EXCEL_KINDS and sub.unit is not None and sub.form_id is not None and not sub.outcome:
            excel.add((sub.unit.code, sub.form_id))
    copies: dict[int, Submission] = {}
    for sub in subs:
        if sub.kind not in COPY_KINDS or sub.unit is None or sub.outcome not in (None, Outcome.UNSUPPORTED):
            continue
        forms = [sub.form_id] if sub.form_id else sorted({f for u, f in excel if u == sub.unit.code})
        form = next((f for f in forms if (sub.unit.code, f) in excel), None)
        if form is None:
            continue
        sub.form_id, sub.mismatch = form, ""
        sub.outcome, sub.material_kind = Outcome.MATERIAL, STAMPED
        sub.findings = [f for f in sub.findings if f.severity == Severity.WARNING and f.rule.startswith("材料")]
        sub.note = "该单位已报送同一报表的 Excel 文件，此件作为盖章件（或打印件）存档，不再重复计数"
        copies[id(sub)] = sub
    return copies


def compare_copies(counted: list[Submission], copies: dict[int, Submission], spec: FormSpec) -> None:
    """A 警告 on each counted Excel return whose stamped copy shows other numbers."""
    by_unit: dict[str, list[Submission]] = defaultdict(list)
    for copy in copies.values():
        if copy.unit is not None and copy.form_id == spec.id:
            by_unit[copy.unit.code].append(copy)
    for sub in counted:
        for copy in by_unit.get(sub.unit.code if sub.unit else "", []):
            if not copy.values:
                copy.note += "；其中的数字未能读取，未与 Excel 核对"
                continue
            diffs = [f"{f.label}：Excel为{sub.values.get(f.id)}，盖章件为{copy.values.get(f.id)}"
                     for f in spec.fields if f.kind == "count" and f.id in copy.values
                     and copy.values.get(f.id) != sub.values.get(f.id)]
            if diffs:
                copy.note += f"；与 Excel 有{len(diffs)}处不同"
                sub.add(Severity.WARNING, DIFFERENT_RULE, f"同时报送的盖章件“{copy.file}”与本 Excel 报表有{len(diffs)}处不同："
                        f"{'；'.join(diffs)}。汇总按 Excel 计入；盖章件是正式文本，请核实后以正确的数字重新报送。")
            else:
                copy.note += "；其中的数字与 Excel 一致"
