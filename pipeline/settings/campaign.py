"""Load ``campaign.toml``: year, dates, deadlines, the bureau's contact and input limits."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import CampaignError

DEFAULT_PATH = Path("campaign.toml")


@dataclass(frozen=True)
class Limits:
    """Resource caps applied to every returned file before and while it is parsed."""

    max_file_mb: int = 20
    max_unzipped_mb: int = 200
    max_zip_entries: int = 2000
    max_compression_ratio: int = 200
    max_rows: int = 2000
    max_columns: int = 60
    seconds_per_file: int = 30


@dataclass(frozen=True)
class FetchSettings:
    """``[fetch]``: which mail ``python -m pipeline fetch`` reads and the caps it applies to untrusted mail."""

    since: dt.date | None = None  # first day of mail to read; None: 30 days before the earliest deadline
    max_message_mb: int = 50  # a larger message is not downloaded
    max_attachments: int = 30  # a message with more attachments (nested messages included) is not saved
    max_run_mb: int = 1000  # download at most this much per run; the rest waits for the next run


@dataclass(frozen=True)
class Campaign:
    """One year's campaign settings."""

    id: str
    year: int
    edition: str
    theme: str
    start: dt.date
    end: dt.date
    county: str
    bureau: str
    section: str
    deadlines: dict[str, dt.date]
    contact_person: str
    contact_phone: str
    contact_email: str
    limits: Limits
    path: Path
    fetch: FetchSettings = FetchSettings()

    def deadline(self, key: str) -> dt.date:
        """The deadline named by a form spec's ``deadline`` key."""
        try:
            return self.deadlines[key]
        except KeyError:
            raise CampaignError(
                f"活动设置文件 {self.path} 的 [deadlines] 中缺少“{key}”（表单定义要求的截止日期）。"
            ) from None

    @property
    def date_window(self) -> tuple[dt.date, dt.date]:
        """Dates a 填报日期 may sensibly take: a month before the start to three months after the end."""
        last = max([self.end, *self.deadlines.values()])
        return self.start - dt.timedelta(days=31), last + dt.timedelta(days=92)

    @property
    def fetch_since(self) -> dt.date:
        """The first day of mail to fetch: ``[fetch] since``, else 30 days before the earliest deadline.

        Not the campaign start: 附件2 is due before the campaign starts.
        """
        return self.fetch.since or min(self.deadlines.values()) - dt.timedelta(days=30)


def _get(path: Path, table: dict[str, Any], section: str, key: str, kind: type) -> Any:
    value = table.get(section, {}).get(key)
    # bool is an int and a TOML date-time is a date: reject both where the plain type is meant.
    if (not isinstance(value, kind) or (kind is int and isinstance(value, bool))
            or (kind is dt.date and isinstance(value, dt.datetime))):
        want = {str: "文字", int: "整数", dt.date: "日期（如 2023-06-30）"}[kind]
        raise CampaignError(f"活动设置文件 {path} 中 [{section}] {key} 缺失或不是{want}。")
    return value


def load_campaign(path: Path = DEFAULT_PATH) -> Campaign:
    """Read and check campaign.toml, raising :class:`CampaignError` naming the key on any problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise CampaignError(f"找不到活动设置文件 {path}，请用 --campaign 指定。") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CampaignError(f"活动设置文件 {path} 不是合法的 TOML：{exc}") from None
    deadlines = raw.get("deadlines", {})
    if not isinstance(deadlines, dict) or not deadlines:
        raise CampaignError(f"活动设置文件 {path} 的 [deadlines] 应列出各表的截止日期，如 annex1_due = 2023-06-30。")
    for key in deadlines:
        _get(path, raw, "deadlines", key, dt.date)
    limits_raw = raw.get("limits", {})
    unknown = sorted(set(limits_raw) - set(Limits.__dataclass_fields__))
    if unknown:
        raise CampaignError(f"活动设置文件 {path} 的 [limits] 中有未知的键“{unknown[0]}”。")
    for key in limits_raw:
        _get(path, raw, "limits", key, int)
    fetch = _fetch_settings(path, raw)
    start = _get(path, raw, "campaign", "start", dt.date)
    end = _get(path, raw, "campaign", "end", dt.date)
    if end < start:
        raise CampaignError(f"活动设置文件 {path} 中 [campaign] end 早于 start。")
    return Campaign(
        id=_get(path, raw, "campaign", "id", str),
        year=_get(path, raw, "campaign", "year", int),
        edition=_get(path, raw, "campaign", "edition", str),
        theme=_get(path, raw, "campaign", "theme", str),
        start=start,
        end=end,
        county=_get(path, raw, "campaign", "county", str),
        bureau=_get(path, raw, "campaign", "bureau", str),
        section=_get(path, raw, "campaign", "section", str),
        deadlines=dict(deadlines),
        contact_person=_get(path, raw, "contact", "person", str),
        contact_phone=str(_get(path, raw, "contact", "phone", str)),
        contact_email=_get(path, raw, "contact", "email", str),
        limits=Limits(**limits_raw),
        path=path,
        fetch=fetch,
    )


def _fetch_settings(path: Path, raw: dict[str, Any]) -> FetchSettings:
    """The optional ``[fetch]`` table, checked key by key."""
    table = raw.get("fetch", {})
    if not isinstance(table, dict):
        raise CampaignError(f"活动设置文件 {path} 中 [fetch] 应为一个表。")
    unknown = sorted(set(table) - set(FetchSettings.__dataclass_fields__))
    if unknown:
        raise CampaignError(f"活动设置文件 {path} 的 [fetch] 中有未知的键“{unknown[0]}”。")
    for key, value in table.items():
        kind: type = dt.date if key == "since" else int
        _get(path, raw, "fetch", key, kind)
        if kind is int and value <= 0:
            raise CampaignError(f"活动设置文件 {path} 中 [fetch] {key} 应为正整数，现为 {value}。")
    return FetchSettings(**table)
