"""Year over year (同比): last year's totals from its ``records.csv``, and the 同比 sheet of the rollup workbook.

Fields are matched by their spec id; a field of this year's spec that last year's records do not
have is shown as new (本年新增) rather than as a change from zero.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

from pipeline.checks.rollup import Rollup
from pipeline.errors import CampaignError
from pipeline.forms.spec import FormSpec

SHEET = "同比"
NEW = "本年新增（上年无此项）"


def previous_totals(records: Path, form_id: str) -> dict[str, int]:
    """Last year's totals of one form from its ``records.csv`` (unit_code, unit_name, form, field_id, value)."""
    sums: dict[str, int] = defaultdict(int)
    try:
        with records.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                value = (row.get("value") or "").strip()
                if row.get("form") == form_id and value.isdigit():
                    sums[row.get("field_id") or ""] += int(value)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CampaignError(f"上一年度的汇总结果 {records} 无法读取，请核对活动设置文件中 [compare] previous 的路径，"
                            "或删去这一行不作同比。") from exc
    return dict(sums)


def write_compare_sheet(book: Any, rollup: Rollup) -> None:
    """同比: every count field of the statistics forms, this year against last (when ``[compare]`` is set).

    ``book`` is the report's workbook wrapper (``wb``, ``columns``, ``text``, ``value`` and ``totals``).
    """
    records = rollup.campaign.report.previous
    if records is None:
        return
    specs: list[FormSpec] = [s for s in rollup.forms.values() if s.has_sentences]
    ws = book.wb.add_worksheet(SHEET)
    heads = ("活动项目", "填报项", "单位", f"{rollup.campaign.year}年", "上年", "增减", "同比")
    book.columns(ws, (30, 36, 7, 12, 12, 12, 22))
    for col, head in enumerate(heads):
        book.text(ws, 0, col, head, "head")
    row = 0
    for spec in specs:
        before = previous_totals(records, spec.id)
        now = book.totals(rollup, spec.id)
        for f in spec.body_fields:
            if f.kind != "count":
                continue
            row += 1
            book.text(ws, row, 0, f.section_title)
            book.text(ws, row, 1, f.label)
            book.text(ws, row, 2, f.unit)
            book.value(ws, row, 3, now[f.id])
            if f.id not in before:
                book.text(ws, row, 4, NEW, "warn")
                continue
            book.value(ws, row, 4, before[f.id])
            book.value(ws, row, 5, now[f.id] - before[f.id])
            if before[f.id]:
                book.value(ws, row, 6, (now[f.id] - before[f.id]) / before[f.id], "pct")
            else:
                book.text(ws, row, 6, "上年为0")
    ws.freeze_panes(1, 0)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
