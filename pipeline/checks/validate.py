"""pandera schemas generated from the form spec, and the mapping of failure cases back to cells.

A batch of returns of one form is validated as three frames, so that each check runs once over every
cell it concerns (pandera's cost is per check, not per value):

- ``fields``: one row per return, one column per field: the header fields' element-wise checks, the
  blanks in fields that must be filled, and the empty form;
- ``counts``: one row per count cell (return × count field): whether it is filled and its number, for the
  four count checks;
- ``pairs``: one row per pair of a cross-field rule (return × pair): the pair's two numbers.

Each frame has a 错误 and a 警告 schema, validated with ``lazy=True``; every failure case maps back to its
return and cell (a row of a long frame is one return's cell or pair) and becomes a :class:`Finding`. A
return's findings are listed in one fixed order (:attr:`FormSchemas.rank`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from pipeline.forms.spec import MAX_COUNT, TEXT_LIMITS, Field, FormSpec
from pipeline.model import Severity, Submission
from pipeline.settings.campaign import Campaign
from pipeline.values.header import MOBILE_RE, phone_ok
from pipeline.values.normalise import display

EXACT_INT = 2**53  # integers up to this convert to float64 exactly
_NUMBER_KINDS = frozenset({type(None), int, float})
EMPTY_FORM = "empty_form"
NOT_NULLABLE = "not_nullable"  # pandera's name for a blank in a column that must be filled
FIELDS, COUNTS, PAIRS = "fields", "counts", "pairs"  # the frames, see the module docstring
NUMBER, FILLED, FIRST, SECOND = "number", "filled", "first", "second"  # the long frames' columns


@dataclass(frozen=True)
class CheckText:
    """The rule name and Chinese message shown for one failed check."""

    rule: str
    message: str


def _float(value: Any) -> float:
    """An integer or float as float64; an integer beyond its range as infinity (it is huge, never blank)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _numeric(s: pd.Series) -> pd.Series:
    """The numbers of a column as float64; text, booleans and dates become NaN (never parsed here)."""
    if s.dtype == "float64":  # a column of numbers and blanks only (see frame_of)
        return s
    kinds = s.map(type)  # exact types: bool, a subclass of int, is not a number here
    numbers = s.where(kinds.isin((int, float)))
    return numbers.map(_float, na_action="ignore").astype("float64")


# The four checks on every count cell, in the order a cell's findings are listed.
_COUNT_CHECKS: tuple[tuple[str, CheckText], ...] = (
    ("count_is_number", CheckText("不是数字", "应填写阿拉伯数字整数，没有开展的填0，请更正。")),
    ("count_is_whole", CheckText("不是整数", "场次、人次等只能是整数，请更正为整数。")),
    ("count_not_negative", CheckText("负数", "数量不能为负数，请更正。")),
    ("count_not_huge", CheckText("数值过大", f"数量超过{MAX_COUNT:,}，明显不合理，请核实后更正。")),
)


def _count_checks() -> tuple[list[pa.Check], list[pa.Check]]:
    """The checks of the ``counts`` frame: on the frame (filled means a number) and on its ``number`` column."""
    frame = [pa.Check(lambda df: ~df[FILLED] | df[NUMBER].notna(), name=_COUNT_CHECKS[0][0])]
    number = [  # blanks and text (NaN here) are dropped by pandera before these run
        pa.Check(lambda n: n == n.round(), name=_COUNT_CHECKS[1][0]),
        pa.Check(lambda n: n >= 0, name=_COUNT_CHECKS[2][0]),
        pa.Check(lambda n: n <= MAX_COUNT, name=_COUNT_CHECKS[3][0]),
    ]
    return frame, number


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
    """The element-wise checks of a field that is not a count (counts are checked in the ``counts`` frame)."""
    if f.kind == "count":
        return []
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


class Pair(NamedTuple):
    """One pair of a cross-field rule; a failing pair is reported at the cell of its second field."""

    check: str  # the pandera check of its rule
    first: str
    second: str


def _rule_check(name: str, check: str, slots: np.ndarray[Any, np.dtype[np.bool_]]) -> pa.Check:
    """A rule's check over the ``pairs`` frame; ``slots`` marks the rule's own pairs among all (tiled per return)."""

    def ok(df: pd.DataFrame) -> pd.Series:
        mine = np.tile(slots, len(df) // len(slots)) if len(slots) else np.zeros(0, dtype=bool)
        a, b = df[FIRST].to_numpy(), df[SECOND].to_numpy()
        with np.errstate(invalid="ignore"):  # NaN compares False: a blank or text breaks no rule
            bad = (a > 0) & (b > 0) & (b < a) if check == "second_ge_first" else (a == 0) & (b > 0)
        return pd.Series(~(bad & mine), index=df.index)

    return pa.Check(ok, name=name)


def _empty_check(spec: FormSpec) -> tuple[pa.Check, CheckText]:
    counts = [f.id for f in spec.body_fields if f.kind == "count"]

    def ok(df: pd.DataFrame) -> pd.Series:
        return df[counts].notna().any(axis=1)

    return pa.Check(ok, name=EMPTY_FORM), CheckText("空表", "表中各项数量全部为空，视为空表。请逐项填写（没有开展的填0）后重新报送。")


@dataclass(frozen=True)
class FormSchemas:
    """The schemas of one form: per severity, one for each frame, with what they need to name their cells.

    ``counts`` lists the count fields of each severity, in the order of the ``counts`` frame's cells of one
    return; ``pairs`` every rule pair, in the order of the ``pairs`` frame's rows of one return. ``rank``
    orders the findings of one return: the rules first (in the spec's order of rules and pairs), then the
    empty form, then each field in its schema's order with its checks in order (a blank first).
    """

    schemas: dict[tuple[Severity, str], pa.DataFrameSchema]
    texts: dict[str, CheckText]
    counts: dict[Severity, list[str]]
    pairs: list[Pair]
    rank: dict[tuple[str, str, str], tuple[int, ...]]  # (check, field, first field of a rule) -> rank

    @property
    def checks(self) -> int:
        """How many pandera checks the schemas run (a column that must be filled counts as one)."""
        return sum(len(s.checks) + sum(len(c.checks) + (not c.nullable) for c in s.columns.values())
                   for s in self.schemas.values())


_SCHEMAS: dict[tuple[FormSpec, str, str], FormSchemas] = {}
# A blank header field that is only a 警告: the form counts, so the message asks, it does not demand.
SOFT_BLANK = CheckText("漏填", "此项未填写，不影响本次汇总；如重新报送，请一并补填。")


def build_schemas(spec: FormSpec, campaign: Campaign) -> FormSchemas:
    """Generate the schemas from the spec (memoised per spec and campaign)."""
    key = (spec, campaign.id, str(campaign.path))
    if key not in _SCHEMAS:
        _SCHEMAS[key] = _build_schemas(spec, campaign)
    return _SCHEMAS[key]


def _build_schemas(spec: FormSpec, campaign: Campaign) -> FormSchemas:
    texts: dict[str, CheckText] = {NOT_NULLABLE: CheckText("必填项未填", "此项必须填写，请补充。")}
    texts.update(_COUNT_CHECKS)
    soft_ids = header_warning_fields(spec)
    due = campaign.deadline(spec.deadline)
    late = pa.Check(lambda v: not isinstance(v, dt.date) or v <= due, element_wise=True, ignore_na=True, name="late")
    # The columns of the fields frame, per severity, in order; a date field outside the soft ones has its
    # late check in a 警告 column of its own, listed before the soft fields.
    columns: dict[Severity, dict[str, pa.Column]] = {Severity.ERROR: {}, Severity.WARNING: {}}
    counts: dict[Severity, list[str]] = {Severity.ERROR: [], Severity.WARNING: []}
    rank: dict[tuple[str, str, str], tuple[int, ...]] = {}
    late_columns: dict[str, pa.Column] = {}
    for f in spec.fields:
        severity = Severity.WARNING if f.id in soft_ids else Severity.ERROR
        checks = []
        for check, text in _field_checks(f, campaign):
            checks.append(check)
            texts[str(check.name)] = text
        if f.kind == "date":
            texts["late"] = CheckText("逾期报送", f"填报日期晚于截止日期 {due:%Y年%m月%d日}，属逾期报送。")
            if severity == Severity.WARNING:
                checks.append(late)
            else:
                late_columns[f.id] = pa.Column(None, checks=[late], nullable=True, required=False)
        # The unit field is identity's business (pipeline.units.identity): blank is fine once the path named the unit.
        nullable = not f.required or f.id == spec.roles.unit
        columns[severity][f.id] = pa.Column(None, checks=checks, nullable=nullable, required=False)
        if f.kind == "count":
            counts[severity].append(f.id)
    columns[Severity.WARNING] = {**late_columns, **columns[Severity.WARNING]}
    for severity, kept in columns.items():
        for position, (fid, column) in enumerate(list(kept.items())):
            names = [NOT_NULLABLE] * (not column.nullable) + [str(c.name) for c in column.checks]
            names += [name for name, _ in _COUNT_CHECKS] if fid in counts[severity] else []
            for order, name in enumerate(names):
                rank.setdefault((name, fid, ""), (1, position, order))
            if not column.checks and column.nullable:
                del kept[fid]  # nothing to check: leaving the column out saves pandera's time on it
    frame_checks: dict[tuple[Severity, str], list[pa.Check]] = {}
    pairs: list[Pair] = []
    for number, rule in enumerate(spec.rules):
        name = f"rule:{rule.id}"
        texts[name] = CheckText(rule.title, rule.message)
        for order, (first, second) in enumerate(rule.pairs):
            pairs.append(Pair(name, first, second))
            rank.setdefault((name, second, first), (0, number, order))
    for rule in spec.rules:
        name = f"rule:{rule.id}"
        slots = np.array([p.check == name for p in pairs], dtype=bool)
        frame_checks.setdefault((rule.severity, PAIRS), []).append(_rule_check(name, rule.check, slots))
    if spec.has_sentences:
        check, text = _empty_check(spec)
        frame_checks.setdefault((Severity.ERROR, FIELDS), []).append(check)
        texts[EMPTY_FORM] = text
        rank[(EMPTY_FORM, "", "")] = (0, len(spec.rules), 0)
    schemas: dict[tuple[Severity, str], pa.DataFrameSchema] = {}
    for severity in (Severity.ERROR, Severity.WARNING):
        schemas[(severity, FIELDS)] = pa.DataFrameSchema(columns[severity],
                                                         checks=frame_checks.get((severity, FIELDS), []))
        if counts[severity]:
            on_frame, on_number = _count_checks()
            schemas[(severity, COUNTS)] = pa.DataFrameSchema(
                {NUMBER: pa.Column(None, checks=on_number, nullable=True, required=False)}, checks=on_frame)
        if (severity, PAIRS) in frame_checks:
            schemas[(severity, PAIRS)] = pa.DataFrameSchema(checks=frame_checks[(severity, PAIRS)])
    return FormSchemas(schemas, texts, counts, pairs, rank)


def prepare(forms: Mapping[str, FormSpec], campaign: Campaign) -> None:
    """Build every form's schemas and let pandera set itself up (its first validation imports its backends),
    so that :func:`validate` then pays only for the checks. Validates no return; may be called any time."""
    for spec in forms.values():
        validate([], spec, campaign, force=True)


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


def _numbers_of(fields: pd.DataFrame, ids: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The numbers of some columns, one column each (see :func:`_numeric`); float64 columns are taken at once."""
    out = np.empty((len(fields), len(ids)), dtype="float64")
    floats = [j for j, fid in enumerate(ids) if fields.dtypes[fid] == "float64"]
    if floats:
        out[:, floats] = fields[[ids[j] for j in floats]].to_numpy(dtype="float64")
    for j in sorted(set(range(len(ids))) - set(floats)):
        out[:, j] = _numeric(fields[ids[j]]).to_numpy(dtype="float64")
    return out


def _frames(fields: pd.DataFrame, schemas: FormSchemas) -> dict[tuple[Severity, str], pd.DataFrame]:
    """The frame each schema validates (see the module docstring); a long frame's rows go return by return."""
    ids = list(dict.fromkeys([*schemas.counts[Severity.ERROR], *schemas.counts[Severity.WARNING],
                              *(p.first for p in schemas.pairs), *(p.second for p in schemas.pairs)]))
    numbers = _numbers_of(fields, ids)
    column = {fid: j for j, fid in enumerate(ids)}

    def long(values: np.ndarray[Any, Any], of: Sequence[str]) -> np.ndarray[Any, Any]:
        return values[:, [column[f] for f in of]].reshape(-1)

    frames: dict[tuple[Severity, str], pd.DataFrame] = {}
    for severity, kind in schemas.schemas:
        if kind == FIELDS:
            frames[(severity, kind)] = fields
        elif kind == COUNTS:
            counts = schemas.counts[severity]
            filled = fields[counts].notna().to_numpy(dtype=bool).reshape(-1)
            frames[(severity, kind)] = pd.DataFrame({FILLED: filled, NUMBER: long(numbers, counts)})
        else:
            frames[(severity, kind)] = pd.DataFrame({FIRST: long(numbers, [p.first for p in schemas.pairs]),
                                                     SECOND: long(numbers, [p.second for p in schemas.pairs])})
    return frames


def _failure_cases(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases: pd.DataFrame = exc.failure_cases
        return cases
    return pd.DataFrame(columns=["column", "check", "index"])


class Failed(NamedTuple):
    """One failure, mapped back to its return (``row``) and cell; ``first`` is a rule's first field, else ""."""

    row: int
    check: str
    field: str  # "" for the empty form
    first: str


def _failed(cases: pd.DataFrame, kind: str, severity: Severity, schemas: FormSchemas) -> Iterator[Failed]:
    """Each failure case of one frame's schema as the return and cell it concerns."""
    counts = schemas.counts[severity]
    for index, check_name, column in cases[["index", "check", "column"]].itertuples(index=False, name=None):
        if index is None or pd.isna(index):
            continue
        position, check = int(index), str(check_name).split("(")[0]
        if kind == COUNTS:
            row, cell = divmod(position, len(counts))
            yield Failed(row, check, counts[cell], "")
        elif kind == PAIRS:
            row, slot = divmod(position, len(schemas.pairs))
            yield Failed(row, check, schemas.pairs[slot].second, schemas.pairs[slot].first)
        else:  # a check on the whole row (the empty form) reports each of the row's values: once per row here
            yield Failed(position, check, "" if check == EMPTY_FORM else str(column), "")


def _rule_message(text: CheckText, fields: Mapping[str, Field], first: str, second: str, sub: Submission) -> str:
    a, b = fields[first], fields[second]
    return text.message.format(first_label=a.label, second_label=b.label,
                               first_value=display(sub.values.get(first)), second_value=display(sub.values.get(second)))


def validate(subs: Sequence[Submission], spec: FormSpec, campaign: Campaign, *, force: bool = False) -> None:
    """Validate a batch of submissions of one form, adding a finding per failed cell (the empty form: per return).

    ``force`` runs the schemas even on no submission (see :func:`prepare`).
    """
    if not subs and not force:
        return
    schemas = build_schemas(spec, campaign)
    frames = _frames(frame_of(subs, spec), schemas)
    fields = {f.id: f for f in spec.fields}
    last = (9,)  # a failure no rank names (pandera's own, none today): after the others
    for severity in (Severity.ERROR, Severity.WARNING):
        failed: set[Failed] = set()
        for (of, kind), schema in schemas.schemas.items():
            if of == severity:
                failed.update(_failed(_failure_cases(schema, frames[(of, kind)]), kind, severity, schemas))
        for found in sorted(failed, key=lambda f: (f.row, schemas.rank.get(f[1:], last), f[1:])):
            _record(subs[found.row], fields, schemas.texts, severity, found)


def _record(sub: Submission, fields: Mapping[str, Field], texts: dict[str, CheckText], severity: Severity,
            found: Failed) -> None:
    text = texts.get(found.check, CheckText(found.check, "不符合填报要求，请核实。"))
    if found.first:  # a cross-field rule, at its second field
        target = fields[found.field]
        raw = sub.raw.get(found.field)
        sub.add(severity, text.rule, _rule_message(text, fields, found.first, found.field, sub), target.id, target.label,
                raw.address if raw else "", display(raw.value) if raw else "")
        return
    if found.check == NOT_NULLABLE and severity == Severity.WARNING:
        text = SOFT_BLANK  # a header field whose gap never holds the form back: not “必须”, once
    if found.check == EMPTY_FORM:
        sub.add(severity, text.rule, text.message)
        return
    f = fields[found.field]
    raw = sub.raw.get(f.id)
    sub.add(severity, text.rule, text.message, f.id, f.label, raw.address if raw else "",
            display(raw.value) if raw else "")
