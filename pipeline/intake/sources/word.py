"""附件1 filled in on the notice's own Word form (.docx; .doc/.wps/.odt/.rtf through LibreOffice) or a text PDF.

The blanks are found by the spec's 进展情况 sentences (:mod:`pipeline.documents.sentences`); the raw
text in each becomes an ordinary submission that is normalised, validated and counted like a
workbook. A document in which no sentence is found is left to the next source (material).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from pipeline.documents.extract import OFFICE_KINDS, DocumentError, WordReturn, read_word_form
from pipeline.forms.spec import FormSpec
from pipeline.intake.materials import SUMMARY_WORD
from pipeline.intake.sources import Context, Source
from pipeline.model import RawCell, Submission
from pipeline.safety.guards import FileTimeout, GuardError, check_package, check_size, time_limit
from pipeline.safety.sniff import Sniffed
from pipeline.units.identity import check_identity
from pipeline.values.normalise import normalise_submission

KINDS = frozenset({"docx", "pdf", *OFFICE_KINDS})


def _best(sub: Submission, kind: str, forms: list[FormSpec]) -> tuple[FormSpec, WordReturn] | None:
    """The statistics form whose sentences the document matches best, if any matches at all."""
    best: tuple[FormSpec, WordReturn] | None = None
    for spec in forms:
        ret = read_word_form(sub.path, kind, spec)
        if ret.is_form and (best is None or len(ret.found) > len(best[1].found)):
            best = (spec, ret)
    return best


def is_summary(file: str, spec: FormSpec, ret: WordReturn) -> bool:
    """A document named as a 总结 that fills in no 填报单位 is an 活动总结 quoting the form's sentences, not a return.

    A county's own 总结 (``make report``) quotes every sentence with its totals; it is material.
    """
    return SUMMARY_WORD in PurePosixPath(file).name and not ret.header.get(spec.roles.unit)


def _fill(sub: Submission, spec: FormSpec, ret: WordReturn) -> None:
    sub.form_id, sub.sheet, sub.located_by, sub.read_as = spec.id, "", "sentences", ret.read_as
    for fid, value in {**ret.header, **ret.values}.items():
        if value is not None:
            sub.raw[fid] = RawCell(value, ret.places.get(fid, ""))
    for issue in ret.issues:
        sub.add(*issue)


def _take(sub: Submission, sniffed: Sniffed, ctx: Context) -> bool:
    forms = [f for f in ctx.forms.values() if f.has_sentences]
    if sniffed.kind not in KINDS or not forms:
        return False
    limits = ctx.campaign.limits
    try:
        check_size(sub.size, limits)
        if sniffed.kind == "docx":  # the same package guards as a workbook, before python-docx inflates any part
            check_package(sub.path, limits)
        with time_limit(limits.seconds_per_file):
            found = _best(sub, sniffed.kind, forms)
    except (DocumentError, GuardError, FileTimeout):
        # Not readable as a form here; the material source lists it, and says why when it is evidently a return.
        return False
    if found is None:
        return False
    spec, ret = found
    if is_summary(sub.file, spec, ret):
        return False
    _fill(sub, spec, ret)
    check_identity(sub, spec, ctx.campaign, ctx.roster)
    normalise_submission(sub, spec, ctx.campaign.year)
    return True


SOURCE = Source("word", 40, _take)
