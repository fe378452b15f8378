"""格式不符: a file that is evidently a return but cannot be read is tied to its unit, never filed as material.

A file is evidently a return when its name (or the opening text of a document) names a form
(its annex “附件1”/“附件一”, its short title “情况统计表”, the title's last word “统计表”), or when
it is a spreadsheet the reader could not use. Such a file gets the 错误 ``格式不符`` and the outcome
无法识别; its unit then shows 格式不符 instead of 未报送 (:func:`pipeline.checks.rollup.build_rollup`).
A document that names no form but is the only thing its unit sent is a candidate (``mismatch =
"alone"``): it stays material unless the batch holds nothing else from that unit (:func:`settle_alone`, run by
:mod:`pipeline.intake.settle` before validation).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

from pipeline.forms.spec import FormSpec, short_title
from pipeline.model import MISMATCH_ALONE, MISMATCH_NAMED, Outcome, Severity, Submission
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster, Unit, normalise_name
from pipeline.units.attribution import attribute_file

RULE = "格式不符"
NAMED = MISMATCH_NAMED  # the name or text says it is a return
ALONE = MISMATCH_ALONE  # a document that is the only thing its unit sent, if the batch shows so (settle_alone)
_NUMERALS = "〇一二三四五六七八九"
# Words in a file name that make a document something else than a return.
NOT_RETURN_WORDS = ("总结", "通知", "方案")


def _keywords(spec: FormSpec) -> tuple[str, ...]:
    """The words that name ``spec`` in a file name or a document's title, normalised."""
    annex = normalise_name(spec.annex)
    words = {annex}
    digits = "".join(ch for ch in annex if ch.isdigit())
    if digits and len(digits) == 1:
        words.add(annex.replace(digits, _NUMERALS[int(digits)]))
    short = normalise_name(short_title(spec).replace("{year}", "")).removeprefix("活动")
    if len(short) >= 3:
        words.update({short, short[-3:]})
    return tuple(sorted(words, key=len, reverse=True))


@functools.lru_cache(maxsize=16)
def _all_keywords(forms: tuple[FormSpec, ...]) -> tuple[tuple[FormSpec, tuple[str, ...]], ...]:
    return tuple((spec, _keywords(spec)) for spec in forms)


def named_forms(texts: Iterable[str], forms: Mapping[str, FormSpec]) -> list[FormSpec]:
    """The forms whose annex or title one of ``texts`` names (a file name, a document's first lines)."""
    folded = "|".join(normalise_name(t) for t in texts)
    if not folded:
        return []
    return [spec for spec, words in _all_keywords(tuple(forms.values())) if any(w in folded for w in words)]


def name_texts(file: str) -> list[str]:
    """The parts of a shown file name that may name a form: the file, its folders, archive and sheet names."""
    text = file.replace("!/", "/").replace("#", "/")
    path = PurePosixPath(text)
    return [path.stem, *path.parts[:-1]]


def not_a_return(file: str) -> bool:
    """Whether the file's own name says it is something else (an 活动总结, a notice, a plan)."""
    stem = normalise_name(PurePosixPath(file.replace("!/", "/")).stem)
    return any(word in stem for word in NOT_RETURN_WORDS)


def tie_unit(sub: Submission, campaign: Campaign, roster: Roster) -> Unit | None:
    """The unit a file belongs to by its sender, folder, archive or file name (:mod:`pipeline.units.attribution`)."""
    if sub.unit is not None:
        return sub.unit
    return attribute_file(sub, roster, campaign.county).unit


ADVICE = "请使用下发的 Excel 模板填写后，将 .xlsx 文件直接作为附件重新发送；不要发送照片、截图或扫描件。"


def mark(sub: Submission, forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster, reason: str,
         texts: Iterable[str] = (), advice: str = ADVICE, *, finding: bool = True) -> None:
    """Make ``sub`` a 格式不符 return: outcome 无法识别, its unit and (when named) form, one 错误 saying what to do.

    ``finding=False`` when the file already carries an 错误 that says why and what to do (a broken workbook).
    """
    named = named_forms([*name_texts(sub.file), *texts], forms)
    sub.outcome, sub.mismatch, sub.material_kind = Outcome.UNSUPPORTED, NAMED, ""
    sub.form_id = named[0].id if len(named) == 1 else None
    sub.unit = tie_unit(sub, campaign, roster)
    what = named[0].annex if len(named) == 1 else "报表"
    sub.note = f"看起来是{what}，但无法读取（格式不符）"
    if not finding or any(f.rule == RULE for f in sub.findings):
        return
    sub.add(Severity.ERROR, RULE, f"该文件看起来是报送的{what}，但无法读取其中的数字（{reason}），已按“格式不符”登记。"
            + advice)


def settle_alone(subs: list[Submission], forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster) -> None:
    """Candidates (``mismatch == "alone"``) that are the only file their unit sent become 格式不符; the rest stay material."""
    sent: dict[str, int] = {}
    for sub in subs:
        if sub.unit is not None and sub.outcome not in (Outcome.UNPACKED, Outcome.IGNORED):
            sent[sub.unit.code] = sent.get(sub.unit.code, 0) + 1
    for sub in subs:
        if sub.mismatch == ALONE and sub.outcome == Outcome.MATERIAL and sub.unit is not None \
                and sent.get(sub.unit.code) == 1:
            sub.findings = [f for f in sub.findings if f.severity != Severity.WARNING or f.rule != "不是报表"]
            mark(sub, forms, campaign, roster, "它是该单位发来的唯一文件，且不是可读取的报表")
