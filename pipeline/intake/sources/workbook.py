"""Workbooks (.xlsx and .xls, our template or a close copy of it): the last source, it takes every file left."""

from __future__ import annotations

from pipeline.intake.sources import Context, Source
from pipeline.model import Outcome, Submission
from pipeline.safety.sniff import FORM, SPREADSHEET, SPREADSHEET_SUFFIXES, Sniffed
from pipeline.units import mismatch
from pipeline.workbook.read import read_return


def _take(sub: Submission, sniffed: Sniffed, ctx: Context) -> bool | list[Submission]:
    # Guards, time limit, read and normalise; an unusable file becomes an 错误 finding, never an exception.
    read_return(sub, sniffed, ctx.forms, ctx.campaign, ctx.roster)
    if sub.members:  # a workbook holding several forms: each sheet is its own return (pipeline.workbook.sheets)
        return sub.members
    if sub.outcome != Outcome.UNSUPPORTED and (sub.form_id is not None or not sub.errors):
        return True  # the common case: a return that was read
    if sub.program_error:
        return True  # our fault, not the unit's: logged, and never answered as 格式不符
    claims = sniffed.category in (FORM, SPREADSHEET) or sub.path.suffix.lower() in SPREADSHEET_SUFFIXES \
        or bool(mismatch.named_forms(mismatch.name_texts(sub.file), ctx.forms))
    if claims:
        # A spreadsheet (or a file claiming to be one) that cannot be read is a return in the wrong format;
        # its 错误 already says why and what to do.
        mismatch.mark(sub, ctx.forms, ctx.campaign, ctx.roster, "文件无法读取", finding=not sub.errors)
    return True


SOURCE = Source("workbook", 90, _take)
