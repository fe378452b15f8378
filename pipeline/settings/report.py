"""The optional ``[report]`` and ``[compare]`` tables of ``campaign.toml``, used by ``make report`` and the rollup.

``[report] photos = false`` leaves the photos out of the 活动总结; ``[compare] previous = "…"``
names last year's outbox folder (or its ``records.csv``) for the 同比 figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import CampaignError
from pipeline.settings.toml_text import where

_KEYS = {"report": {"photos"}, "compare": {"previous"}}


@dataclass(frozen=True)
class ReportSettings:
    """How the report upward is made."""

    photos: bool = True
    previous: Path | None = None  # last year's records.csv, for 同比


def report_settings(path: Path, text: str, raw: dict[str, Any]) -> ReportSettings:
    """``[report]`` and ``[compare]`` of a parsed campaign file, checked key by key."""
    for table, allowed in _KEYS.items():
        values = raw.get(table, {})
        if not isinstance(values, dict):
            raise CampaignError(f"活动设置文件 {path} 中 [{table}] 应为一个表。")
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise CampaignError(f"{where(path, text, table, unknown[0])}：未知的键“{unknown[0]}”。"
                                f"[{table}] 中只能有：{'、'.join(sorted(allowed))}。")
    photos = raw.get("report", {}).get("photos", True)
    if not isinstance(photos, bool):
        raise CampaignError(f"{where(path, text, 'report', 'photos')} 应为 true 或 false（不加引号）。")
    previous_raw = raw.get("compare", {}).get("previous")
    previous: Path | None = None
    if previous_raw is not None:
        if not isinstance(previous_raw, str) or not previous_raw.strip():
            raise CampaignError(f"{where(path, text, 'compare', 'previous')} 应为上一年度汇总结果的文件夹或其中的"
                                "records.csv 的路径（用英文双引号括起来）。")
        previous = Path(previous_raw)
        if not previous.is_absolute():
            previous = path.parent / previous
        if previous.is_dir():
            previous = previous / "records.csv"
        if not previous.is_file():
            raise CampaignError(f"{where(path, text, 'compare', 'previous')} 指向的“{previous}”不存在。"
                                "请填写上一年度 outbox 文件夹或其中 records.csv 的路径，不作同比时删去这一行。")
    return ReportSettings(photos, previous)
