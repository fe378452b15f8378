"""pandera schemas generated from the form spec, and the mapping of failure cases back to cells.

Two schemas per form: one holds the 错误 checks, one the 警告 checks. Both run with
``lazy=True``; every row of ``failure_cases`` becomes a :class:`Finding` on its cell.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from pipeline.forms.spec import MAX_COUNT, TEXT_LIMITS, Field, FormSpec, Rule
from pipeline.model import Severity, Submission
from pipeline.settings.campaign import Campaign
from pipeline.values.header import MOBILE_RE, phone_ok
from pipeline.values.normalise import display

EXACT_INT = 2**53  # integers up to this convert to float64 exactly
_NUMBER_KINDS = frozenset({type(None), int, float})


@dataclass(frozen=True)
class CheckText:
    """The rule name and Chinese message shown for one failed check."""

    rule: str
    message: str


def _numeric(s: pd.Series) -> pd.Series:
    """The numbers of a column; text, booleans and dates become NaN (never parsed here)."""
    if s.dtype == "float64":  # a column of numbers and blanks only (see frame_of)
        return s
    kinds = s.map(type)  # exact types: bool, a subclass of int, is not a number here
    return pd.to_numeric(s.where(kinds.isin((int, float))), errors="coerce")


def _count_checks() -> list[tuple[pa.Check, CheckText]]:
    def is_number(s: pd.Series) -> pd.Series:
        return s.isna() | _numeric(s).notna()

    def is_whole(s: pd.Series) -> pd.Series:
        n = _numeric(s)
        return n.isna() | (n == n.round())

    def not_negative(s: pd.Series) -> pd.Series:
        n = _numeric(s)
        return n.isna() | (n >= 0)

    def not_huge(s: pd.Series) -> pd.Series:
        n = _numeric(s)
        return n.isna() | (n <= MAX_COUNT)

    return [
        (pa.Check(is_number, name="count_is_number"),
         CheckText("不是数字", "应填写阿拉伯数字整数，没有开展的填0，请更正。")),
        (pa.Check(is_whole, name="count_is_whole"),
         CheckText("不是整数", "场次、人次等只能是整数，请更正为整数。")),
        (pa.Check(not_negative, name="count_not_negative"),
         CheckText("负数", "数量不能为负数，请更正。")),
        (pa.Check(not_huge, name="count_not_huge"),
         CheckText("数值过大", f"数量超过{MAX_COUNT:,}，明显不合理，请核实后更正。")),
    ]


def _element(name: str, ok: Callable[[Any], bool], text: CheckText) -> tuple[pa.Check, CheckText]:
    return pa.Check(lambda v: ok(v), element_wise=True, ignore_na=True, name=name), text


def _valid_email(value: Any) -> bool:
    from email_validator import EmailNotValidError, validate_email

    try:
        # A non-ASCII local part (“王建国@163.com”) cannot be mailed from most Chinese mailboxes: invalid here.
        validate_email(str(value), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return False
    return True


def _field_checks(f: Field, campaign: Campaign) -> list[tuple[pa.Check, CheckText]]:
    if f.kind == "count":
        return _count_checks()
    if f.kind == "date":
        low, high = campaign.date_window
        return [
            _element("date_is_date", lambda v: isinstance(v, dt.date),
                     CheckText("日期格式不对", f"请填写日期，格式如 {campaign.year}-06-28；若日期不存在（如2月30日）请更正。")),
            _element("date_in_window", lambda v: not isinstance(v, dt.date) or low <= v <= high,
                     CheckText("日期不合理", f"填报日期应在{low:%Y年%m月%d日}至{high:%Y年%m月%d日}之间，请核实。")),
        ]
    if f.kind == "phone":
        return [_element("phone_format", lambda v: phone_ok(str(v)),
                         CheckText("电话格式不对", "请填写11位手机号，或带区号的固定电话（如 0311-6627527），或7至8位本地号码。"))]
    if f.kind == "mobile":
        return [_element("mobile_format", lambda v: bool(MOBILE_RE.match(str(v))),
                         CheckText("手机号格式不对", "手机号应为1开头的11位数字，如 13812345678，请更正。"))]
    if f.kind == "email":
        return [_element("email_format", _valid_email,
                         CheckText("邮箱格式不对", "请填写正确的电子邮箱，如 name@example.com。"))]
    limit = TEXT_LIMITS[f.kind][0]
    return [_element(f"{f.kind}_length", lambda v: len(str(v)) <= limit,
                     CheckText("内容过长", f"最多填写{limit}个字，请精简。"))]


def header_warning_fields(spec: FormSpec) -> frozenset[str]:
    """The header fields whose slips are a 警告, never an 错误: the follow-up contact (``roles.contact``) and
    the 填报日期 (``roles.report_date``). A wrong or missing phone or date does not make the counts untrustworthy;
    a resubmission without a valid date is ordered by its arrival instead (see :mod:`pipeline.checks.rollup`)."""
    return frozenset(spec.roles.contact) | ({spec.roles.report_date} if spec.roles.report_date else frozenset())


def _rule_check(rule: Rule, first: Field, second: Field) -> tuple[pa.Check, CheckText]:
    def ok(df: pd.DataFrame) -> pd.Series:
        a, b = _numeric(df[first.id]), _numeric(df[second.id])
        bad = (a > 0) & (b > 0) & (b < a) if rule.check == "second_ge_first" else (a == 0) & (b > 0)
        return ~bad

    name = f"rule:{rule.id}:{first.id}:{second.id}"
    return pa.Check(ok, name=name), CheckText(rule.title, rule.message)


def _empty_check(spec: FormSpec) -> tuple[pa.Check, CheckText]:
    counts = [f.id for f in spec.body_fields if f.kind == "count"]

    def ok(df: pd.DataFrame) -> pd.Series:
        return df[counts].notna().any(axis=1)

    return pa.Check(ok, name="empty_form"), CheckText("空表", "表中各项数量全部为空，视为空表。请逐项填写（没有开展的填0）后重新报送。")


@dataclass(frozen=True)
class FormSchemas:
    """The 错误 and 警告 schemas of one form and the text of each of their checks."""

    errors: pa.DataFrameSchema
    warnings: pa.DataFrameSchema
    texts: dict[str, CheckText]


_SCHEMAS: dict[tuple[FormSpec, str, str], FormSchemas] = {}
# A blank header field that is only a 警告: the form counts, so the message asks, it does not demand.
SOFT_BLANK = CheckText("漏填", "此项未填写，不影响本次汇总；如重新报送，请一并补填。")


def build_schemas(spec: FormSpec, campaign: Campaign) -> FormSchemas:
    """Generate both schemas from the spec (memoised per spec and campaign)."""
    key = (spec, campaign.id, str(campaign.path))
    if key not in _SCHEMAS:
        _SCHEMAS[key] = _build_schemas(spec, campaign)
    return _SCHEMAS[key]


def _build_schemas(spec: FormSpec, campaign: Campaign) -> FormSchemas:
    texts: dict[str, CheckText] = {
        "not_nullable": CheckText("必填项未填", "此项必须填写，请补充。"),
    }
    columns: dict[str, pa.Column] = {}
    soft: dict[str, pa.Column] = {}  # header fields whose slips never make the counts untrustworthy: 警告 only
    soft_ids = header_warning_fields(spec)
    for f in spec.fields:
        checks = []
        for check, text in _field_checks(f, campaign):
            checks.append(check)
            texts[str(check.name)] = text
        # The unit field is identity's business (pipeline.units.identity): blank is fine once the path named the unit.
        nullable = not f.required or f.id == spec.roles.unit
        (soft if f.id in soft_ids else columns)[f.id] = pa.Column(None, checks=checks, nullable=nullable, required=False)
    frame_checks: dict[str, list[pa.Check]] = {Severity.ERROR: [], Severity.WARNING: []}
    for rule in spec.rules:
        for first, second in rule.pairs:
            check, text = _rule_check(rule, spec.field(first), spec.field(second))
            frame_checks[rule.severity].append(check)
            texts[str(check.name)] = text
    if spec.has_sentences:
        check, text = _empty_check(spec)
        frame_checks[Severity.ERROR].append(check)
        texts[str(check.name)] = text
    due = campaign.deadline(spec.deadline)
    late_columns: dict[str, pa.Column] = {}
    date_fields = [f for f in spec.fields if f.kind == "date"]
    for f in date_fields:
        check = pa.Check(lambda v: not isinstance(v, dt.date) or v <= due, element_wise=True, ignore_na=True,
                         name="late")
        if f.id in soft:
            soft[f.id].checks.append(check)
        else:
            late_columns[f.id] = pa.Column(None, checks=[check], nullable=True, required=False)
        texts["late"] = CheckText("逾期报送", f"填报日期晚于截止日期 {due:%Y年%m月%d日}，属逾期报送。")
    return FormSchemas(
        errors=pa.DataFrameSchema(columns, checks=frame_checks[Severity.ERROR]),
        warnings=pa.DataFrameSchema({**late_columns, **soft}, checks=frame_checks[Severity.WARNING]),
        texts=texts,
    )


def frame_of(subs: Sequence[Submission], spec: FormSpec) -> pd.DataFrame:
    """One row per submission, one column per field (missing values are None, NaN in a float64 column).

    A count column holding only numbers and blanks is float64, which every check reads without
    looking at each value's type; any other column stays object, as it was typed.
    """
    ids = [f.id for f in spec.fields]
    # Row by row, then transposed: each unit's values are read together, which is kinder to the CPU cache.
    by_field = zip(*(tuple(map(sub.values.get, ids)) for sub in subs), strict=True) if subs else ([] for _ in ids)
    columns: dict[str, pd.Series[Any]] = {}
    for f, column in zip(spec.fields, by_field, strict=True):
        values = list(column)
        numbers = _as_numbers(values) if f.kind == "count" else None
        columns[f.id] = pd.Series(values, dtype=object) if numbers is None else pd.Series(numbers)
    return pd.DataFrame(columns, columns=ids)


def _as_numbers(values: list[Any]) -> np.ndarray[Any, np.dtype[np.float64]] | None:
    """The values as float64 (blank as NaN) when all are numbers or blank and every integer converts exactly."""
    kinds = set(map(type, values))
    if not kinds <= _NUMBER_KINDS:
        return None
    try:
        numbers = np.array(values, dtype="float64")
    except OverflowError:  # an integer beyond float64's range: leave the column as typed
        return None
    if int not in kinds:
        return numbers
    if float in kinds:  # mixed: only the integers need to be exact
        exact = all(abs(v) <= EXACT_INT for v in values if type(v) is int)
    else:  # integers and blanks: an image below 2**53 comes from an integer below it (2**53 + 1 rounds to 2**53)
        exact = bool(np.nanmax(np.abs(numbers)) < EXACT_INT)
    return numbers if exact else None


def _failure_cases(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases: pd.DataFrame = exc.failure_cases
        return cases
    return pd.DataFrame(columns=["column", "check", "index"])


def _rule_message(text: CheckText, spec: FormSpec, first: str, second: str, sub: Submission) -> str:
    a, b = spec.field(first), spec.field(second)
    return text.message.format(first_label=a.label, second_label=b.label,
                               first_value=display(sub.values.get(first)), second_value=display(sub.values.get(second)))


def validate(subs: Sequence[Submission], spec: FormSpec, campaign: Campaign) -> None:
    """Validate a batch of submissions of one form, adding a finding per failure case."""
    if not subs:
        return
    schemas = build_schemas(spec, campaign)
    frame = frame_of(subs, spec)
    seen: set[tuple[int, str, str]] = set()
    for severity, schema in ((Severity.ERROR, schemas.errors), (Severity.WARNING, schemas.warnings)):
        cases = _failure_cases(schema, frame)
        for index, check_name, column in cases[["index", "check", "column"]].itertuples(index=False, name=None):
            if index is None or pd.isna(index):
                continue
            row, check = int(index), str(check_name)
            # Frame-wide checks report one case per column; a rule fails once per row.
            frame_wide = check.startswith(("rule:", "empty_form"))
            key = (row, check, "" if frame_wide else str(column))
            if key in seen:
                continue
            seen.add(key)
            _record(subs[row], spec, schemas.texts, severity, check, column)


def _record(sub: Submission, spec: FormSpec, texts: dict[str, CheckText], severity: Severity, check: str,
            column: Any) -> None:
    name = check.split("(")[0]
    if name.startswith("rule:"):
        _, _, first, second = name.split(":")
        text = texts[name]
        target = spec.field(second)
        raw = sub.raw.get(second)
        sub.add(severity, text.rule, _rule_message(text, spec, first, second, sub), target.id, target.label,
                raw.address if raw else "", display(raw.value) if raw else "")
        return
    text = texts.get(name, CheckText(name, "不符合填报要求，请核实。"))
    if name == "not_nullable" and severity == Severity.WARNING:
        text = SOFT_BLANK  # a header field whose gap never holds the form back: not “必须”, once
    if name == "empty_form":
        sub.add(severity, text.rule, text.message)
        return
    f = spec.field(str(column))
    raw = sub.raw.get(f.id)
    sub.add(severity, text.rule, text.message, f.id, f.label, raw.address if raw else "",
            display(raw.value) if raw else "")
