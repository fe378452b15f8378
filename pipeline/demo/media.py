"""The demo's returns that are not our template: the notice's Word form and a sheet a unit made itself.

Both carry exactly the values the demo typed, so the answer key stays what was written.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.forms.spec import FormSpec

_BLANK = re.compile(r"\{([a-z0-9_]+)\}")


def _shown(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def write_word_form(path: Path, spec: FormSpec, unit_name: str, typed: Mapping[str, Any]) -> None:
    """The notice's 附件1 as a unit fills it in Word: the header line, then the 3-column table with the
    notice's own sentences (typos and all) and the numbers typed inside their （）."""
    import docx

    document = docx.Document()
    document.add_paragraph(spec.annex)
    document.add_paragraph(spec.title)
    header = {f.id: (unit_name if f.id == spec.roles.unit else _shown(typed.get(f.id))) for f in spec.header}
    document.add_paragraph("  ".join(f"{f.label}：{header[f.id]}" for f in spec.header))
    table = document.add_table(rows=1, cols=3)
    for cell, heading in zip(table.rows[0].cells, ("活动项目", "内容要求", "进展情况"), strict=True):
        cell.text = heading
    for section in spec.sections:
        sentence = section.sentence_original or section.sentence
        row = table.add_row().cells
        row[0].text, row[1].text = section.title, section.requirement
        row[2].text = _BLANK.sub(lambda m: _shown(typed.get(m.group(1))), sentence)
    document.save(str(path))


def write_own_sheet(path: Path, spec: FormSpec, unit_name: str, typed: Mapping[str, Any]) -> None:
    """A workbook the unit made itself: one row per item, its name in column A and the value in column B."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "安全生产月统计"
    ws.append([f"{unit_name}“安全生产月”活动情况"])
    for f in spec.fields:
        value = unit_name if f.id == spec.roles.unit else typed.get(f.id)
        ws.append([f.label, value])
    wb.save(path)
