"""报送率 and 按时率 of one form, from the unit statuses.

MERGE: the shared definition of the rates (报送率/合格率/按时率) is being added to
:class:`pipeline.checks.rollup.Rollup` on another branch; once merged, :func:`form_rates` should
return those instead of counting here. It counts as :func:`pipeline.job.summary_lines` does.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.checks.rollup import Rollup
from pipeline.model import Status


@dataclass(frozen=True)
class Rates:
    """The counts behind the rates of one form: units due, returns counted, on time, passed without warning."""

    due: int
    counted: int
    on_time: int
    passed: int


def form_rates(rollup: Rollup, form_id: str) -> Rates:
    """The counts of one form: 报送率 = counted / due, 按时率 = on_time / due, 合格率 = passed / counted."""
    statuses = [s for s in rollup.statuses if s.form_id == form_id]
    counted = [s for s in statuses if s.counted is not None]
    return Rates(
        due=len(rollup.roster),
        counted=len(counted),
        on_time=sum(bool(s.on_time) for s in counted),
        passed=sum(s.status in (Status.PASSED, Status.WARNED) for s in statuses),
    )
