"""Workbooks (.xlsx and .xls, our template or a close copy of it): the last source, it takes every file left."""

from __future__ import annotations

from pipeline.intake.read import read_return
from pipeline.intake.sniff import Sniffed
from pipeline.intake.sources import Context, Source
from pipeline.model import Submission


def _take(sub: Submission, sniffed: Sniffed, ctx: Context) -> bool:
    # Guards, time limit, read and normalise; an unusable file becomes an 错误 finding, never an exception.
    read_return(sub, sniffed, ctx.forms, ctx.campaign, ctx.roster)
    return True


SOURCE = Source("workbook", 90, _take)
