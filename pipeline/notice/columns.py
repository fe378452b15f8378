"""Header lines and column tables as fields: the kind of each from its words (姓名→person, 手机→mobile…).

The header line “填报单位：联系人：电话：填报日期：” gives a form's header fields and its roles; a column
table (a 联络员表: 序号/单位名称/姓名/职务/办公电话/手机/邮箱/备注) gives one field per column. An annex
that is only a title (2023's 附件2) gets the standard liaison form, the built-in ``annex2.toml``.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from pipeline.forms.spec import FORMS_DIR
from pipeline.notice.annexes import HEADER_LABEL
from pipeline.notice.model import Review, Table

# Header word -> (kind, field id), first match wins: 手机 before 电话, 单位 before 名称.
_KINDS: tuple[tuple[str, str, str], ...] = (
    ("填报日期", "date", "report_date"), ("日期", "date", "date"), ("时间", "date", "date"),
    ("手机", "mobile", "mobile"), ("办公电话", "phone", "office_phone"), ("电话", "phone", "phone"),
    ("邮箱", "email", "email"), ("邮件", "email", "email"),
    ("单位", "unit", "unit_name"),
    ("联系人", "person", "contact"), ("填报人", "person", "contact"), ("姓名", "person", "name"),
    ("负责人", "person", "leader"), ("审核人", "person", "reviewer"),
    ("职务", "text", "title"), ("备注", "text", "note"),
)
_LAYOUT = ("序号", "编号")  # columns of the printed layout, not fields
STANDARD_LIAISON = FORMS_DIR / "annex2.toml"


def kind_of(word: str) -> tuple[str, str]:
    """(kind, id) for a header word; (\"text\", \"\") when no word is known."""
    return next(((kind, fid) for w, kind, fid in _KINDS if w in word), ("text", ""))


def _unique(fid: str, taken: set[str], fallback: str) -> str:
    base = fid or fallback
    candidate, n = base, 2
    while candidate in taken:
        candidate = f"{base}_{n}"
        n += 1
    taken.add(candidate)
    return candidate


def header_fields(line: str, annex: int, review: Review) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The header fields and roles of a form from its header line; a 填报单位 field is added when missing."""
    labels = [re.sub(r"\s+", "", label) for label in HEADER_LABEL.findall(line)]
    fields: list[dict[str, Any]] = []
    taken: set[str] = set()
    for n, label in enumerate(labels, start=1):
        kind, fid = kind_of(label)
        fields.append({"id": _unique(fid, taken, f"header{n}"), "label": label, "kind": kind, "required": True})
        if not fid:
            review.add(f"附件{annex}表头“{line}”中的“{label}”不是常见表头项，已作为文字填报项。请核对。")
    if not any(f["kind"] == "unit" for f in fields):
        fields.insert(0, {"id": _unique("unit_name", taken, "unit_name"), "label": "填报单位", "kind": "unit",
                          "required": True})
        review.add(f"附件{annex}没有“填报单位：”表头行（原文：“{line or '无'}”），已加上“填报单位”一项，用于识别报送单位。")
    roles: dict[str, Any] = {"unit": next(f["id"] for f in fields if f["kind"] == "unit")}
    date = next((f["id"] for f in fields if f["kind"] == "date"), "")
    if date:
        roles["report_date"] = date
    roles["contact"] = [f["id"] for f in fields if f["kind"] in ("person", "phone", "mobile")]
    return fields, roles


def is_filled(table: Table) -> bool:
    """Whether a column table's body already holds data (a list of contacts, not a form to fill in)."""
    header = table.rows[0]
    keep = [i for i, h in enumerate(header) if re.sub(r"\s+", "", h) not in _LAYOUT]
    return any(row[i].strip() for row in table.rows[1:] for i in keep if i < len(row))


def column_form(table: Table, annex: int, review: Review) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """(header, sections, roles) of a column table: the 单位 column goes to the header, every other one is a field."""
    header: list[dict[str, Any]] = []
    fields: list[dict[str, Any]] = []
    taken: set[str] = set()
    names = [re.sub(r"\s+", "", c) for c in table.rows[0]]
    has_mobile = any(kind_of(n)[0] == "mobile" for n in names)
    for n, name in enumerate(names, start=1):
        if not name or name in _LAYOUT:
            continue
        kind, fid = kind_of(name)
        if kind == "date" and fid == "date" and "填报" in name:
            fid = "report_date"
        field_id = _unique(fid, taken, f"col{n}")
        required = kind in ("unit", "person", "mobile") or (kind == "phone" and not has_mobile)
        field = {"id": field_id, "label": name, "kind": kind, "unit": "", "required": required}
        if kind == "unit" and not any(h["kind"] == "unit" for h in header):
            header.append({"id": field_id, "label": name, "kind": kind, "required": True})
        else:
            fields.append(field)
        if not fid:
            review.add(f"附件{annex}表格的“{name}”一列不是常见栏目，已作为文字填报项。请核对。")
    if not header:
        header.append({"id": _unique("unit_name", taken, "unit_name"), "label": "单位名称", "kind": "unit",
                       "required": True})
        review.add(f"附件{annex}表格没有“单位名称”一列，已加上“单位名称”一项，用于识别报送单位。")
    sections = [{"id": "rows", "title": "填报内容", "requirement": "", "sentence": "", "fields": fields}]
    return header, sections, {"unit": header[0]["id"]}


def standard_liaison() -> dict[str, Any]:
    """The built-in 联络员表 spec (``pipeline/forms/annex2.toml``) as a table, for an annex that is only a title."""
    with STANDARD_LIAISON.open("rb") as handle:
        return tomllib.load(handle)
