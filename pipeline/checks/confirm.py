"""核对.csv: the clerk's confirmation of values read from scans, carried from one rollup to the next.

The rollup writes ``outbox/核对.csv`` with one row per value read by OCR (the same rows as the
workbook's 核对 sheet). A clerk who has compared a value with its crop writes 是 in its 核对 column;
the next rollup reads the file back before rewriting it, and the return's 警告 “扫描件识别，请核对”
then no longer lists that value (and is dropped when every value is confirmed). A row is tied to
the file's content (its sha256), the item and the value read, so a changed file is checked again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from pipeline.model import Outcome, Severity, Submission
from pipeline.settings.textfile import UndecodableTextError, delimiter, read_text

CONFIRM_NAME = "核对.csv"
CONFIRM_COLUMNS = ["文件", "文件指纹", "单位编码", "单位名称", "填报项", "字段", "识别结果", "可信度", "问题", "核对"]
YES = frozenset({"是", "y", "yes", "1", "√", "✓", "ok", "对", "已核对"})
FINGERPRINT = 16  # leading hex digits of the file's sha256 kept in the CSV

Key = tuple[str, str, str]  # (fingerprint, field id, value read)


def key_of(sub: Submission, field_id: str, value: str) -> Key:
    """The key a confirmation is stored under."""
    return sub.sha256[:FINGERPRINT], field_id, value


def read_confirmed(outbox: Path) -> frozenset[Key]:
    """The values marked 核对=是 in ``outbox/核对.csv`` (none when the file is absent or unreadable)."""
    path = outbox / CONFIRM_NAME
    try:
        text = read_text(path).text
    except (OSError, UndecodableTextError):
        return frozenset()
    found: set[Key] = set()
    for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter(text.lstrip("\ufeff"))):
        mark = (row.get("核对") or "").strip().lower()
        if mark in YES:
            value = (row.get("识别结果") or "").strip().removeprefix("'")
            found.add(((row.get("文件指纹") or "").strip(), (row.get("字段") or "").strip(), value))
    return frozenset(found)


def apply_confirmed(subs: Iterable[Submission], confirmed: frozenset[Key]) -> None:
    """Rewrite each scanned return's 警告 so that it lists only the values not yet confirmed."""
    from pipeline.scans.marks import CHECK_RULE, check_message  # light, but kept off the unchanged-rerun path

    for sub in subs:
        if not sub.scanned:
            continue
        kept = [v for v in sub.scanned if not v.problem and key_of(sub, v.field_id, v.value) not in confirmed]
        old = [f for f in sub.findings if f.rule == CHECK_RULE]
        if not old:
            continue
        sub.findings = [f for f in sub.findings if f.rule != CHECK_RULE]
        message = check_message(kept)
        if message:
            sub.add(Severity.WARNING, CHECK_RULE, message)


def confirm_rows(subs: Iterable[Submission], confirmed: frozenset[Key]) -> list[dict[str, object]]:
    """One row per value read by OCR, for 核对.csv and the 核对 sheet (a stamped copy filed as material has none)."""
    rows: list[dict[str, object]] = []
    for sub in subs:
        if sub.outcome == Outcome.MATERIAL:
            continue
        for v in sub.scanned:
            rows.append({"文件": sub.file, "文件指纹": sub.sha256[:FINGERPRINT],
                         "单位编码": sub.unit.code if sub.unit else "", "单位名称": sub.unit.name if sub.unit else "",
                         "填报项": v.label, "字段": v.field_id, "识别结果": v.value, "可信度": round(v.confidence, 3),
                         "问题": v.problem, "核对": "是" if key_of(sub, v.field_id, v.value) in confirmed else ""})
    return rows
