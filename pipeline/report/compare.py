"""Year over year (同比): this year's totals against last year's ``records.csv``, matched by field id."""

from __future__ import annotations

import csv
import dataclasses
from collections import defaultdict
from pathlib import Path

from pipeline.errors import ReportError
from pipeline.report.figures import PEOPLE_UNITS, Figures
from pipeline.report.numbers import change


def previous_totals(records: Path, form_id: str) -> dict[str, int]:
    """Last year's totals of one form from its ``records.csv`` (unit_code, unit_name, form, field_id, value)."""
    sums: dict[str, int] = defaultdict(int)
    try:
        with records.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("form") != form_id:
                    continue
                value = (row.get("value") or "").strip()
                if value.isdigit():
                    sums[row.get("field_id") or ""] += int(value)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ReportError(f"上一年度的汇总结果 {records} 无法读取，请核对 [compare] previous 的路径，"
                          "或删去这一行不作同比。") from exc
    return dict(sums)


def with_previous(fig: Figures, records: Path | None) -> Figures:
    """``fig`` with the 同比 of each 活动项目's participation, when last year's records are given."""
    if records is None:
        return fig
    before = previous_totals(records, fig.spec.id)
    sections = []
    for s in fig.sections:
        counts = [f for f in s.section.fields if f.kind == "count"]
        people = [f for f in counts if f.unit in PEOPLE_UNITS] or counts
        known = [f for f in people if f.id in before]
        text = change(sum(s.totals[f.id] for f in known), sum(before[f.id] for f in known)) if known else "—"
        sections.append(dataclasses.replace(s, change="" if text == "—" else text))
    return dataclasses.replace(fig, sections=tuple(sections), compared=True)
