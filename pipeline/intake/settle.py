"""What only the whole batch can tell, settled after every file is read and before validation.

The checks stage (:mod:`pipeline.checks`) reads these fields and never calls back into intake:

- ``filed``: the date of the ``YYYY-MM-DD`` folder a file lies in (:func:`pipeline.intake.arrival.folder_date`);
- ``arrival``/``arrival_source``: the day it arrived for on-time, and what says so (:func:`pipeline.intake.arrival.arrival`);
- 格式不符 of a document that is the only thing its unit sent (:func:`pipeline.units.mismatch.settle_alone`).
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.forms.spec import FormSpec
from pipeline.intake.arrival import arrival, folder_date
from pipeline.model import Submission
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster
from pipeline.units.mismatch import settle_alone


def settle(subs: list[Submission], forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster) -> None:
    """Settle the batch-wide facts of ``subs`` (every file and member, flattened) in place."""
    for sub in subs:
        sub.filed = folder_date(sub.file)
        sub.arrival, sub.arrival_source = arrival(sub.file, sub.mtime, sub.report_date, sub.arrived)
    settle_alone(subs, forms, campaign, roster)
