"""Supporting material (活动总结, text, photos, videos, archives): listed and attributed, never read as a form."""

from __future__ import annotations

from pipeline.intake.materials import recognise, register_material
from pipeline.intake.sniff import Sniffed
from pipeline.intake.sources import Context, Source
from pipeline.model import Submission


def _take(sub: Submission, sniffed: Sniffed, ctx: Context) -> bool:
    material = recognise(sub.path, sniffed)
    if material is None:
        return False
    register_material(sub, material, ctx.campaign, ctx.roster)
    return True


SOURCE = Source("material", 50, _take)
