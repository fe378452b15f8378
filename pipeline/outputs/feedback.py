"""Feedback workbooks: the unit's own form, refilled with what it sent, problems marked in red.

For every unit and form whose latest submission was returned (退回) or passed with
warnings (有警告), :func:`write_feedback` writes ``outbox/feedback/<template>_审核反馈.xlsx``:
a fresh copy of the form (same ``_meta``, defined names and cells as the template), prefilled
with the unit's values, each offending cell highlighted with a comment, and a first sheet
审核意见 listing the problems. No row is inserted above the form: every address in the notice,
the mail, 校验问题 and ``issues.csv`` is the same. The unit corrects the red cells and sends
the file back; the rollup reads it as its newer submission.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.faults import PROGRAM_ERROR_NOTE, is_disk_full, log_error
from pipeline.forms.generate import FormContent, generated_at, write_form
from pipeline.forms.layout import build_layout
from pipeline.forms.spec import Field, FormSpec, template_name
from pipeline.model import Finding, Severity, Status, Submission
from pipeline.outputs.limits import clip
from pipeline.store.atomic import write_bytes_atomic

if TYPE_CHECKING:  # pipeline.checks.rollup pulls in pandera: imported where used, so the CLI starts fast
    from pipeline.checks.rollup import Rollup, UnitStatus

# pipeline.checks.rollup's statuses, repeated for the same reason (tests/test_feedback.py checks they agree).

FEEDBACK_DIR = "feedback"
FEEDBACK_SUFFIX = "_审核反馈.xlsx"
QUOTED_CHARS = 200  # a unit's value quoted in a notice or mail is cut to this (the cell holds it whole)
# A late submission is stated, never marked for correction: the unit must not "fix" its date.
LATE_RULE = "逾期报送"
# Problems with the template itself: the feedback workbook *is* the current template, so the
# reader's advice "use the latest template" becomes "check the answers carried over and send back".
_CARRIED_OVER = "本反馈表已按{year}年最新下发的模板生成，并已填入贵单位原报送的内容，请逐项核对后直接发回。"
TEMPLATE_RULES = {
    "模板版本过期": "贵单位使用的是旧版模板。",
    "其他年度模板": "贵单位使用的是其他年度的模板。",
    "无模板标识": "贵单位的文件不是直接在下发的模板上填写的。",
}


def today() -> dt.date:
    """The date used in notices: SOURCE_DATE_EPOCH when set (reproducible output), else today."""
    return dt.date.fromisoformat(generated_at())


def cn_date(day: dt.date) -> str:
    """A date as the plan writes it: 6月30日."""
    return f"{day.month}月{day.day}日"


def cn_full_date(day: dt.date) -> str:
    """A date with the year, for the sign-off of a notice: 2023年6月30日."""
    return f"{day.year}年{day.month}月{day.day}日"


def form_title(spec: FormSpec, year: int) -> str:
    """The form's title as quoted in Chinese text: 《2023年“安全生产月”活动联络员表》."""
    return f"《{spec.title_for(year)}》"


INDEX_NAME = ".feedback-index.json"  # in outbox/: file name -> content digest of each feedback workbook


def feedback_name(spec: FormSpec, status: UnitStatus) -> str:
    """File name of a unit's feedback workbook: the template's name plus 审核反馈."""
    return template_name(spec, status.unit).removesuffix(".xlsx") + FEEDBACK_SUFFIX


@dataclass(frozen=True)
class Feedback:
    """One feedback workbook to write: whose, why, and what goes into it."""

    status: UnitStatus
    spec: FormSpec
    submission: Submission
    path: Path
    problems: tuple[str, ...]  # numbered items, as listed in the notice and in the mail
    content: FormContent

    @property
    def returned(self) -> bool:
        """True when the submission was returned (退回), False when it passed with warnings."""
        return self.status.status == Status.RETURNED


def _fits(f: Field, value: Any) -> bool:
    """Whether a normalised value has its field's type (else the unit's raw text is shown)."""
    if f.kind == "count":
        return isinstance(value, int) and not isinstance(value, bool)
    if f.kind == "date":
        return isinstance(value, dt.date)
    return isinstance(value, str)


def _prefill(spec: FormSpec, sub: Submission, marked: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """What the unit sent: the normalised value, or the raw text where it could not be understood.

    A ``marked`` cell shows the text as the unit typed it (“12次”, not 12), so that the cell the notice,
    the mail and 校验问题 name holds the value they quote.
    """
    from pipeline.values.normalise import display

    values: dict[str, Any] = {}
    for f in spec.fields:
        value = sub.values.get(f.id)
        raw = sub.raw.get(f.id)
        if f.id in marked and raw is not None and isinstance(raw.value, str) and raw.value.strip():
            values[f.id] = raw.value
            continue
        if value is None:
            continue  # blank, or a formula without a result (its comment says so)
        if _fits(f, value):
            values[f.id] = value
        else:
            # A count of 3.5 shown through the "0" number format would read 4: keep the text as typed.
            values[f.id] = display(raw.value if raw is not None and raw.value is not None else value)
    return values


def _item(index: int, finding: Finding, field: Field | None, address: str, year: int) -> str:
    head = f"{index}.【{finding.severity}】"
    if finding.rule in TEMPLATE_RULES:
        return head + TEMPLATE_RULES[finding.rule] + _CARRIED_OVER.format(year=year)
    if field is None:
        return head + finding.message
    where = f"单元格 {finding.cell or address}（{field.label}）"
    if finding.cell and address and finding.cell != address:  # the unit's sheet was not laid out as the template
        where = f"原文件单元格 {finding.cell}（{field.label}，本反馈表中为 {address}）"
    if finding.value:
        where += f"，所填内容“{clip(finding.value, QUOTED_CHARS)}”"
    return f"{head}{where}：{finding.message}"


def headline(spec: FormSpec, status: UnitStatus, year: int, due: dt.date, on: dt.date) -> str:
    """The first line of the notice: what happened and by when to send the corrected file."""
    title = form_title(spec, year)
    when = f"于{cn_date(due)}前" if on <= due else f"尽快（报送截止日期为{cn_date(due)}）"
    if status.status == Status.RETURNED:
        return f"贵单位报送的{title}经审核存在以下问题，请在标红的单元格中更正后{when}重新报送："
    return (f"贵单位报送的{title}已通过审核，但存在以下需要核实的问题。如确有差错，请在标红的单元格中更正后"
            f"{when}重新报送；核实无误的，无需再次报送：")


def _findings_in_order(spec: FormSpec, sub: Submission) -> list[Finding]:
    """Errors before warnings; within each, form order (file-wide problems first)."""
    order = {f.id: i for i, f in enumerate(spec.fields)}
    return sorted(sub.findings, key=lambda f: (f.severity != Severity.ERROR, order.get(f.field_id, -1)))


def plan_feedback(outbox: Path, rollup: Rollup, on: dt.date | None = None) -> list[Feedback]:
    """The feedback workbooks this rollup calls for, in roster order, without writing them."""
    on = on or today()
    campaign = rollup.campaign
    items: list[Feedback] = []
    for st in rollup.statuses:
        if st.status not in (Status.RETURNED, Status.WARNED) or st.latest is None:
            continue
        spec = rollup.forms[st.form_id]
        sub = st.latest
        layout = build_layout(spec, campaign.year)
        known = {f.id for f in spec.fields}
        marks: dict[str, list[str]] = defaultdict(list)
        problems: list[str] = []
        for finding in _findings_in_order(spec, sub):
            field = spec.field(finding.field_id) if finding.field_id in known else None
            address = layout.address(field.id) if field is not None else ""
            problems.append(_item(len(problems) + 1, finding, field, address, campaign.year))
            if field is not None and finding.rule != LATE_RULE:
                marks[field.id].append(f"【{finding.severity}】{finding.message}")
        due = campaign.deadline(spec.deadline)
        notice = (headline(spec, st, campaign.year, due, on), *problems)
        content = FormContent(unit=st.unit, values=_prefill(spec, sub, set(marks)),
                              marks={fid: "\n".join(msgs) for fid, msgs in marks.items()}, notice=notice,
                              read_map=tuple(sub.read_map))
        path = outbox / FEEDBACK_DIR / feedback_name(spec, st)
        items.append(Feedback(st, spec, sub, path, tuple(problems), content))
    return items


def _digest(item: Feedback, rollup: Rollup) -> str:
    """What a feedback workbook is made of; equal digests give the same workbook."""
    content = item.content
    from pipeline.program import program_digest

    parts = (program_digest(), item.spec.version, repr(rollup.campaign), generated_at(), repr(content.unit),
             repr(sorted(content.values.items())), repr(sorted(content.marks.items())), repr(content.notice),
             repr(content.read_map))
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def write_planned(outbox: Path, rollup: Rollup, items: list[Feedback], failures: list[str] | None = None) -> list[Path]:
    """Write planned feedback workbooks; remove those of earlier runs that no longer apply.

    A workbook whose content is unchanged since the last run is left as it is, so re-running
    the rollup near the deadline does not regenerate hundreds of identical files. A workbook that
    cannot be written, for whatever reason, is logged as a program error, named in ``failures``
    and left out (an older one of the same name is removed, so it cannot be sent); the rest go on.
    """
    folder = outbox / FEEDBACK_DIR
    index_path = outbox / INDEX_NAME
    try:
        index: dict[str, str] = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        index = {}
    written: list[Path] = []
    fresh: dict[str, str] = {}
    for item in items:
        digest = _digest(item, rollup)
        if index.get(item.path.name) != digest or not item.path.is_file():
            try:
                write_form(item.path, item.spec, rollup.campaign, item.content)
            except Exception as exc:  # one unit's workbook must never stop the others
                if is_disk_full(exc):
                    raise  # no other output can be written either: the run ends (pipeline.job)
                log_error(f"写审核反馈表“{item.path.name}”时出错", exc)
                if failures is not None:
                    failures.append(failed_line(item))
                continue
        written.append(item.path)
        fresh[item.path.name] = digest
    if folder.is_dir():
        for old in folder.glob(f"*{FEEDBACK_SUFFIX}"):
            if old.name not in fresh:
                old.unlink()  # that unit has since passed: its old feedback must not be sent
        write_bytes_atomic(index_path, json.dumps(fresh, ensure_ascii=False, indent=1).encode("utf-8"))
    return written


def failed_line(item: Feedback) -> str:
    """The summary line for a feedback workbook that could not be written."""
    unit = item.status.unit
    return f"{unit.code} {unit.name} {item.spec.annex}（{item.status.status}）：审核反馈表未能生成，{PROGRAM_ERROR_NOTE}。"


def write_feedback(outbox: Path, rollup: Rollup, failures: list[str] | None = None) -> list[Path]:
    """Write every feedback workbook into ``outbox/feedback/`` and return their paths.

    Feedback workbooks of earlier runs that no longer apply (the unit has since passed)
    are removed, so the folder always matches the current status.
    """
    return write_planned(outbox, rollup, plan_feedback(outbox, rollup), failures)


# The Makefile's own folders: a hint names a folder only when the run used another one.
MAKE_DEFAULTS = {"INBOX": Path("inbox"), "OUTBOX": Path("outbox")}


def make_command(target: str, inbox: Path | None, outbox: Path) -> str:
    """``make <target>`` with the folders of this run where they differ from the Makefile's defaults."""
    words = [f"make {target}"]
    for name, folder in (("INBOX", inbox), ("OUTBOX", outbox)):
        if folder is not None and Path(folder) != MAKE_DEFAULTS[name]:
            value = Path(folder).as_posix()
            words.append(f'"{name}={value}"' if any(c.isspace() for c in value) else f"{name}={value}")
    return " ".join(words)


def summary_line(outbox: Path, rollup: Rollup, written: list[Path], inbox: Path | None = None) -> str:
    """One Chinese line about the feedback workbooks written by :func:`write_feedback`, with the mail commands
    for this run's folders (``inbox`` None: the hint names the outbox only)."""
    if not written:
        return "没有退回或有警告的报表，未生成审核反馈表。"
    pending = [s for s in rollup.statuses if s.latest is not None]
    returned = sum(s.status == Status.RETURNED for s in pending)
    warned = sum(s.status == Status.WARNED for s in pending)
    return (f"审核反馈表已生成 {len(written)} 份（退回 {returned} 份、有警告 {warned} 份），保存在 "
            f"{outbox / FEEDBACK_DIR}/；退回的可用 {make_command('remind', inbox, outbox)}、"
            f"有警告的可用 {make_command('feedback', inbox, outbox)} 生成邮件发给有关单位。")
