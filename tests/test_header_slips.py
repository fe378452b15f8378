"""Header slips and odd number spellings never discard the counts (issue #15 items 5 and 8)."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from returns import (
    address,
    clean_values,
    count_ids,
    make_return,
    record_values,
    rollup,
    roster_unit,
    settings,
    spec,
    statuses,
    submission,
)

from pipeline.checks.validate import validate
from pipeline.model import Severity, Submission

CAMPAIGN_DAY = dt.date(settings()[1].year, 6, 28)


def _validated(form_id: str, **overrides: Any) -> Submission:
    sub = submission(form_id, clean_values(form_id, **overrides))
    validate([sub], spec(form_id), settings()[1])
    return sub


def _at(sub: Submission, field_id: str) -> set[tuple[str, str]]:
    return {(f.severity, f.rule) for f in sub.findings if f.cell == address(sub.form_id or "", field_id)}


@pytest.mark.parametrize(
    ("raw", "value"),
    [("三场", 3), ("十二次", 12), ("全年十二次", 12), ("5（含线上2场）", 5), ("5场（其中线上2场）", 5), ("全年12次", 12),
     ("全年共12次", 12)],
)
def test_more_count_spellings_are_read_with_a_warning(raw: str, value: int) -> None:
    """“三场”, “5（含线上2场）” and “全年12次” count as the number meant, with a 警告 at the cell and no 错误."""
    sub = _validated("annex1", s1_reflection_articles=raw)
    assert sub.values["s1_reflection_articles"] == value
    assert _at(sub, "s1_reflection_articles") == {(Severity.WARNING, "已自动更正")}
    assert sub.errors == 0


def test_remark_in_brackets_is_named_in_the_warning() -> None:
    """The bracketed remark that was left out is quoted, so the unit sees what was not counted."""
    sub = _validated("annex1", s1_reflection_articles="5（含线上2场）")
    [finding] = [f for f in sub.findings if f.field_id == "s1_reflection_articles"]
    assert "含线上2场" in finding.message and "5" in finding.message


@pytest.mark.parametrize("raw", ["50~60", "50～60", "1-2", "三到五场", "二十多"])
def test_ranges_and_estimates_stay_errors(raw: str) -> None:
    """A range or an estimate is no count: 错误 不是数字 at its cell."""
    sub = _validated("annex1", s1_reflection_articles=raw)
    assert _at(sub, "s1_reflection_articles") == {(Severity.ERROR, "不是数字")}


@pytest.mark.parametrize(
    "raw",
    ["6月28日", "6月28号", "2023年6月28号", "23.6.28", "23年6月28日", "二〇二三年六月二十八日", "六月二十八日", "2023/6/28",
     "2023.6.28"],
)
def test_loose_dates_are_read_with_a_warning(raw: Any) -> None:
    """Every looser spelling of the 填报日期 is that date (a missing year is the campaign's), with a 警告 at the cell."""
    sub = _validated("annex1", report_date=raw)
    assert sub.values["report_date"] == CAMPAIGN_DAY
    assert _at(sub, "report_date") == {(Severity.WARNING, "已自动更正")}
    assert sub.errors == 0


@pytest.mark.parametrize("raw", ["2023-06-28", "2023年6月28日", dt.date(2023, 6, 28)])
def test_the_template_s_own_date_forms_need_no_warning(raw: Any) -> None:
    """The date forms the template asks for are read without any finding."""
    sub = _validated("annex1", report_date=raw)
    assert sub.values["report_date"] == CAMPAIGN_DAY
    assert sub.findings == []


@pytest.mark.parametrize("raw", ["2023-06-31", "二〇二三年六月三十一日", "6月31日", "下周一"])
def test_impossible_or_unreadable_date_is_only_a_warning(raw: str) -> None:
    """A date that does not exist is a 警告 日期格式不对: the counts still count."""
    sub = _validated("annex1", report_date=raw)
    assert _at(sub, "report_date") == {(Severity.WARNING, "日期格式不对")}
    assert sub.errors == 0


@pytest.mark.parametrize(
    ("raw", "kept"),
    [("0311—6627527", "0311-6627527"), ("0311–6627527", "0311-6627527"),
     ("0311-6627527/13812345678", "0311-6627527/13812345678"), ("0311-6627527、13812345678", "0311-6627527/13812345678"),
     ("138-1234-5678", "13812345678"), ("138—1234—5678", "13812345678")],
)
def test_phones_with_dashes_or_several_numbers_are_kept_with_a_warning(raw: str, kept: str) -> None:
    """Odd dashes and several numbers in 电话 are kept (tidied) with a 警告 at the cell, never an 错误."""
    sub = _validated("annex1", phone=raw)
    assert sub.values["phone"] == kept
    assert _at(sub, "phone") == {(Severity.WARNING, "已自动更正")}
    assert sub.errors == 0


@pytest.mark.parametrize("field_id", ["contact", "phone", "report_date"])
def test_missing_contact_phone_or_date_is_a_warning(field_id: str) -> None:
    """A blank 联系人, 电话 or 填报日期 is a 警告 漏填; the return has no 错误."""
    sub = _validated("annex1", **{field_id: None})
    assert _at(sub, field_id) == {(Severity.WARNING, "漏填")}
    assert sub.errors == 0


def test_email_with_a_full_stop_is_corrected_with_a_warning() -> None:
    """“12345678@qq。com” in 附件2 becomes 12345678@qq.com, with a 警告 at the cell."""
    sub = _validated("annex2", email="12345678@qq。com")
    assert sub.values["email"] == "12345678@qq.com"
    assert _at(sub, "email") == {(Severity.WARNING, "已自动更正")}


@pytest.mark.parametrize("raw", ["王建国@163.com", "wang@163"])
def test_email_with_a_chinese_local_part_is_an_error(raw: str) -> None:
    """An address with a non-ASCII local part, or no domain, is a 错误 邮箱格式不对."""
    assert _at(_validated("annex2", email=raw), "email") == {(Severity.ERROR, "邮箱格式不对")}


def test_return_with_every_header_slip_is_counted(tmp_path: Path) -> None:
    """A real return with a year-less date, a long-dash phone and no 联系人 is counted with its exact numbers."""
    values = clean_values("annex1", contact=None, phone="0311—6627527", report_date="6月28日",
                          s1_reflection_articles="三篇")
    make_return(tmp_path / "inbox", "annex1", "U005", values)
    rollup(tmp_path / "inbox", tmp_path / "out")
    assert statuses(tmp_path / "out")[("U005", "annex1")]["status"] == "有警告"
    got = record_values(tmp_path / "out")
    assert got[("U005", "s1_reflection_articles")] == "3"
    assert all(got[("U005", fid)] == "3" for fid in count_ids())
    assert got[("U005", "report_date")] == CAMPAIGN_DAY.isoformat()


def test_two_form_workbook_completes_a_year_less_date_with_the_campaign_s_year(tmp_path: Path) -> None:
    """Each sheet of a two-form workbook reads “6月28日” as the campaign's 6月28日, as a one-sheet return does."""
    path = make_return(tmp_path / "inbox", "annex1", "U007", clean_values("annex1", report_date="6月28日"),
                       name="book.xlsx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(path)
    copy = wb.copy_worksheet(wb["附件1"])
    copy.title = "附件1（2）"
    copy[address("annex1", "unit_name")] = roster_unit("U008").name
    wb.save(path)
    wb.close()
    result = rollup(tmp_path / "inbox", tmp_path / "out")
    members = [m for s in result.submissions for m in s.members]
    assert sorted(m.file for m in members) == ["book.xlsx#附件1", "book.xlsx#附件1（2）"]
    for member in members:
        assert member.values["report_date"] == CAMPAIGN_DAY, member.file
        assert {(f.severity, f.rule) for f in member.findings if f.field_id == "report_date"} == {
            (Severity.WARNING, "已自动更正")}
