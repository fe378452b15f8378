"""报送率, 合格率 and 按时率 of one form, from the unit statuses.

MERGE: branch ``print`` defines the same three rates once, as ``Rollup.rates(form_id)`` returning
``FormRates(due, sent, accepted, on_time)`` in :mod:`pipeline.checks.rollup`. :class:`Rates` has the
same fields and definitions, so once that is merged :func:`form_rates` becomes
``return rollup.rates(form_id)`` and this class goes.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.checks.rollup import Rollup
from pipeline.model import Status


@dataclass(frozen=True)
class Rates:
    """The counts behind the rates of one form, each rate over the units due (every roster unit).

    报送率 = sent / due (sent anything, whatever became of it); 合格率 = accepted / due (a return counts);
    按时率 = on_time / due (the counted return arrived by the deadline).
    """

    due: int
    sent: int
    accepted: int
    on_time: int


def form_rates(rollup: Rollup, form_id: str) -> Rates:
    """The counts of one form's rates."""
    statuses = [s for s in rollup.statuses if s.form_id == form_id]
    return Rates(
        due=len(statuses),
        sent=sum(s.status != Status.MISSING for s in statuses),
        accepted=sum(s.counted is not None for s in statuses),
        on_time=sum(s.counted is not None and bool(s.on_time) for s in statuses),
    )
