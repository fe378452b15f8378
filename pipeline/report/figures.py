"""What the documents upward say, taken from the rollup: totals, rates, leading units, cases, problems, photos.

Every number of the 总结 and of the county's 附件1 comes from here, and everything here comes from the
:class:`~pipeline.checks.rollup.Rollup` and the form spec; no wording lives in this module.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.checks.rollup import FormRates, Rollup
from pipeline.errors import ReportError
from pipeline.forms.spec import FormSpec, Section
from pipeline.intake.materials import IMAGE
from pipeline.model import Status
from pipeline.outputs.materials_report import materials

LEADERS = 3  # units named per 活动项目 for the largest participation
PHOTOS = 6  # photos under “附：活动图片”
PEOPLE_UNITS = ("人次", "人")  # the units of a participation count
TEMPLATE_READ = "模板"  # 读取方式 values starting so were read from our template; the rest the clerk should check
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp")

_BLANK = re.compile(r"（\{([a-z][a-z0-9_]*)\}）")


@dataclass(frozen=True)
class Leader:
    """A unit with one of the largest participations in a 活动项目."""

    name: str
    value: int
    unit: str  # 人次, or the unit of the counts summed


@dataclass(frozen=True)
class SectionFigures:
    """One 活动项目 with the county's totals."""

    section: Section
    totals: Mapping[str, int]
    cases: int  # answers in the section's free-text fields
    leaders: tuple[Leader, ...]
    change: str = ""  # 同比 of the participation (“增长12.5%”), when a previous year is compared
    new: bool = False  # compared, but last year's records have none of its fields


@dataclass(frozen=True)
class Case:
    """One 典型案例 (an answer in a free-text field) and its unit."""

    unit: str
    label: str
    text: str


@dataclass(frozen=True)
class Photo:
    """A photo received as material, with its unit."""

    unit: str
    path: Path


@dataclass(frozen=True)
class Figures:
    """Everything the documents upward are written from, for one statistics form."""

    rollup: Rollup
    spec: FormSpec
    report_date: dt.date
    totals: Mapping[str, int]
    rates: FormRates
    sections: tuple[SectionFigures, ...]
    cases: tuple[Case, ...]
    missing: tuple[str, ...]  # units 未报送
    late: tuple[str, ...]  # units whose counted return came after the deadline
    returned: tuple[str, ...]  # units whose latest return was 退回 or 格式不符
    unchecked: tuple[tuple[str, str], ...]  # (unit, 读取方式) of returns not read from the template
    photos: tuple[Photo, ...]
    compared: bool = False  # whether the 同比 figures are filled in


def statistics_forms(rollup: Rollup) -> list[FormSpec]:
    """The forms whose totals go upward: those with 进展情况 sentences (附件1)."""
    return [spec for spec in rollup.forms.values() if spec.has_sentences]


def fill_blanks(sentence: str, value: Callable[[str], str], *, brackets: bool) -> str:
    """A spec sentence with each blank “（{id}）” holding ``value(id)``, in its brackets or without them."""
    return _BLANK.sub(lambda m: f"（{value(m.group(1))}）" if brackets else value(m.group(1)), sentence)


def _leaders(rollup: Rollup, spec: FormSpec, section: Section) -> tuple[Leader, ...]:
    counts = [f for f in section.fields if f.kind == "count"]
    people = [f for f in counts if f.unit in PEOPLE_UNITS] or counts
    units = {f.unit for f in people}
    # One unit for all (人次), or 人次 for a mix of 人 and 人次; counts of different kinds are summed without one.
    unit = next(iter(units)) if len(units) == 1 else ("人次" if units <= set(PEOPLE_UNITS) else "")
    ranked: list[tuple[int, int, str]] = []
    for order, st in enumerate(s for s in rollup.statuses if s.form_id == spec.id):
        if st.counted is None:
            continue
        total = sum(v for f in people if isinstance(v := st.counted.values.get(f.id), int))
        if total > 0:
            ranked.append((-total, order, st.unit.name))
    return tuple(Leader(name, -neg, unit) for neg, _, name in sorted(ranked)[:LEADERS])


def _cases(rollup: Rollup, spec: FormSpec) -> tuple[Case, ...]:
    texts = [f for f in spec.body_fields if f.kind == "text"]
    found: list[Case] = []
    for st in rollup.statuses:
        if st.form_id != spec.id or st.counted is None:
            continue
        for f in texts:
            value = st.counted.values.get(f.id)
            if isinstance(value, str) and value.strip():
                found.append(Case(st.unit.name, f.label, value.strip()))
    return tuple(found)


def _photos(rollup: Rollup) -> tuple[Photo, ...]:
    found: list[Photo] = []
    for sub in materials(rollup):
        if len(found) == PHOTOS:
            break
        if (sub.material_kind == IMAGE and sub.unit is not None and sub.path.suffix.lower() in PHOTO_SUFFIXES
                and sub.path.is_file()):
            found.append(Photo(sub.unit.name, sub.path))
    return tuple(found)


def figures(rollup: Rollup, spec: FormSpec, report_date: dt.date) -> Figures:
    """The figures of one statistics form; :class:`ReportError` when no unit's return counts yet."""
    statuses = [s for s in rollup.statuses if s.form_id == spec.id]
    if not any(s.counted is not None for s in statuses):
        raise ReportError(
            f"{spec.annex}（{spec.title_for(rollup.campaign.year)}）还没有任何单位的合格来件，无法生成上报材料。"
            f"请先把各单位发回的文件放入来件目录并运行 make rollup 查看报送情况；没有写出任何文件。")
    totals = rollup.totals(spec.id)
    cases = _cases(rollup, spec)
    sections = tuple(
        SectionFigures(
            section, {f.id: totals[f.id] for f in section.fields if f.kind == "count"},
            sum(c.label in {f.label for f in section.fields} for c in cases), _leaders(rollup, spec, section))
        # The sentences with this campaign's {theme}, {year} and {edition} (pipeline.forms.spec.CAMPAIGN_WORDS).
        for section in spec.for_campaign(rollup.campaign.year, rollup.campaign.theme, rollup.campaign.edition).sections)
    counted = [s for s in statuses if s.counted is not None]
    return Figures(
        rollup=rollup, spec=spec, report_date=report_date, totals=totals, rates=rollup.rates(spec.id),
        sections=sections, cases=cases,
        missing=tuple(s.unit.name for s in statuses if s.status == Status.MISSING),
        late=tuple(s.unit.name for s in counted if s.on_time is False),
        returned=tuple(s.unit.name for s in statuses if s.status in (Status.RETURNED, Status.MISMATCH)),
        unchecked=tuple((s.unit.name, how) for s in counted
                        if (how := s.counted.read_as if s.counted else "") and not how.startswith(TEMPLATE_READ)),
        photos=_photos(rollup),
    )



def header_values(fig: Figures) -> dict[str, Any]:
    """The header fields of the county's own return, by kind: the bureau, its contact and the report date."""
    c = fig.rollup.campaign
    by_kind: Mapping[str, Any] = {"unit": c.bureau, "person": c.contact_person, "phone": c.contact_phone,
                                  "mobile": c.contact_phone, "email": c.contact_email, "date": fig.report_date}
    return {f.id: by_kind[f.kind] for f in fig.spec.header if f.kind in by_kind}


def case_summary(count: int) -> str:
    """The free-text blank of the county's table: how many 典型案例, and where they are."""
    return f"共{count}个，具体见活动总结" if count else "无"
