"""附件1 filled in on the notice's own Word form (.docx; .doc/.wps/.odt/.rtf through LibreOffice) or a text PDF.

The blanks are found by the spec's 进展情况 sentences (:mod:`pipeline.documents.sentences`); the raw
text in each becomes an ordinary submission that is normalised, validated and counted like a
workbook. A document in which no sentence is found is left to the next source (material).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from pipeline.documents.extract import NO_OFFICE, OFFICE_KINDS, TIMEOUT, DocumentError, WordReturn, read_word_form
from pipeline.faults import NO_TOOL_RULE, RETRY, TIMEOUT_RULE, MachineFaultError
from pipeline.forms.spec import FormSpec
from pipeline.intake.materials import SUMMARY_WORD
from pipeline.intake.sources import Context, Source
from pipeline.model import RawCell, Submission
from pipeline.safety.badbytes import technical
from pipeline.safety.guards import GuardError, check_package, check_size
from pipeline.safety.sniff import Sniffed
from pipeline.units.identity import check_identity
from pipeline.values.normalise import normalise_submission

KINDS = frozenset({"docx", "pdf", *OFFICE_KINDS})
# Why LibreOffice could not convert a file, when that is this computer's fault, and what to do about it.
MACHINE_REASONS = (NO_OFFICE, TIMEOUT)
MACHINE_ADVICE = {
    NO_OFFICE: "“{name}”是旧版 Word/WPS 文字格式（或 RTF、ODT），读取它需要 LibreOffice，本机没有安装或无法启动。"
               f"请安装 LibreOffice（免费软件，安装后无需设置），{RETRY}",
    TIMEOUT: "用 LibreOffice 转换“{name}”超时，已停止转换（本机繁忙或 LibreOffice 启动过慢）。"
             f"{RETRY}；如仍超时，可在 campaign.toml 的 [limits] 中调大 seconds_per_file",
}


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
        found = _best(sub, sniffed.kind, forms)
    except DocumentError as exc:
        if exc.reason in MACHINE_REASONS:  # LibreOffice missing or too slow: this computer's problem, not the file's
            raise MachineFaultError(TIMEOUT_RULE if exc.reason == TIMEOUT else NO_TOOL_RULE,
                                    MACHINE_ADVICE[exc.reason].format(name=PurePosixPath(sub.file).name)) from exc
        if exc.__cause__ is not None:
            sub.details.append(technical(exc.__cause__))
        # Not readable as a form here; the material source lists it, and says why when it is evidently a return.
        return False
    except GuardError:
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
