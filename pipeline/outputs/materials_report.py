"""The supporting material as the outputs show it: 活动总结 per unit, materials.csv and the 材料清单 sheet."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from pipeline.forms.generate import BODY_FONT, check_rc
from pipeline.model import Outcome, Submission
from pipeline.settings.roster import Unit

if TYPE_CHECKING:
    from pipeline.checks.rollup import Rollup, UnitStatus

# Material kinds, in the order the 材料清单 sheet counts them.

from pipeline.intake.materials import KINDS, NOT_SUBMITTED, SHEET, SUBMITTED, SUMMARY

# ----------------------------------------------------------------------------- queries on a rollup


def materials(rollup: Rollup) -> list[Submission]:
    """Every material file, attributed ones in roster order first, then the rest; by file within a unit."""
    order = {u.code: i for i, u in enumerate(rollup.roster)}
    items = [s for s in rollup.submissions if s.outcome == Outcome.MATERIAL]
    return sorted(items, key=lambda s: (order.get(s.unit.code, len(order)) if s.unit else len(order) + 1, s.file))


def summary_units(rollup: Rollup) -> set[str]:
    """Codes of the units that sent an 活动总结 that could be attributed to them."""
    return {s.unit.code for s in rollup.submissions
            if s.outcome == Outcome.MATERIAL and s.material_kind == SUMMARY and s.unit is not None}


def summary_missing(rollup: Rollup) -> list[Unit]:
    """Roster units (in roster order) with no 活动总结 among the material."""
    sent = summary_units(rollup)
    return [u for u in rollup.roster if u.code not in sent]


def summary_form_id(rollup: Rollup) -> str | None:
    """The form the 活动总结 goes with (its spec's ``roles.summary``), if any."""
    return next((f.id for f in rollup.forms.values() if f.roles.summary), None)


def summary_cell(st: UnitStatus, form_id: str | None, sent: set[str]) -> str:
    """The 报送情况 sheet's 活动总结 column: 已报送/未报送 on the summary form's rows, blank elsewhere."""
    if st.form_id != form_id:
        return ""
    return SUBMITTED if st.unit.code in sent else NOT_SUBMITTED


def summary_line(rollup: Rollup) -> str:
    """The Chinese run summary's line on summaries and material."""
    sent = summary_units(rollup)
    units = len(rollup.roster)
    counted = sum(u.code in sent for u in rollup.roster)
    items = materials(rollup)
    by_kind = {k: sum(s.material_kind == k for s in items) for k in KINDS}
    kinds = "、".join(f"{k} {n} 个" for k, n in by_kind.items() if n)
    unassigned = sum(s.unit is None for s in items)
    line = (f"活动总结：应报 {units} 个单位，已报送 {counted}，未报送 {units - counted}；"
            f"收到材料 {len(items)} 个" + (f"（{kinds}）" if kinds else ""))
    if unassigned:
        line += f"，其中 {unassigned} 个未能确定单位（见“{SHEET}”和“校验问题”）"
    return line


def material_rows(rollup: Rollup) -> list[dict[str, Any]]:
    """``materials.csv``: one row per material file."""
    return [{"file": s.file, "unit_code": s.unit.code if s.unit else "", "kind": s.material_kind, "size": s.size,
             "first_seen": s.first_seen} for s in materials(rollup)]


# ----------------------------------------------------------------------------- the 材料清单 sheet


def _inbox_file(sub: Submission) -> str:
    """The file in inbox/ that holds ``sub`` (the outermost container of an archive member or mail attachment)."""
    return sub.container.split("!/", 1)[0] if sub.container else sub.file


def inbox_link(sub: Submission, outbox: Path) -> str | None:
    """A link from the outbox folder to the file, relative (``../inbox/…``), or None.

    None when the target would not resolve to a file inside inbox/ (a symbolic link
    pointing elsewhere, another drive) or when Excel could not hold the link.
    """
    parts = PurePosixPath(_inbox_file(sub)).parts
    if not parts or ".." in parts:
        return None
    target = sub.path.absolute()
    inbox = target.parents[len(parts) - 1]
    try:
        rel = os.path.relpath(target, outbox.absolute())
    except ValueError:  # on another drive
        return None
    resolved = (outbox.absolute() / rel).resolve()
    if not resolved.is_file() or not resolved.is_relative_to(inbox.resolve()):
        return None
    link = Path(rel).as_posix()
    if "#" in link or re.search("%[0-9a-fA-F]{2}", link):
        return None  # Excel would read these as an anchor or an already-escaped URL
    return link


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _rows(rollup: Rollup) -> Iterator[tuple[Submission, str, str]]:
    for sub in materials(rollup):
        yield sub, (sub.unit.code if sub.unit else ""), (sub.unit.name if sub.unit else "（未能确定单位）")


def write_materials_sheet(book: Any, rollup: Rollup, outbox: Path) -> None:
    """材料清单: one row per material file with a link that opens it from inbox/.

    ``book`` is the report's workbook wrapper (``wb``, ``f`` formats, ``table``, ``text`` and ``value``).
    """
    ws = book.wb.add_worksheet(SHEET)
    heads = ("单位编码", "单位名称", "类别", "文件（点击打开）", "大小（KB）", "首次收到时间", "说明")
    book.table(ws, (6, 22, 7, 36, 8, 10, 50), flexible=(1, 3, 6))
    for col, head in enumerate(heads):
        book.text(ws, 0, col, head, "head")
    base = {"font_name": BODY_FONT, "font_size": 10, "valign": "vcenter", "border": 1}
    link_fmt = book.wb.add_format({**base, "font_color": "#0563C1", "underline": 1, "text_wrap": True})
    size_fmt = book.wb.add_format({**base, "num_format": "#,##0.0", "align": "right"})
    limit = getattr(ws, "max_url_length", 255)
    row = 0
    for row, (sub, code, name) in enumerate(_rows(rollup), start=1):
        book.text(ws, row, 0, code)
        book.text(ws, row, 1, name, "cell" if sub.unit else "warn")
        book.text(ws, row, 2, sub.material_kind, "ok" if sub.material_kind == SUMMARY else "cell")
        link = inbox_link(sub, outbox)
        if link is not None and _utf16_len(link) <= limit:
            check_rc(ws.write_url(row, 3, "external:" + link, link_fmt, string=sub.file, tip="打开该文件"), "link")
        else:
            book.text(ws, row, 3, sub.file)
        check_rc(ws.write_number(row, 4, round(sub.size / 1024, 1), size_fmt), "size")
        book.text(ws, row, 5, sub.first_seen)
        book.text(ws, row, 6, sub.note)
    if row == 0:
        book.text(ws, 1, 0, "inbox/ 中暂无活动总结、图片、视频等材料。", "plain")
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(row, 1), len(heads) - 1)
