"""Load ``campaign.toml``: year, dates, deadlines, the bureau's contact and input limits."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import CampaignError
from pipeline.settings.report import ReportSettings, report_settings
from pipeline.settings.textfile import UndecodableTextError, read_text
from pipeline.settings.toml_text import (
    email_problem,
    explain_toml_error,
    key_line,
    positive_problems,
    where,
    year_problems,
)

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
    forms: Path | None = None  # the form specs' folder named by [campaign] forms, relative to this file
    name: str = "安全生产月"  # [campaign] name: the campaign the notice is about (消防宣传月, 安全生产大检查…)
    report: ReportSettings = field(default_factory=ReportSettings)  # [report] and [compare]: the documents upward and 同比

    @property
    def forms_dir(self) -> Path | None:
        """The campaign's own form specs: [campaign] forms, else a ``forms/`` folder beside this file.

        None when there is neither, so that the program's built-in forms are used.
        """
        if self.forms is not None:
            return self.forms
        beside = self.path.parent / "forms"
        return beside if beside.is_dir() and any(beside.glob("*.toml")) else None

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


_WANT = {str: "文字（用英文双引号括起来）", int: "整数（不加引号）", dt.date: "日期（如 2023-06-30，不加引号）"}
# Deadlines that must fall in this order (plan 五: 联络员表 before the campaign, statistics and 活动总结 at its end).
DEADLINE_ORDER = (("annex2_due", "联络员表"), ("annex1_due", "活动情况统计表及活动总结"))
_LIMIT_NAMES = {"max_file_mb": "单个文件大小上限，单位 MB", "max_unzipped_mb": "解压后大小上限，单位 MB",
                "max_zip_entries": "文件内部件数上限", "max_compression_ratio": "压缩比上限",
                "max_rows": "行数上限", "max_columns": "列数上限", "seconds_per_file": "每个文件的读取时间上限，单位秒"}


def _get(path: Path, table: dict[str, Any], section: str, key: str, kind: type, text: str = "") -> Any:
    value = table.get(section, {}).get(key)
    # bool is an int and a TOML date-time is a date: reject both where the plain type is meant.
    if (not isinstance(value, kind) or (kind is int and isinstance(value, bool))
            or (kind is dt.date and isinstance(value, dt.datetime))):
        if value is None:
            raise CampaignError(f"活动设置文件 {path} 中 [{section}] {key} 缺失或不是{_WANT[kind]}。"
                                f"请在 [{section}] 下补上这一项。")
        shown = f"“{value}”" if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
        raise CampaignError(f"{where(path, text, section, key)} 应为{_WANT[kind]}，现为 {shown}。")
    return value


def _decode(path: Path) -> str:
    """The file's text: UTF-8 as TOML requires, but also as Notepad saves it on Chinese Windows (GBK)."""
    try:
        return read_text(path).text
    except FileNotFoundError:
        raise CampaignError(f"找不到活动设置文件 {path}，请用 --campaign 指定。") from None
    except UndecodableTextError as exc:
        raise CampaignError(f"活动设置文件 {path} 的文字编码无法识别（{exc}）。请用记事本打开，"
                            "“另存为”时编码选择“UTF-8”后再试。") from None


def _check_email(path: Path, text: str, email: str) -> None:
    problem = email_problem(email)
    if problem:
        raise CampaignError(f"{where(path, text, 'contact', 'email')} = “{email}”不是有效的邮箱地址（{problem}）。"
                            "这是每封邮件的发件人和回信地址，请改为形如 yqjt6623055@163.com 的地址。")


def check_contact(campaign: Campaign) -> None:
    """Raise :class:`CampaignError`, naming the key and its line, when the contact address is not a mailbox."""
    if email_problem(campaign.contact_email):
        _check_email(campaign.path, _decode(campaign.path), campaign.contact_email)


def load_campaign(path: Path = DEFAULT_PATH, *, check_email: bool = True) -> Campaign:
    """Read and check campaign.toml, raising :class:`CampaignError` naming the key and its line on any problem.

    With ``check_email=False`` the contact address is left to :func:`check_contact`: ``make rollup`` checks
    it only when the inbox must really be read, since an unchanged re-run sends nothing, and checking an
    address imports email_validator, a tenth of such a run.
    """
    text = _decode(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CampaignError(explain_toml_error(path, text, exc)) from None
    deadlines = raw.get("deadlines", {})
    if not isinstance(deadlines, dict) or not deadlines:
        raise CampaignError(f"活动设置文件 {path} 的 [deadlines] 应列出各表的截止日期，如 annex1_due = 2023-06-30。")
    for key in deadlines:
        _get(path, raw, "deadlines", key, dt.date, text)
    limits_raw = raw.get("limits", {})
    unknown = sorted(set(limits_raw) - set(Limits.__dataclass_fields__))
    if unknown:
        raise CampaignError(f"{where(path, text, 'limits', unknown[0])}：未知的键“{unknown[0]}”。"
                            f"[limits] 中只能有：{'、'.join(Limits.__dataclass_fields__)}。")
    for key in limits_raw:
        _get(path, raw, "limits", key, int, text)
    for key, value in positive_problems(limits_raw):
        default = Limits.__dataclass_fields__[key].default
        raise CampaignError(f"{where(path, text, 'limits', key)}（{_LIMIT_NAMES.get(key, key)}）应为大于 0 的整数，"
                            f"现为 {value}。请改回正数（默认 {default}）。")
    year = _get(path, raw, "campaign", "year", int, text)
    start = _get(path, raw, "campaign", "start", dt.date, text)
    end = _get(path, raw, "campaign", "end", dt.date, text)
    dates = {("campaign", "start"): start, ("campaign", "end"): end,
             **{("deadlines", k): v for k, v in deadlines.items()}}
    year_line = key_line(text, "campaign", "year")
    year_at = f"（第{year_line}行）" if year_line else ""
    for section, key, day in year_problems(year, dates):
        raise CampaignError(f"{where(path, text, section, key)} = {day.isoformat()} 与 [campaign] year = {year}{year_at}"
                            f"的年度不一致。请核对：是 {year} 年的活动，就把各日期都改为 {year} 年；"
                            f"是 {day.year} 年的活动，就把 year 改为 {day.year}。")
    fetch = _fetch_settings(path, raw)
    forms = _forms_folder(path, raw, text)
    if end < start:
        raise CampaignError(f"{where(path, text, 'campaign', 'end')}（活动结束日期 {end.isoformat()}）早于 start"
                            f"（活动开始日期 {start.isoformat()}）。请核对这两个日期。")
    if forms is None:  # the order of the built-in 2023 forms; a campaign made from its notice has its own annexes
        _check_deadline_order(path, text, deadlines, start)
    email = _get(path, raw, "contact", "email", str, text)
    if check_email:
        _check_email(path, text, email)
    return Campaign(
        id=_get(path, raw, "campaign", "id", str, text),
        year=year,
        edition=_get(path, raw, "campaign", "edition", str, text),
        theme=_get(path, raw, "campaign", "theme", str, text),
        start=start,
        end=end,
        county=_get(path, raw, "campaign", "county", str, text),
        bureau=_get(path, raw, "campaign", "bureau", str, text),
        section=_get(path, raw, "campaign", "section", str, text),
        deadlines=dict(deadlines),
        contact_person=_get(path, raw, "contact", "person", str, text),
        contact_phone=str(_get(path, raw, "contact", "phone", str, text)),
        contact_email=email,
        limits=Limits(**limits_raw),
        path=path,
        fetch=fetch,
        forms=forms,
        name=_get(path, raw, "campaign", "name", str, text) if "name" in raw.get("campaign", {}) else "安全生产月",
        report=report_settings(path, text, raw),
    )


def _forms_folder(path: Path, raw: dict[str, Any], text: str) -> Path | None:
    """``[campaign] forms``: the folder of this campaign's form specs (relative to campaign.toml), if named."""
    if "forms" not in raw.get("campaign", {}):
        return None
    name: str = _get(path, raw, "campaign", "forms", str, text)
    folder = path.parent / name
    if not folder.is_dir() or not any(folder.glob("*.toml")):
        raise CampaignError(f"{where(path, text, 'campaign', 'forms')} 指定的表单定义文件夹“{folder}”不存在或其中没有"
                            ".toml 文件。请核对文件夹名，或删去这一行以使用程序自带的表单。")
    return folder


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


def _line(text: str, section: str, key: str) -> str:
    line = key_line(text, section, key)
    return f"，第{line}行" if line else ""


def _check_deadline_order(path: Path, text: str, deadlines: dict[str, dt.date], start: dt.date) -> None:
    """联络员表 is due no later than the statistics, and the statistics not before the campaign starts."""
    (first, first_name), (last, last_name) = DEADLINE_ORDER
    if first in deadlines and last in deadlines and deadlines[first] > deadlines[last]:
        raise CampaignError(f"{where(path, text, 'deadlines', first)}（{first_name}，{deadlines[first].isoformat()}）"
                            f"晚于 {last}（{last_name}，{deadlines[last].isoformat()}{_line(text, 'deadlines', last)}）。按活动方案，联络员表在活动开始前报送"
                            "（如 5月29日），统计表和活动总结在活动结束时报送（如 6月30日），请核对这两个日期。")
    if last in deadlines and deadlines[last] < start:
        raise CampaignError(f"{where(path, text, 'deadlines', last)}（{last_name}，{deadlines[last].isoformat()}）"
                            f"早于活动开始日期 {start.isoformat()}。统计表报的是活动开展情况，截止日期应在活动期间或结束时，"
                            "请核对。")
