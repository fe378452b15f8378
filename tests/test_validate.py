"""Validation (pipeline.checks.validate and the outlier check in pipeline.checks.rollup): each rule, at its cell."""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from returns import address, clean_values, settings, settled_rollup, spec, submission

from pipeline.checks.rollup import OUTLIER_MIN_UNITS
from pipeline.checks.validate import validate
from pipeline.model import Severity, Status, Submission

SESSIONS, PEOPLE = "s1_center_study_times", "s1_center_study_people"


def _validated(form_id: str, **overrides: Any) -> Submission:
    sub = submission(form_id, clean_values(form_id, **overrides))
    validate([sub], spec(form_id), settings()[1])
    return sub


def _rules(sub: Submission) -> set[tuple[str, str, str]]:
    return {(f.severity, f.rule, f.cell) for f in sub.findings}


def test_clean_returns_have_no_findings() -> None:
    """The helpers' clean answers pass both forms without a finding."""
    assert _validated("annex1").findings == []
    assert _validated("annex2").findings == []


def test_participants_fewer_than_sessions_is_a_warning() -> None:
    """参与人次 below its 场（次）数 is a 警告 at the participants cell, quoting both numbers."""
    sub = _validated("annex1", **{SESSIONS: 5, PEOPLE: 3})
    [finding] = sub.findings
    assert (finding.severity, finding.rule, finding.cell) == (Severity.WARNING, "参与人次少于场次",
                                                              address("annex1", PEOPLE))
    assert finding.message == ("“理论学习中心组学习·参与人次”填了3，少于“理论学习中心组学习·次数”的5，"
                               "每场（次）活动至少应有1人参与，请核实后更正。")


def test_participants_equal_to_sessions_is_fine() -> None:
    """As many participants as sessions breaks no rule."""
    assert _validated("annex1", **{SESSIONS: 4, PEOPLE: 4}).findings == []


def test_participants_without_sessions_is_an_error() -> None:
    """场（次）数 0 with participants is a 错误 at the participants cell."""
    sub = _validated("annex1", **{SESSIONS: 0, PEOPLE: 12})
    [finding] = sub.findings
    assert (finding.severity, finding.rule, finding.cell) == (Severity.ERROR, "无场次却有参与人次",
                                                              address("annex1", PEOPLE))
    assert finding.message.startswith("“理论学习中心组学习·次数”为0，但“理论学习中心组学习·参与人次”填了12。")


def test_no_sessions_and_no_participants_is_fine() -> None:
    """0 and 0 (an activity not held) breaks no rule."""
    assert _validated("annex1", **{SESSIONS: 0, PEOPLE: 0}).findings == []


def test_every_rule_pair_is_checked() -> None:
    """Each pair listed in the spec's rules raises its own finding at its own participants cell."""
    form = spec("annex1")
    pairs = [pair for rule in form.rules if rule.check == "second_ge_first" for pair in rule.pairs]
    overrides: dict[str, Any] = {}
    for first, second in pairs:
        overrides[first], overrides[second] = 5, 2
    sub = _validated("annex1", **overrides)
    assert _rules(sub) == {(Severity.WARNING, "参与人次少于场次", address("annex1", second)) for _, second in pairs}


@pytest.mark.parametrize(
    ("value", "rule"),
    [(-1, "负数"), (3.5, "不是整数"), ("abc", "不是数字"), (1_000_001, "数值过大")],
)
def test_count_errors(value: Any, rule: str) -> None:
    """Negative, fractional, non-numeric and absurdly large counts are each a 错误 at their cell."""
    sub = _validated("annex1", s1_reflection_articles=value)
    assert _rules(sub) == {(Severity.ERROR, rule, address("annex1", "s1_reflection_articles"))}


def test_required_header_missing_is_a_warning() -> None:
    """A blank 联系人 is a 警告 漏填 at its cell: the counts are still counted."""
    sub = _validated("annex1", contact=None)
    assert _rules(sub) == {(Severity.WARNING, "漏填", address("annex1", "contact"))}


@pytest.mark.parametrize("phone", ["13812345678", "0311-6627527", "03116627527", "010-12345678", "6627527",
                                   "0311-6627527-801", "(0311) 6627527"])
def test_valid_phones(phone: str) -> None:
    """Mobiles, landlines with an area code (extension allowed) and local numbers are accepted as 电话."""
    assert _validated("annex1", phone=phone).findings == []


@pytest.mark.parametrize("phone", ["123", "0311-66", "1381234567x", "电话", "662-7527"])
def test_invalid_phones(phone: str) -> None:
    """Anything else in 电话 is a 警告 电话格式不对 at its cell (a wrong phone does not make the counts untrustworthy)."""
    assert _rules(_validated("annex1", phone=phone)) == {(Severity.WARNING, "电话格式不对", address("annex1", "phone"))}


@pytest.mark.parametrize("mobile", ["13812345678", "19912345678", 15012345678])
def test_valid_mobiles(mobile: Any) -> None:
    """Eleven digits starting 13-19 are a mobile number, typed as text or as a number."""
    assert _validated("annex2", mobile=mobile).findings == []


@pytest.mark.parametrize("mobile", ["1381234567", "138123456789", "12812345678", "0311-6627527", "138 1234 567"])
def test_invalid_mobiles(mobile: str) -> None:
    """Too short, too long, a wrong prefix or a landline in 手机 is a 错误 手机号格式不对."""
    assert _rules(_validated("annex2", mobile=mobile)) == {(Severity.ERROR, "手机号格式不对", address("annex2", "mobile"))}


@pytest.mark.parametrize("email", ["wangjianguo@163.com", "a.b-c@qx.gov.cn", "ＡＢＣ@qq.com"])
def test_valid_emails(email: str) -> None:
    """Ordinary addresses (full-width letters are folded first) are accepted."""
    assert _validated("annex2", email=email).findings == []


@pytest.mark.parametrize("email", ["zhangsan@163", "zhangsan163.com", "zhang san@163.com", "@163.com"])
def test_invalid_emails(email: str) -> None:
    """An address without a domain, an @ or with spaces is a 错误 邮箱格式不对."""
    assert _rules(_validated("annex2", email=email)) == {(Severity.ERROR, "邮箱格式不对", address("annex2", "email"))}


def _units(values: list[int]) -> list[Submission]:
    """One clean 附件1 per roster unit, differing only in 发表心得体会."""
    roster = settings()[2]
    return [submission("annex1", clean_values("annex1", s1_reflection_articles=value), unit.code)
            for unit, value in zip(roster, values, strict=False)]


def _rollup_of(subs: list[Submission]) -> Any:
    forms, campaign, roster = settings()
    return settled_rollup(subs, forms, campaign, roster)


def test_outlier_among_eight_units_is_a_warning() -> None:
    """With 8 units reporting, a value far from the others (modified z-score > 3.5) is a 警告 数值异常."""
    subs = _units([10, 11, 12, 13, 14, 15, 16, 1000])
    assert len(subs) == OUTLIER_MIN_UNITS
    result = _rollup_of(subs)
    odd = subs[-1]
    assert _rules(odd) == {(Severity.WARNING, "数值异常", address("annex1", "s1_reflection_articles"))}
    assert odd.findings[0].message == "数值明显偏离其他单位（各单位中位数为 13.5），请核实。"
    assert all(sub.findings == [] for sub in subs[:-1])
    statuses = [s.status for s in result.statuses if s.form_id == "annex1" and s.counted]
    assert statuses == [Status.PASSED] * 7 + [Status.WARNED]


def test_no_outlier_check_with_seven_units() -> None:
    """With only 7 units reporting the outlier check is not made."""
    subs = _units([10, 11, 12, 13, 14, 15, 1000])
    _rollup_of(subs)
    assert all(sub.findings == [] for sub in subs)


def test_outlier_threshold_is_a_modified_z_score_of_3_5() -> None:
    """A value 5.6 modified z-scores from the median is flagged; one 3.2 away is not."""
    subs = _units([10, 11, 12, 13, 14, 15, 16, 30])  # median 13.5, MAD 2: z(30) = 0.6745 * 16.5 / 2 = 5.6
    _rollup_of(subs)
    assert [bool(s.findings) for s in subs] == [False] * 7 + [True]
    subs = _units([10, 11, 12, 13, 14, 15, 16, 23])  # z(23) = 0.6745 * 9.5 / 2 = 3.2
    _rollup_of(subs)
    assert all(sub.findings == [] for sub in subs)


_COUNTS = st.one_of(st.none(), st.integers(-5, 50), st.integers(2**53 - 2, 2**53 + 2), st.just(10**400),
                    st.floats(allow_nan=False, allow_infinity=False, width=32), st.just("12"))


@hyp_settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_COUNTS, min_size=2, max_size=2), min_size=1, max_size=6))
def test_float64_count_columns_find_what_object_columns_find(rows: list[list[Any]]) -> None:
    """Count columns turned into float64 for speed yield the same findings as the same values kept as objects."""
    import pipeline.checks.validate as validate_module

    def findings(as_numbers: Any) -> list[list[tuple[str, str, str]]]:
        subs = [submission("annex1", clean_values("annex1", **{SESSIONS: s, PEOPLE: p})) for s, p in rows]
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(validate_module, "_as_numbers", as_numbers)
            validate(subs, spec("annex1"), settings()[1])
        return [sorted((f.severity, f.rule, f.text) for f in sub.findings) for sub in subs]

    assert findings(validate_module._as_numbers) == findings(lambda values: None)


def test_count_columns_become_float64_only_when_every_integer_is_exact() -> None:
    """Integers and blanks become float64 with NaN; an integer float64 would round, or text, keeps the column as typed."""
    from pipeline.checks.validate import _as_numbers

    numbers = _as_numbers([3, None, 2**53 - 1])
    assert numbers is not None and numbers[0] == 3 and numbers[1] != numbers[1] and numbers[2] == 2**53 - 1
    assert _as_numbers([2**53 + 1, None]) is None
    assert _as_numbers([10**400]) is None
    assert _as_numbers([1.5, 2**60]) is None
    assert _as_numbers([1, "2"]) is None


def _number(value: Any) -> float | None:
    """The oracle's reading of a count: a number (int or float, never bool or text) as a float, else None."""
    if type(value) not in (int, float):
        return None
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def _expected(sub: Submission, form: Any) -> list[tuple[str, str, str]]:
    """(severity, rule, cell) of every finding validation must add, in order, computed cell by cell from the spec."""
    found: dict[str, list[tuple[str, str, str]]] = {Severity.ERROR: [], Severity.WARNING: []}
    for rule in form.rules:  # the cross-field rules first, in the spec's order of rules and pairs
        for first, second in rule.pairs:
            a, b = _number(sub.values.get(first)), _number(sub.values.get(second))
            if a is None or b is None:
                continue
            if (a > 0 and 0 < b < a) if rule.check == "second_ge_first" else (a == 0 and b > 0):
                found[rule.severity].append((rule.severity, rule.title, address("annex1", second)))
    for f in form.fields:  # then each count cell, its checks in order
        value = sub.values.get(f.id)
        if f.kind != "count" or value is None:
            continue
        n = _number(value)
        cell = address("annex1", f.id)
        if n is None:
            found[Severity.ERROR].append((Severity.ERROR, "不是数字", cell))
            continue
        fails = [(n != n // 1 if abs(n) != float("inf") else False, "不是整数"), (n < 0, "负数"),
                 (n > 1_000_000, "数值过大")]
        found[Severity.ERROR] += [(Severity.ERROR, rule, cell) for bad, rule in fails if bad]
    return found[Severity.ERROR] + found[Severity.WARNING]


_CELLS = st.one_of(st.none(), st.integers(-3, 30), st.integers(2**53 - 2, 2**53 + 2), st.sampled_from([10**400, -10**400]),
                   st.floats(-1e7, 2e6, allow_nan=False), st.sampled_from(["abc", "3.5", "十二", True, 1_000_001]))


@hyp_settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(_CELLS, min_size=6, max_size=6), min_size=1, max_size=4))
def test_each_count_finding_lands_on_its_own_cell_in_order(rows: list[list[Any]]) -> None:
    """Random count cells of several returns validated together: each return gets exactly the findings a cell-by-cell
    reading of the spec gives (the cell, the rule, the severity), in the order rules, then cells in form order."""
    form = spec("annex1")
    first, second = form.rules[0].pairs[0]
    third, fourth = form.rules[0].pairs[-1]
    ids = [first, second, third, fourth, *[fid for fid in count_ids_of(form) if fid not in (first, second, third,
                                                                                           fourth)][:2]]
    subs = [submission("annex1", clean_values("annex1", **dict(zip(ids, row, strict=True)))) for row in rows]
    before = [len(s.findings) for s in subs]
    validate(subs, form, settings()[1])
    for sub, start in zip(subs, before, strict=True):
        assert [(f.severity, f.rule, f.cell) for f in sub.findings[start:]] == _expected(sub, form)


def count_ids_of(form: Any) -> list[str]:
    """The count fields of a form, in form order."""
    return [f.id for f in form.fields if f.kind == "count"]


def test_an_integer_beyond_float_range_is_huge_and_hides_no_other_finding() -> None:
    """A count of 10**400 is a 错误 数值过大 at its cell, and the other returns of the same batch keep their findings."""
    huge = submission("annex1", clean_values("annex1", s1_reflection_articles=10**400), "U001")
    negative = submission("annex1", clean_values("annex1", s1_reflection_articles=-1, **{SESSIONS: 5, PEOPLE: 3}),
                          "U002")
    validate([huge, negative], spec("annex1"), settings()[1])
    cell = address("annex1", "s1_reflection_articles")
    assert _rules(huge) == {(Severity.ERROR, "数值过大", cell)}
    assert _rules(negative) == {(Severity.ERROR, "负数", cell),
                                (Severity.WARNING, "参与人次少于场次", address("annex1", PEOPLE))}
