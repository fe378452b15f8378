"""Test helper: 附件1 as units make it themselves in Excel, in each layout the hand-made reader knows.

Built with openpyxl from the spec's own labels and sentences (never from the template), so that no
defined names or ``_meta`` sheet exist. Kept free of pytest so that Hypothesis tests can call it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import openpyxl

from pipeline.forms.spec import FormSpec

_PLACEHOLDER = re.compile(r"（\{([a-z0-9_]+)\}）")


def header_values(unit_name: str) -> dict[str, Any]:
    """The 附件1 header as a unit types it."""
    return {"unit_name": unit_name, "contact": "李明", "phone": "0311-6627527", "report_date": "2023-06-28"}


def _save(path: Path, fill: Callable[[Any], None], title: str = "Sheet1") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    fill(ws)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    wb.close()
    return path


def label_sheet(path: Path, spec: FormSpec, values: Mapping[str, Any], header: Mapping[str, Any], *,
                rename: Mapping[str, str] | None = None, colon_header: bool = True,
                omit: frozenset[str] = frozenset()) -> Path:
    """Label in column A, value in column B (header as “标签：值” in one cell when ``colon_header``).

    ``rename`` replaces some labels (field id -> the unit's wording); fields in ``omit`` get no row.
    """
    names = dict(rename or {})

    def fill(ws: Any) -> None:
        ws.append([f"{spec.title}（自制）"])
        for f in spec.header:
            if colon_header:
                ws.append([f"{f.label}：{header.get(f.id, '')}"])
            else:
                ws.append([f.label, header.get(f.id)])
        for f in spec.body_fields:
            if f.id not in omit:
                ws.append([names.get(f.id, f.label), values.get(f.id)])

    return _save(path, fill)


def _typed(value: Any) -> str:
    return "" if value is None else str(value)


def sentence_sheet(path: Path, spec: FormSpec, values: Mapping[str, Any], header: Mapping[str, Any]) -> Path:
    """The notice's 3-column table retyped: 活动项目 | 内容要求 | 进展情况, numbers inside （）."""
    def fill(ws: Any) -> None:
        ws.append([spec.annex])
        ws.append([spec.title])
        ws.append(["  ".join(f"{f.label}：{header.get(f.id, '')}" for f in spec.header)])
        ws.append(["活动项目", "内容要求", "进展情况"])
        for s in spec.sections:
            text = _PLACEHOLDER.sub(lambda m: "（" + _typed(values.get(m.group(1))) + "）", s.sentence_original)
            ws.append([s.title, s.requirement, text])

    return _save(path, fill)


def activity_rows(spec: FormSpec) -> list[tuple[str, str | None, str | None]]:
    """(row text, field in the 场次 column, field in the 人次 column) covering every count field.

    An activity with at most one count of each kind is one row named by the activity; the others
    (e.g. 家庭安全文化精品: 个数 and 推广播放次数) get one row per field, named by the field's full label.
    """
    groups: dict[str, list[Any]] = {}
    for f in spec.body_fields:
        if f.kind == "count":
            groups.setdefault(f.label.split("·")[0], []).append(f)
    rows: list[tuple[str, str | None, str | None]] = []
    for activity, fields in groups.items():
        people = [f for f in fields if "人" in f.label.split("·")[-1]]
        others = [f for f in fields if f not in people]
        if len(people) <= 1 and len(others) <= 1:
            rows.append((activity, others[0].id if others else None, people[0].id if people else None))
            continue
        for f in fields:
            rows.append((f.label, None, f.id) if f in people else (f.label, f.id, None))
    return rows


def row_sheet(path: Path, spec: FormSpec, values: Mapping[str, Any], header: Mapping[str, Any], *,
              extra: list[list[Any]] | None = None) -> Path:
    """One row per activity: 序号 | 活动 | 场次（次数） | 参与人次（人数）, plus a 合计 row."""
    def fill(ws: Any) -> None:
        ws.append([f"{spec.title}"])
        ws.append(["填报单位", header.get("unit_name"), "联系人", header.get("contact")])
        ws.append(["电话", header.get("phone"), "填报日期", header.get("report_date")])
        ws.append(["序号", "活动名称", "场次（次数）", "参与人次（人数）"])
        total = [0, 0]
        for n, (activity, first, second) in enumerate(activity_rows(spec), start=1):
            a = values.get(first) if first else None
            b = values.get(second) if second else None
            ws.append([n, activity, a, b])
            total = [total[0] + (a or 0), total[1] + (b or 0)]
        for row in extra or []:
            ws.append(row)
        ws.append(["", "合计", *total])

    return _save(path, fill)
