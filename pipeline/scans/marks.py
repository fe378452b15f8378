"""What the rest of the program knows of scans without reading one: rule names, the part key, the 核对 message.

The checks (:mod:`pipeline.checks.copies`, :mod:`pipeline.checks.confirm`) and the scan source need these
names for every run; importing them from here loads no OCR, image or workbook module.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePosixPath

from pipeline.model import ScanValue

SCANNED = "扫描识别"  # 读取方式 of a return read by OCR
CHECK_RULE = "扫描件识别"
UNSURE_RULE = "扫描件无法确认"
CHECK_TEXT = "扫描件识别，请核对"
MISSING_ON_SCAN = "扫描件缺项"
PART_KEY = "scan_part"  # Submission.meta key: "<folder/base name>|<part number>" for one photo of several
_PART = re.compile(r"^(?P<base>.+?)\s*[（(](?P<number>\d{1,2})[)）]$")


def part_of(file: str) -> tuple[str, int] | None:
    """(folder and base name, part number) of “附件1(2).jpg”, one photo of a form sent as several; None otherwise."""
    path = PurePosixPath(file.replace("!/", "/"))
    match = _PART.match(path.stem)
    if match is None:
        return None
    return str(path.parent / match.group("base")), int(match.group("number"))


def check_message(values: Sequence[ScanValue]) -> str:
    """The 警告 on values read by OCR and not yet confirmed ("" when there are none)."""
    if not values:
        return ""
    listed = "、".join(f"{v.label}“{v.value or '空白'}”" for v in values)
    return (f"{CHECK_TEXT}：该报表是扫描件或照片，以下{len(values)}项由程序识别：{listed}。"
            "请对照汇总表“核对”表中的原图逐项核对，核对无误的在 outbox/核对.csv 的“核对”列填“是”，下次汇总时不再提示。")
