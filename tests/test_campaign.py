"""campaign.toml: the shipped settings, and rejection of missing or mistyped keys."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from pipeline.errors import CampaignError
from pipeline.settings.campaign import Campaign, load_campaign

CAMPAIGN_TOML = Path(__file__).resolve().parents[1] / "campaign.toml"
TEXT = CAMPAIGN_TOML.read_text(encoding="utf-8")


def _mutated(tmp_path: Path, pattern: str, replacement: str) -> Path:
    """A copy of the real campaign.toml with the one line matching ``pattern`` replaced."""
    new, count = re.subn(pattern, replacement, TEXT, count=1, flags=re.MULTILINE)
    assert count == 1, f"{pattern!r} no longer matches campaign.toml"
    path = tmp_path / "campaign.toml"
    path.write_text(new, encoding="utf-8")
    return path


def test_real_campaign_loads(campaign: Campaign) -> None:
    """The shipped campaign.toml is the 2023 campaign, 5-31 to 6-30, with both forms' deadlines."""
    assert campaign.year == 2023
    assert (campaign.start, campaign.end) == (dt.date(2023, 5, 31), dt.date(2023, 6, 30))
    assert campaign.deadlines == {"annex2_due": dt.date(2023, 5, 29), "annex1_due": dt.date(2023, 6, 30)}
    assert campaign.contact_phone == "6627527"


def test_date_window_covers_the_campaign_and_deadlines(campaign: Campaign) -> None:
    """Every date a 填报日期 may reasonably carry (campaign days, deadlines) lies inside the window."""
    low, high = campaign.date_window
    assert low <= campaign.start <= campaign.end <= high
    assert all(low <= d <= high for d in campaign.deadlines.values())


def test_unknown_deadline_key_is_named(campaign: Campaign) -> None:
    """Asking for a deadline campaign.toml does not define names that key."""
    with pytest.raises(CampaignError, match="annex9_due"):
        campaign.deadline("annex9_due")


@pytest.mark.parametrize(
    ("section", "key"),
    [("campaign", "id"), ("campaign", "theme"), ("campaign", "start"), ("contact", "email"), ("contact", "phone")],
)
def test_missing_key_is_named(tmp_path: Path, section: str, key: str) -> None:
    """Deleting one required key gives a CampaignError naming the file, the table and the key."""
    path = _mutated(tmp_path, rf"^{key} = .*\n", "")
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"[{section}] {key}" in message


@pytest.mark.parametrize(
    ("pattern", "replacement", "key"),
    [
        (r"^annex2_due = .*$", 'annex2_due = "2023-05-29"', "annex2_due"),
        (r"^annex1_due = .*$", "annex1_due = 20230630", "annex1_due"),
        (r"^annex1_due = .*$", "annex1_due = 2023-06-30T17:00:00", "annex1_due"),
    ],
    ids=["quoted date", "number", "date-time"],
)
def test_non_date_deadline_is_named(tmp_path: Path, pattern: str, replacement: str, key: str) -> None:
    """A deadline that is not a plain TOML date is rejected naming that deadline's key."""
    path = _mutated(tmp_path, pattern, replacement)
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert str(path) in str(caught.value)
    assert f"[deadlines] {key}" in str(caught.value)


@pytest.mark.parametrize(
    ("pattern", "replacement", "fragment"),
    [
        (r"^year = .*$", 'year = "2023"', "[campaign] year"),
        (r"^year = .*$", "year = true", "[campaign] year"),
        (r"^end = .*$", "end = 2023-05-01", "end"),
        (r"^phone = .*$", "phone = 6627527", "[contact] phone"),
        (r"^max_rows = .*$", "max_row = 2000", "max_row"),
        (r"^max_rows = .*$", 'max_rows = "2000"', "[limits] max_rows"),
    ],
    ids=["year as text", "year as boolean", "end before start", "phone as number", "unknown limit", "limit as text"],
)
def test_mistyped_value_is_named(tmp_path: Path, pattern: str, replacement: str, fragment: str) -> None:
    """Wrongly typed or inconsistent settings are rejected naming the key."""
    path = _mutated(tmp_path, pattern, replacement)
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert fragment in str(caught.value)


def test_missing_deadlines_table_is_rejected(tmp_path: Path) -> None:
    """Without a [deadlines] table the message shows how to write one."""
    path = tmp_path / "campaign.toml"
    path.write_text(re.sub(r"^\[deadlines\]\n(.*\n)*?\n", "", TEXT, count=1, flags=re.MULTILINE), encoding="utf-8")
    assert "annex1_due" not in path.read_text(encoding="utf-8")
    with pytest.raises(CampaignError, match=r"\[deadlines\]"):
        load_campaign(path)


def test_bom_is_accepted(tmp_path: Path, campaign: Campaign) -> None:
    """A campaign.toml saved by Notepad with a byte-order mark loads the same settings."""
    path = tmp_path / "campaign.toml"
    path.write_bytes(b"\xef\xbb\xbf" + CAMPAIGN_TOML.read_bytes())
    loaded = load_campaign(path)
    assert (loaded.id, loaded.deadlines, loaded.limits) == (campaign.id, campaign.deadlines, campaign.limits)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    """A campaign path that does not exist names the path and the --campaign option."""
    path = tmp_path / "nowhere.toml"
    with pytest.raises(CampaignError, match="--campaign") as caught:
        load_campaign(path)
    assert str(path) in str(caught.value)


# ----------------------------------------------------------------------------- mistakes in Chinese, with the line


def _line_of(path: Path, start: str) -> tuple[int, str]:
    """The 1-based number and text of the first line of ``path`` starting with ``start``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines, start=1) if line.startswith(start))
    return number, lines[number - 1]


SYNTAX = {
    "unquoted e-mail": (r"^email = .*$", "email = yqjt6623055@163.com", "email =",
                        "“=”后面的值写法不对。文字须用英文双引号括起来（不能用中文引号“”），如 email = \"name@163.com\"；"
                        "日期写成 2023-06-30（不加引号）；数字只写阿拉伯数字（不加引号）。"),
    "one-digit month": (r"^annex1_due = .*$", "annex1_due = 2023-6-30", "annex1_due =",
                        "一行只能写一项设置，值的后面不能再有别的内容：数字中不能有逗号或空格（写 2000，不写 2,000），"
                        "日期的月、日须写两位（写 2023-06-30，不写 2023-6-30），说明文字须以 # 开头。"),
    "no such day": (r"^annex1_due = .*$", "annex1_due = 2023-06-31", "annex1_due =",
                    "日期不存在或写法不对，应写成“年-月-日”，月、日各两位，如 2023-06-30。"),
    "full-width equals": (r"^person = .*$", "person ＝ \"张家志\"", "person ＝",
                          "设置项名称后面应是英文等号“=”（不能用中文的“＝”），名称中间不能有空格。"),
    "unclosed quote": (r"^theme = .*$", 'theme = "人人讲安全个个会应急', "theme =",
                       "文字缺少结尾的英文双引号，请在文字末尾补上 \"。"),
    "header without bracket": (r"^\[contact\]$", "[contact", "[contact",
                               "表头缺少右方括号，应写成 [contact] 这样（英文方括号）。"),
}


@pytest.mark.parametrize(("pattern", "replacement", "start", "reason"), list(SYNTAX.values()), ids=list(SYNTAX))
def test_toml_syntax_error_shows_line_and_chinese_reason(
    tmp_path: Path, pattern: str, replacement: str, start: str, reason: str
) -> None:
    """A TOML syntax error names the file and line, quotes the line and explains the fix in Chinese."""
    path = _mutated(tmp_path, pattern, replacement)
    number, line = _line_of(path, start)
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert str(caught.value) == f"活动设置文件 {path} 第{number}行格式有误：\n    {number} | {line}\n{reason}"


def test_duplicated_key_is_placed_on_its_second_line(tmp_path: Path) -> None:
    """A key written twice (which tomllib reports only at the end of the document) is shown on its second line."""
    path = tmp_path / "campaign.toml"
    path.write_text(TEXT.replace('person = "张家志"\n', 'person = "张家志"\nperson = "李四"\n'), encoding="utf-8")
    number, line = _line_of(path, 'person = "李四"')
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert str(caught.value) == (f"活动设置文件 {path} 第{number}行格式有误：\n    {number} | {line}\n"
                                 "同一个设置项写了两次，请删去其中一行。")


def test_contact_email_is_checked(tmp_path: Path) -> None:
    """An e-mail without @ (it would become the From of every mail) is refused with its line and an example."""
    path = _mutated(tmp_path, r"^email = .*$", 'email = "yqjt6623055-163.com"')
    number, _ = _line_of(path, "email =")
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert str(caught.value) == (f"活动设置文件 {path} 第{number}行 [contact] email = “yqjt6623055-163.com”不是有效的邮箱地址"
                                 "（缺少“@”）。这是每封邮件的发件人和回信地址，请改为形如 yqjt6623055@163.com 的地址。")


@pytest.mark.parametrize("address", ["yqjt6623055@163", "yqjt 6623055@163.com", "yqjt6623055＠163.com"])
def test_other_bad_contact_emails_are_refused(tmp_path: Path, address: str) -> None:
    """A domain without a dot, a space or a full-width ＠ is not a mailbox either."""
    path = _mutated(tmp_path, r"^email = .*$", f'email = "{address}"')
    with pytest.raises(CampaignError, match=r"\[contact\] email = .*不是有效的邮箱地址"):
        load_campaign(path)


def test_year_must_agree_with_the_dates(tmp_path: Path) -> None:
    """year = 2024 with 2023 dates names the first date, the year's line and both ways to fix it."""
    path = _mutated(tmp_path, r"^year = .*$", "year = 2024")
    start_line, _ = _line_of(path, "start =")
    year_line, _ = _line_of(path, "year =")
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert str(caught.value) == (f"活动设置文件 {path} 第{start_line}行 [campaign] start = 2023-05-31 与 [campaign] year = 2024"
                                 f"（第{year_line}行）的年度不一致。请核对：是 2024 年的活动，就把各日期都改为 2024 年；"
                                 "是 2023 年的活动，就把 year 改为 2023。")


def test_a_deadline_in_another_year_is_named(tmp_path: Path) -> None:
    """A deadline typed with last year's year is caught though start and end are right."""
    path = _mutated(tmp_path, r"^annex2_due = .*$", "annex2_due = 2022-05-29")
    with pytest.raises(CampaignError, match=r"\[deadlines\] annex2_due = 2022-05-29 与 \[campaign\] year = 2023"):
        load_campaign(path)


@pytest.mark.parametrize("value", ["-5", "0"])
def test_limits_must_be_positive(tmp_path: Path, value: str) -> None:
    """max_file_mb = -5 (or 0) would refuse every return: it is an error naming the line and the default."""
    path = _mutated(tmp_path, r"^max_file_mb = .*$", f"max_file_mb = {value}")
    number, _ = _line_of(path, "max_file_mb")
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert str(caught.value) == (f"活动设置文件 {path} 第{number}行 [limits] max_file_mb（单个文件大小上限，单位 MB）"
                                 f"应为大于 0 的整数，现为 {value}。请改回正数（默认 20）。")


def test_liaison_deadline_may_not_follow_the_statistics(tmp_path: Path) -> None:
    """annex2_due (联络员表) after annex1_due (统计表) contradicts the plan's order and names both lines."""
    path = _mutated(tmp_path, r"^annex2_due = .*$", "annex2_due = 2023-07-05")
    first, _ = _line_of(path, "annex2_due")
    second, _ = _line_of(path, "annex1_due")
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert str(caught.value) == (
        f"活动设置文件 {path} 第{first}行 [deadlines] annex2_due（联络员表，2023-07-05）晚于 annex1_due"
        f"（活动情况统计表及活动总结，2023-06-30，第{second}行）。按活动方案，联络员表在活动开始前报送（如 5月29日），"
        "统计表和活动总结在活动结束时报送（如 6月30日），请核对这两个日期。")


def test_statistics_may_not_be_due_before_the_campaign(tmp_path: Path) -> None:
    """annex1_due before the campaign's start is refused (the statistics report on the campaign)."""
    text = TEXT.replace("annex2_due = 2023-05-29", "annex2_due = 2023-05-20").replace(
        "annex1_due = 2023-06-30", "annex1_due = 2023-05-25")
    path = tmp_path / "campaign.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CampaignError, match=r"\[deadlines\] annex1_due（活动情况统计表及活动总结，2023-05-25）早于活动开始日期"):
        load_campaign(path)


def test_end_before_start_names_both_dates(tmp_path: Path) -> None:
    """end earlier than start names the line of end and both dates."""
    path = _mutated(tmp_path, r"^end = .*$", "end = 2023-05-01")
    number, _ = _line_of(path, "end =")
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert str(caught.value) == (f"活动设置文件 {path} 第{number}行 [campaign] end（活动结束日期 2023-05-01）早于 start"
                                 "（活动开始日期 2023-05-31）。请核对这两个日期。")


def test_settings_mistake_through_the_cli_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Through the command line a settings mistake prints 错误：… with the line on stderr and exits 2."""
    from pipeline.cli import main

    path = _mutated(tmp_path, r"^max_file_mb = .*$", "max_file_mb = -5")
    number, _ = _line_of(path, "max_file_mb")

    code = main(["templates", "--campaign", str(path), "--templates", str(tmp_path / "t")])

    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"错误：活动设置文件 {path} 第{number}行 [limits] max_file_mb")
    assert not (tmp_path / "t").exists()
