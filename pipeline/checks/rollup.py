"""inbox → read → normalise → validate → select → totals: the county rollup as data.

Writing it out is :mod:`pipeline.outputs.report`'s job; this module never writes a file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.checks.confirm import Key, apply_confirmed
from pipeline.checks.copies import compare_copies, file_copies, merge_parts
from pipeline.checks.resubmit import fewer_filled_warning, newest_key, order_warning
from pipeline.checks.validate import validate
from pipeline.forms.spec import FormSpec
from pipeline.model import MISMATCH_NAMED, Outcome, Severity, Status, Submission
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster, Unit

OUTLIER_MIN_UNITS = 8
OUTLIER_Z = 3.5


@dataclass
class UnitStatus:
    """One unit's standing for one form."""

    unit: Unit
    form_id: str
    status: Status
    counted: Submission | None = None
    latest: Submission | None = None
    on_time: bool | None = None
    note: str = ""
    # The day the on-time judgement used and where it came from (see Submission.arrival_source).
    arrival: dt.date | None = None
    arrival_source: str = ""

    @property
    def sent(self) -> bool:
        """Whether the unit sent anything for this form (a return, readable or not)."""
        return self.status != Status.MISSING

    @property
    def accepted(self) -> bool:
        """Whether one of the unit's returns for this form passed validation and counts."""
        return self.counted is not None

    @property
    def accepted_on_time(self) -> bool:
        """Whether the counted return arrived by the form's deadline."""
        return self.counted is not None and bool(self.on_time)


@dataclass(frozen=True)
class FormRates:
    """The three rates of one form, each over the units due (every roster unit).

    报送率 (``sent_rate``): units that sent anything for the form, whatever became of it;
    合格率 (``accepted_rate``): units whose return passed and counts in the totals;
    按时率 (``on_time_rate``): units whose counted return arrived by the deadline.
    """

    due: int
    sent: int
    accepted: int
    on_time: int

    @staticmethod
    def _share(part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    @property
    def sent_rate(self) -> float:
        """报送率."""
        return self._share(self.sent, self.due)

    @property
    def accepted_rate(self) -> float:
        """合格率."""
        return self._share(self.accepted, self.due)

    @property
    def on_time_rate(self) -> float:
        """按时率."""
        return self._share(self.on_time, self.due)


# What each rate is called and how it is defined, as 报送情况, the run summary and the report say it.
RATE_NAMES = {"sent_rate": "报送率", "accepted_rate": "合格率", "on_time_rate": "按时率"}
RATE_NOTE = ("报送率＝报送了该表（无论是否合格）的单位数÷应报单位数；合格率＝来件通过审核、计入汇总的单位数÷应报单位数；"
             "按时率＝计入汇总的来件在截止日期前收到的单位数÷应报单位数。收到日期依次取邮件日期或日期文件夹、填报日期、文件修改日期。")


@dataclass
class Rollup:
    """Everything the outputs are made from."""

    campaign: Campaign
    roster: Roster
    forms: Mapping[str, FormSpec]
    submissions: list[Submission]
    statuses: list[UnitStatus] = field(default_factory=list)
    confirmed: frozenset[Key] = frozenset()  # values read from scans that the clerk confirmed (核对.csv)

    def counted(self, form_id: str) -> list[Submission]:
        """The submissions that count, in roster order."""
        return [s.counted for s in self.statuses if s.form_id == form_id and s.counted is not None]

    def totals(self, form_id: str) -> dict[str, int]:
        """County totals of every count field of a form."""
        spec = self.forms[form_id]
        sums = {f.id: 0 for f in spec.fields if f.kind == "count"}
        for sub in self.counted(form_id):
            for fid, value in sub.values.items():  # one pass over each unit's values, not a lookup per field
                if isinstance(value, int) and fid in sums:
                    sums[fid] += value
        return sums

    def rates(self, form_id: str) -> FormRates:
        """报送率, 合格率 and 按时率 of one form (see :class:`FormRates`)."""
        sts = [s for s in self.statuses if s.form_id == form_id]
        return FormRates(due=len(sts), sent=sum(s.sent for s in sts), accepted=sum(s.accepted for s in sts),
                         on_time=sum(s.accepted_on_time for s in sts))

    def outcome_rows(self) -> list[tuple[str, str, str]]:
        """(sha256, file, outcome) of every file, as the ledger records them."""
        return [(s.sha256, s.file, str(s.outcome or "")) for s in self.submissions]

    def status(self, unit_code: str, form_id: str) -> UnitStatus:
        """One unit's standing for one form."""
        return next(s for s in self.statuses if s.unit.code == unit_code and s.form_id == form_id)

    def outcome_counts(self) -> dict[Outcome, int]:
        """How many files ended with each outcome."""
        counts: dict[Outcome, int] = defaultdict(int)
        for sub in self.submissions:
            if sub.outcome is not None:
                counts[sub.outcome] += 1
        return dict(counts)


def _mark_duplicates(subs: list[Submission]) -> None:
    first: dict[str, Submission] = {}
    for sub in subs:
        if sub.outcome or not sub.sha256:
            continue
        if sub.sha256 in first:
            sub.outcome = Outcome.DUPLICATE
            sub.note = f"与“{first[sub.sha256].file}”内容完全相同，只计一次"
            sub.form_id, sub.unit = first[sub.sha256].form_id, first[sub.sha256].unit
        else:
            first[sub.sha256] = sub


def _select(unit: Unit, spec: FormSpec, candidates: list[Submission], campaign: Campaign) -> UnitStatus:
    if not candidates:
        return UnitStatus(unit, spec.id, Status.MISSING)
    # Newest first: one sort key per return, 填报日期 or arrival first (see pipeline.checks.resubmit).
    ordered = sorted(candidates, key=newest_key, reverse=True)
    latest = ordered[0]
    if len(ordered) > 1:
        order_warning(latest, ordered[1])
    passing = [s for s in ordered if s.errors == 0]
    counted = passing[0] if passing else None
    if counted is not None and len(passing) > 1:
        fewer_filled_warning(counted, passing[1], spec)
    for sub in ordered:
        sub.outcome = Outcome.ACCEPTED if sub is counted else (Outcome.REJECTED if sub.errors else Outcome.SUPERSEDED)
        if sub.outcome == Outcome.SUPERSEDED:
            sub.note = f"已被较新的“{counted.file if counted else latest.file}”替代"
    # Passed or warned is settled in build_rollup, once the outlier check has added its warnings.
    status = UnitStatus(unit, spec.id, Status.RETURNED, counted, latest)
    if counted is not None and counted is not latest:
        status.note = f"最新来件“{latest.file}”被退回，汇总暂用较早的合格来件“{counted.file}”"
    due = campaign.deadline(spec.deadline)
    basis = counted or latest
    if basis.arrival is None:
        raise ValueError(f"{basis.file}: build_rollup needs a settled batch (pipeline.intake.settle)")
    status.arrival, status.arrival_source = basis.arrival, basis.arrival_source
    status.on_time = status.arrival <= due
    return status


def _outliers(subs: list[Submission], spec: FormSpec) -> None:
    """Modified z-score (median/MAD) per count field across the counted units."""
    if len(subs) < OUTLIER_MIN_UNITS:
        return
    counts = [f for f in spec.fields if f.kind == "count"]
    # Counted submissions passed validation, so their count values are whole numbers or blank (None: NaN).
    ids = [f.id for f in counts]
    frame = pd.DataFrame(np.array([list(map(s.values.get, ids)) for s in subs], dtype="float64"), columns=ids)
    reported = frame.notna().sum()
    median = frame.median()
    mad = (frame - median).abs().median()
    usable = (reported >= OUTLIER_MIN_UNITS) & (mad > 0)
    z = (0.6745 * (frame - median) / mad.where(usable)).abs()
    for row, col in zip(*(z > OUTLIER_Z).to_numpy().nonzero(), strict=True):
        sub, f = subs[row], counts[col]
        if any(found.field_id == f.id for found in sub.findings):
            continue  # already named once (“—” read as 0, “约20”…): one finding per cell, said once
        raw = sub.raw.get(f.id)
        sub.add(Severity.WARNING, "数值异常", f"数值明显偏离其他单位（各单位中位数为 {median[f.id]:g}），请核实。",
                f.id, f.label, raw.address if raw else "", str(sub.values.get(f.id)))


def _finalise_findings(sub: Submission) -> None:
    code = sub.unit.code if sub.unit else ""
    sub.findings = [dataclasses.replace(f, unit_code=code, form=sub.form_id or "") for f in sub.findings]


def _mismatched(statuses: list[UnitStatus], subs: list[Submission]) -> None:
    """A unit that sent an unreadable return for a form it has nothing else for is 格式不符, not 未报送."""
    found: dict[str, list[Submission]] = defaultdict(list)
    for sub in subs:
        if sub.mismatch == MISMATCH_NAMED and sub.unit is not None:
            found[sub.unit.code].append(sub)
    for st in statuses:
        if st.status != Status.MISSING:
            continue
        files = [s for s in found.get(st.unit.code, []) if s.form_id in (None, st.form_id)]
        if files:
            latest = max(files, key=newest_key)
            st.status, st.latest = Status.MISMATCH, latest
            st.note = f"已收到“{latest.file}”，但无法读取，需按模板重新报送"


def build_rollup(subs: list[Submission], forms: Mapping[str, FormSpec], campaign: Campaign,
                 roster: Roster, confirmed: frozenset[Key] = frozenset(), *, every_unit: bool = True) -> Rollup:
    """Validate, pick each unit's counted submission per form, flag outliers, and set every outcome.

    ``subs`` are settled (:func:`pipeline.intake.settle.settle`: units, 格式不符, date folders): this stage reads
    what intake found and never calls back into it. ``confirmed`` are the values read from scans that the clerk
    marked in 核对.csv (:mod:`pipeline.checks.confirm`). With ``every_unit=False`` only the units that ``subs``
    name get a status (``check`` reports files, not units): the files' outcomes and findings are the same.
    """
    _mark_duplicates(subs)
    merge_parts(subs, forms)
    copies = file_copies(subs)
    apply_confirmed(subs, confirmed)
    for spec in forms.values():
        batch = [s for s in subs if s.form_id == spec.id and not s.outcome]
        validate(batch, spec, campaign)
    rollup = Rollup(campaign, roster, forms, subs, confirmed=confirmed)
    by_key: dict[tuple[str, str], list[Submission]] = defaultdict(list)
    for sub in subs:
        if sub.outcome:
            continue
        if sub.form_id is None or sub.unit is None:
            sub.outcome = Outcome.REJECTED
            continue
        by_key[(sub.unit.code, sub.form_id)].append(sub)
    named = {s.unit.code for s in subs if s.unit is not None}
    units = list(roster) if every_unit else [u for u in roster if u.code in named]
    for spec in forms.values():
        statuses = [_select(u, spec, by_key.get((u.code, spec.id), []), campaign) for u in units]
        counted = [s.counted for s in statuses if s.counted is not None]
        _mismatched(statuses, subs)
        _outliers(counted, spec)
        compare_copies(counted, copies, spec)
        for st in statuses:
            if st.counted is not None and st.counted is st.latest:
                st.status = Status.WARNED if st.counted.warnings else Status.PASSED
        rollup.statuses.extend(statuses)
    for sub in subs:
        _finalise_findings(sub)
    return rollup


def records(rollup: Rollup) -> list[tuple[str, str, str, str, Any]]:
    """Long-format rows of every counted submission, one per filled field: (unit_code, unit_name, form, field_id, value)."""
    rows: list[tuple[str, str, str, str, Any]] = []
    ids = {form_id: [f.id for f in spec.fields] for form_id, spec in rollup.forms.items()}
    for st in rollup.statuses:
        if st.counted is None:
            continue
        get = st.counted.values.get
        code, name, form = st.unit.code, st.unit.name, st.form_id
        for fid in ids[form]:
            value = get(fid)
            if value is not None:
                rows.append((code, name, form, fid, value.isoformat() if isinstance(value, dt.date) else value))
    return rows
