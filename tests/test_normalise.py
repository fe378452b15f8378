"""Normalisation of raw cell values (pipeline.values.normalise): what units type becomes numbers, dates and text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from returns import REPORT_DATE, address, clean_values, make_return, settings, settled_rollup, spec, submission

from pipeline.checks.validate import validate
from pipeline.intake.batch import read_file
from pipeline.model import Severity
from pipeline.values.normalise import normalise_count, normalise_date, normalise_text


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (3, 3),
        (3.0, 3),
        ("3", 3),
        ("１２", 12),
        ("+7", 7),
        ("12.0", 12),
        (0, 0),
    ],
)
def test_plain_numbers_need_no_correction(raw: Any, value: int) -> None:
    """Whole numbers, also as text or in full-width digits, become ints without a correction note."""
    assert normalise_count(raw) == (value, "")
    assert type(normalise_count(raw)[0]) is int


@pytest.mark.parametrize(
    ("raw", "value", "note"),
    [
        ("12次", 12, "已按数字 12 计"),
        ("１２次", 12, "已按数字 12 计"),
        ("约300人", 300, "已按数字 300 计"),
        ("共 40 场", 40, "已按数字 40 计"),
        ("1,234", 1234, "已去掉千位分隔符"),
        ("1，234", 1234, "已去掉千位分隔符"),
        ("十二", 12, "中文数字已按 12 计"),
        ("二十三", 23, "中文数字已按 23 计"),
        ("无", 0, "“无”已按 0 计"),
        ("/", 0, "“/”已按 0 计"),
        ("—", 0, "“—”已按 0 计"),
        ("-", 0, "“-”已按 0 计"),
    ],
)
def test_counts_typed_as_words_are_corrected_with_a_note(raw: str, value: int, note: str) -> None:
    """Units, separators, Chinese numerals and nil words become the number meant, and say so."""
    assert normalise_count(raw) == (value, note)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("3万", 30000), ("2千", 2000), ("1.5万", 15000), ("3万人次", 30000), ("约1.2万人", 12000), ("1万5千", 15000),
     ("0.5万", 5000), ("３万", 30000), ("三万", 30000), ("两千", 2000), ("一万五", 15000)],
)
def test_counts_with_wan_or_qian_are_the_whole_number(raw: str, value: int) -> None:
    """“3万” is 30000 and “1.5万” 15000 (never 3 or 1.5), with a note that quotes what was typed."""
    number, note = normalise_count(raw)
    assert (number, type(number)) == (value, int)
    assert str(value) in note


def test_wan_form_that_is_no_whole_number_is_not_cut() -> None:
    """“1.23456万” is 12345.6, passed on for validation to reject, never silently 12345."""
    assert normalise_count("1.23456万") == (12345.6, "")


@pytest.mark.parametrize(("raw", "value"), [("3万", 30000), ("1.5万", 15000), ("2千", 2000)])
def test_wan_count_is_a_warning_not_an_error(raw: str, value: int) -> None:
    """A return with “3万”/“1.5万”/“2千” in a count cell counts that number, with a 警告 at the cell and no 错误."""
    sub = submission("annex1", clean_values("annex1", s1_center_study_people=raw))
    validate([sub], spec("annex1"), settings()[1])
    assert sub.values["s1_center_study_people"] == value
    assert sub.errors == 0
    assert {(f.severity, f.rule, f.cell) for f in sub.findings} == {
        (Severity.WARNING, "已自动更正", address("annex1", "s1_center_study_people"))}


_COUNTS = st.integers(min_value=0, max_value=10**8)


def _scaled(number: int, scale: int, unit: str) -> str:
    """``number`` written as a multiple of ``scale`` (“1.5万” for 15000), without trailing zeros."""
    text = format((Decimal(number) / scale).normalize(), "f")
    return f"{text}{unit}"


@given(_COUNTS)
def test_every_arabic_spelling_of_a_count_reads_back(number: int) -> None:
    """Any whole number as digits, with thousands separators, full-width, and as 万/千 multiples reads back to itself."""
    spellings = [str(number), f"{number:,}", str(number).translate(str.maketrans("0123456789", "０１２３４５６７８９"))]
    if number:
        spellings += [_scaled(number, 10_000, "万"), _scaled(number, 1_000, "千")]
    if number >= 10_000 and number % 10_000 >= 1000:  # “1万1” is said for 11000, so only a four-digit rest
        spellings.append(f"{number // 10_000}万{number % 10_000}")
    for text in spellings:
        assert normalise_count(text)[0] == number, text


@given(st.integers(min_value=1, max_value=10**8))
def test_every_chinese_numeral_reads_back(number: int) -> None:
    """Any whole number written in Chinese numerals (as cn2an writes it, e.g. 一万五千零三) reads back to itself."""
    import cn2an

    assert normalise_count(cn2an.an2cn(number))[0] == number


_DAYS = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))
_CN_DIGITS = "〇一二三四五六七八九"


def _cn_small(number: int) -> str:
    """1..31 in Chinese numerals as dates write them (十二, 二十八, 三十一)."""
    tens, ones = divmod(number, 10)
    return ("" if tens == 0 else ("十" if tens == 1 else _CN_DIGITS[tens] + "十")) + (_CN_DIGITS[ones] if ones else "")


@given(_DAYS)
def test_every_spelling_of_a_date_reads_back(day: dt.date) -> None:
    """Any date written as 2023-06-28, 2023年6月28日, 2023/6/28, 20230628, 23.6.28 or in Chinese numerals is that date."""
    year = "".join(_CN_DIGITS[int(c)] for c in str(day.year))
    spellings = [day.isoformat(), f"{day.year}年{day.month}月{day.day}日", f"{day.year}/{day.month}/{day.day}",
                 f"{day:%Y%m%d}", f"{day:%y}.{day.month}.{day.day}", f"{day.year}年{day.month}月{day.day}号",
                 f"{year}年{_cn_small(day.month)}月{_cn_small(day.day)}日"]
    for text in spellings:
        assert normalise_date(text)[0] == day, text
    for text in (f"{day.month}月{day.day}日", f"{_cn_small(day.month)}月{_cn_small(day.day)}日", f"{day.month}/{day.day}"):
        assert normalise_date(text, day.year)[0] == day, text


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000"])
def test_blank_count_is_none_not_zero(raw: Any) -> None:
    """A blank cell stays None, distinct from a 0 the unit typed."""
    assert normalise_count(raw) == (None, "")


@pytest.mark.parametrize(
    ("raw", "value"),
    [(-3, -3), ("-3", -3.0), (3.5, 3.5), ("3.5", 3.5), ("abc", "abc"), ("二十多", "二十多"), ("见附件", "见附件")],
)
def test_counts_that_cannot_be_understood_pass_through_for_validation(raw: Any, value: Any) -> None:
    """Negative, fractional and non-numeric input is passed on unchanged (validation reports it)."""
    assert normalise_count(raw) == (value, "")


@pytest.mark.parametrize(
    "raw",
    ["2023-6-28", "2023-06-28", "2023/6/28", "2023年6月28日", "2023年6月28", "2023.6.28", "20230628",
     "２０２３年６月２８日", 45105, 45105.0, 20230628, dt.datetime(2023, 6, 28), dt.date(2023, 6, 28)],
)
def test_dates_in_the_usual_spellings(raw: Any) -> None:
    """Every usual way of writing 28 June 2023, and its Excel serial number, is that date."""
    value, _ = normalise_date(raw)
    assert value == dt.date(2023, 6, 28)
    assert type(value) is dt.date


def test_excel_serial_date_is_converted_with_a_note() -> None:
    """A date stored as a bare serial number is converted and the conversion is noted."""
    assert normalise_date(45105) == (dt.date(2023, 6, 28), "日期以数字形式保存，已换算")


@pytest.mark.parametrize(("raw", "kept"), [("2023-02-30", "2023-02-30"), ("2023年13月1日", "2023年13月1日"),
                                           ("6月28日", "6月28日"), (12, "12")])
def test_impossible_dates_stay_invalid(raw: Any, kept: str) -> None:
    """A date that does not exist, or lacks its year, is kept as text for validation to reject."""
    assert normalise_date(raw) == (kept, "")


def test_invalid_date_is_a_warning_at_its_cell() -> None:
    """“2023-02-30” as 填报日期 becomes a 警告 日期格式不对 located at the date cell (the counts stay usable)."""
    sub = submission("annex1", clean_values("annex1", report_date="2023-02-30"))
    validate([sub], spec("annex1"), settings()[1])
    [finding] = sub.findings
    assert (finding.severity, finding.rule, finding.cell) == (Severity.WARNING, "日期格式不对", address("annex1", "report_date"))
    assert finding.value == "2023-02-30"


@pytest.mark.parametrize(
    ("raw", "kind", "text"),
    [
        (13812345678, "mobile", "13812345678"),
        (13812345678.0, "mobile", "13812345678"),
        (6627527, "phone", "6627527"),
        ("０３１１－６６２７５２７", "phone", "0311-6627527"),
        ("(0311) 662 7527", "phone", "0311-6627527"),
        ("  王建国 ", "person", "王建国"),
        ("", "text", None),
    ],
)
def test_phones_keep_every_digit(raw: Any, kind: str, text: str | None) -> None:
    """Phone numbers stored as numbers keep all digits; full-width and spaced forms are tidied."""
    assert normalise_text(raw, kind) == (text, "")


def test_corrections_become_warnings_at_their_cells() -> None:
    """Each corrected count is a 警告 已自动更正 naming its cell and what the unit typed."""
    sub = submission("annex1", clean_values("annex1", s1_center_study_times="12次", s1_film_sessions="无",
                                            s1_reflection_articles="１２"))
    assert (sub.values["s1_center_study_times"], sub.values["s1_film_sessions"]) == (12, 0)
    assert sub.values["s1_reflection_articles"] == 12
    found = {(f.severity, f.rule, f.cell, f.value) for f in sub.findings}
    assert found == {
        (Severity.WARNING, "已自动更正", address("annex1", "s1_center_study_times"), "12次"),
        (Severity.WARNING, "已自动更正", address("annex1", "s1_film_sessions"), "无"),
    }


def test_file_round_trip_keeps_blank_zero_and_phone_digits(tmp_path: Path) -> None:
    """Read from a real return: blank stays None, 0 stays 0, a mobile typed as a number keeps its digits."""
    forms, campaign, roster = settings()
    values = clean_values("annex1", s1_center_study_times=None, s1_center_study_people=None,
                          s1_film_sessions=0, s1_film_people=0, phone=13812345678)
    path = make_return(tmp_path, "annex1", "U001", values)
    sub = read_file(path, tmp_path, forms, campaign, roster)
    settled_rollup([sub], forms, campaign, roster)
    assert sub.findings == []
    assert sub.values["s1_center_study_times"] is None and sub.values["s1_center_study_people"] is None
    assert sub.values["s1_film_sessions"] == 0 and sub.values["s1_film_people"] == 0
    assert sub.values["phone"] == "13812345678"
    assert sub.values["report_date"] == REPORT_DATE


def test_liaison_mobile_typed_as_number_reads_back_whole(tmp_path: Path) -> None:
    """附件2's 手机 saved as an Excel number is read back as the full 11-digit text and passes."""
    forms, campaign, roster = settings()
    path = make_return(tmp_path, "annex2", "U002", clean_values("annex2", mobile=13912345678, office_phone=6627527))
    sub = read_file(path, tmp_path, forms, campaign, roster)
    settled_rollup([sub], forms, campaign, roster)
    assert (sub.values["mobile"], sub.values["office_phone"]) == ("13912345678", "6627527")
    assert sub.findings == []


def test_formula_without_cached_value_is_an_error(tmp_path: Path) -> None:
    """A formula saved without a computed result (as openpyxl saves it) is a 错误 公式未计算 at its cell."""
    forms, campaign, roster = settings()
    path = make_return(tmp_path, "annex1", "U001", clean_values("annex1", s1_reflection_articles="=1+2"),
                       formulas=True)
    sub = read_file(path, tmp_path, forms, campaign, roster)
    [finding] = sub.findings
    assert (finding.severity, finding.rule) == (Severity.ERROR, "公式未计算")
    assert finding.cell == address("annex1", "s1_reflection_articles")
    assert finding.value == "=1+2"
    assert sub.values["s1_reflection_articles"] is None


def test_text_starting_with_equals_sign_is_text_not_formula(tmp_path: Path) -> None:
    """A text cell whose content starts with “=” is read as that text, not as an uncomputed formula."""
    forms, campaign, roster = settings()
    path = make_return(tmp_path, "annex1", "U001", clean_values("annex1", s4_case_details="=见附件材料"))
    sub = read_file(path, tmp_path, forms, campaign, roster)
    assert sub.findings == []
    assert sub.values["s4_case_details"] == "=见附件材料"
