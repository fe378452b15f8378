"""Year over year (同比) in the 总结: each 活动项目's participation against last year's records."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pipeline.outputs.compare import previous_totals
from pipeline.report.figures import PEOPLE_UNITS, Figures
from pipeline.report.numbers import change


def with_previous(fig: Figures, records: Path | None) -> Figures:
    """``fig`` with the 同比 of each 活动项目's participation, when last year's records are given.

    Only the fields last year also had are compared; an item none of whose fields last year had is new.
    """
    if records is None:
        return fig
    before = previous_totals(records, fig.spec.id)
    sections = []
    for s in fig.sections:
        counts = [f for f in s.section.fields if f.kind == "count"]
        people = [f for f in counts if f.unit in PEOPLE_UNITS] or counts
        known = [f for f in people if f.id in before]
        text = change(sum(s.totals[f.id] for f in known), sum(before[f.id] for f in known)) if known else ""
        sections.append(dataclasses.replace(s, change="" if text == "—" else text, new=not known))
    return dataclasses.replace(fig, sections=tuple(sections), compared=True)
