"""Mail to the units: drafts (``.eml``) for the templates, the reminders and the feedback; ``--send`` over SMTP.

``python -m pipeline mail templates|reminders|feedback [--send]``

* templates: one message per roster unit with its two templates attached;
* reminders (催报): one per unit, listing everything it still owes or must fix: each form
  未报送 (blank template attached) or 退回 (its feedback workbook attached), and the 活动总结
  once its deadline has passed;
* feedback: one per unit listing each form that passed with warnings (有警告), feedback workbooks attached.

Drafts are written to ``outbox/mail/<kind>/`` with ``X-Unsent: 1`` (Outlook opens them as
messages to send, not as received mail) and nothing leaves the machine unless ``--send`` is
given; the copy sent drops that header. Dates are China time (+08:00) whatever the machine's
zone. Attachment names carry both RFC 2231 (``filename*``) and RFC 2047 (``name="=?utf-8?b?…"``)
forms, since older Outlook and Foxmail read only the latter. Every matter a message covers is
recorded in the ledger under a key made of the kind, unit, form and what it is about; a
message is sent only when it covers a matter not sent before.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.faults import PROGRAM_ERROR_NOTE, is_disk_full, log_error
from pipeline.forms.generate import FormContent, write_form
from pipeline.forms.spec import FormSpec, template_name
from pipeline.model import MAIL_KINDS, Status
from pipeline.outputs.feedback import plan_feedback, today, write_planned
from pipeline.outputs.mail.mime import build_message
from pipeline.outputs.mail.wording import (
    Matter,
    joint_title,
    mismatch_matter,
    missing_matter,
    notice_body,
    notice_subject,
    returned_matter,
    summary_matter,
    templates_body,
    warned_matter,
)
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster, Unit
from pipeline.store.atomic import write_bytes_atomic

if TYPE_CHECKING:  # pipeline.checks.rollup pulls in pandera: the commands import it when they run
    from pipeline.checks.rollup import Rollup

KINDS = MAIL_KINDS
MAIL_DIR = "mail"


@dataclass(frozen=True)
class Draft:
    """One message written to disk, ready to send."""

    kind: str
    unit: Unit
    form_ids: tuple[str, ...]
    path: Path
    key: str  # ledger key: kind, unit, forms and a digest of what the message is about
    subject: str
    attachments: tuple[Path, ...]
    covers: tuple[str, ...] = ()  # the ledger key of each matter in the message (default: ``key`` alone)
    items: tuple[str, ...] = ()  # what it is about, e.g. 附件1 退回, 活动总结 未报送

    @property
    def keys(self) -> tuple[str, ...]:
        """The ledger keys this message settles once sent."""
        return self.covers or (self.key,)


@dataclass
class Batch:
    """The drafts of one run and the units that could not be mailed."""

    kind: str
    folder: Path
    drafts: list[Draft] = field(default_factory=list)
    no_email: list[str] = field(default_factory=list)  # Chinese lines, one per unit (and form)
    generated: int = 0  # templates generated because they were missing or stale
    templates: Path | None = None  # where those templates were written
    failed: list[str] = field(default_factory=list)  # Chinese lines: drafts that could not be written (logged)


def _guarded(batch: Batch, unit: Unit, what: str, write: Callable[[], None]) -> None:
    """Write one unit's draft; a failure of any kind is logged and listed, and the batch goes on."""
    try:
        write()
    except Exception as exc:  # one unit's draft must never stop the others
        if is_disk_full(exc):
            raise  # no other draft can be written either: the command ends with a message (pipeline.cli)
        log_error(f"写 {unit.code} {unit.name} 的邮件草稿（{what}）时出错", exc)
        batch.failed.append(f"{unit.code} {unit.name}（{what}）：邮件草稿未能生成，{PROGRAM_ERROR_NOTE}。")



def message_key(kind: str, unit: Unit, form_ids: Sequence[str], about: str) -> str:
    """The ledger key of a message: stable across runs for the same matter.

    ``about`` names what the message is about (the campaign and form versions for a
    template, the unit's submission for a feedback workbook): the workbook bytes
    themselves carry the generation date and so change from one day to the next.
    The recipient is part of the key: once a wrong address is corrected in the roster,
    the message goes to the right one.
    """
    digest = hashlib.sha256(f"{about}|{unit.email}".encode()).hexdigest()
    return f"{kind}:{unit.code}:{'+'.join(form_ids)}:{digest}"


def _start_folder(outbox: Path, kind: str) -> Path:
    """The kind's draft folder, emptied of the drafts of earlier runs."""
    folder = outbox / MAIL_DIR / kind
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.eml"):
        old.unlink()
    return folder


def _write_draft(batch: Batch, campaign: Campaign, unit: Unit, specs: Sequence[FormSpec], subject: str,
                 body: str, attachments: Sequence[Path], about: str) -> None:
    suffix = "" if batch.kind == "templates" else "_" + "_".join(s.annex for s in specs)
    path = batch.folder / f"{unit.code}_{unit.name}{suffix}.eml"
    msg = build_message(campaign, unit, subject, body, attachments)
    write_bytes_atomic(path, msg.as_bytes())
    form_ids = tuple(s.id for s in specs)
    batch.drafts.append(Draft(batch.kind, unit, form_ids, path, message_key(batch.kind, unit, form_ids, about),
                              subject, tuple(attachments)))


def _template_is_current(path: Path, spec: FormSpec, campaign: Campaign, unit: Unit) -> bool:
    import openpyxl

    from pipeline.workbook.book import read_meta

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(path, read_only=True)
        try:
            meta = read_meta(wb)
        finally:
            wb.close()
    except Exception:  # an unreadable template is simply regenerated
        return False
    return (meta.get("form_id") == spec.id and meta.get("form_version") == spec.version
            and meta.get("campaign_id") == campaign.id and meta.get("unit_code") == unit.code
            and meta.get("layout_offset", "0") == "0")


def ensure_template(spec: FormSpec, campaign: Campaign, unit: Unit, templates: Path) -> tuple[Path, bool]:
    """The unit's template in ``templates``, generated when missing or not of this campaign and form version."""
    path = templates / template_name(spec, unit)
    if path.is_file() and _template_is_current(path, spec, campaign, unit):
        return path, False
    return write_form(path, spec, campaign, FormContent(unit=unit)), True


def _no_email(unit: Unit, what: str = "") -> str:
    return f"{unit.code} {unit.name}{what}：缺少邮箱，需另行送达（可在单位名录中补充邮箱后重新运行）。"


def draft_templates(forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster, templates: Path,
                    outbox: Path, on: dt.date | None = None) -> Batch:
    """One message per roster unit with its 附件1 and 附件2 templates attached."""
    on = on or today()
    batch = Batch("templates", _start_folder(outbox, "templates"), templates=templates)
    specs = list(forms.values())
    subject = f"关于报送{joint_title(specs, campaign.year)}的通知"
    about = campaign.id + "|" + "|".join(f"{s.id}={s.version}" for s in specs)
    for unit in roster:
        if not unit.email:
            batch.no_email.append(_no_email(unit))
            continue
        _guarded(batch, unit, "下发模板",
                 functools.partial(_templates_draft, batch, campaign, specs, unit, templates, subject, about, on))
    return batch


def _templates_draft(batch: Batch, campaign: Campaign, specs: Sequence[FormSpec], unit: Unit, templates: Path,
                     subject: str, about: str, on: dt.date) -> None:
    attachments = []
    for spec in specs:
        path, generated = ensure_template(spec, campaign, unit, templates)
        attachments.append(path)
        batch.generated += generated
    body = templates_body(campaign, specs, unit, attachments, on)
    _write_draft(batch, campaign, unit, specs, subject, body, attachments, about)


def _by_roster(rollup: Rollup) -> list[Any]:
    order = {u.code: i for i, u in enumerate(rollup.roster)}
    forms = {fid: i for i, fid in enumerate(rollup.forms)}
    return sorted(rollup.statuses, key=lambda s: (order[s.unit.code], forms[s.form_id]))


def _write_notice(batch: Batch, campaign: Campaign, unit: Unit, matters: Sequence[Matter], on: dt.date,
                  also: str = "") -> None:
    """One message for one unit covering all its matters, every attachment with it; ``also`` names the other
    message (催报 or 审核反馈) the unit gets, so that the two are read together."""
    ordered = sorted(matters, key=lambda m: (m.spec is None, campaign.deadline(m.spec.deadline) if m.spec else on))
    subject = notice_subject(campaign, ordered, batch.kind)
    attachments = [m.attachment for m in ordered if m.attachment is not None]
    path = batch.folder / f"{unit.code}_{unit.name}.eml"
    msg = build_message(campaign, unit, subject, notice_body(campaign, unit, ordered, on, batch.kind, also),
                        attachments)
    write_bytes_atomic(path, msg.as_bytes())
    form_ids = tuple(m.spec.id if m.spec else "summary" for m in ordered)
    covers = tuple(m.key for m in ordered)
    batch.drafts.append(Draft(batch.kind, unit, form_ids, path, message_key(batch.kind, unit, form_ids, "|".join(covers)),
                              subject, tuple(attachments), covers, tuple(m.label for m in ordered)))


def _write_notices(batch: Batch, campaign: Campaign, roster: Roster, matters: dict[str, list[Matter]],
                   on: dt.date, companions: Mapping[str, str] | None = None) -> None:
    for unit in roster:
        if matters.get(unit.code):
            what = "、".join(m.label for m in matters[unit.code])
            also = (companions or {}).get(unit.code, "")
            _guarded(batch, unit, what,
                     functools.partial(_write_notice, batch, campaign, unit, matters[unit.code], on, also))


OWED = (Status.MISSING, Status.RETURNED, Status.MISMATCH)  # what a 催报 covers; a 有警告 form goes with the feedback


def companion_lines(rollup: Rollup, kind: str) -> dict[str, str]:
    """For each unit whose forms call for both a 催报 and a 审核反馈 mail, the sentence in this ``kind``'s mail that
    names the other one, so that the unit reads them together."""
    lines: dict[str, str] = {}
    for unit in rollup.roster:
        mine = [st for st in rollup.statuses if st.unit.code == unit.code]
        owed = [f"{rollup.forms[st.form_id].annex}{st.status}" for st in mine if st.status in OWED]
        warned = [rollup.forms[st.form_id].annex for st in mine if st.status == Status.WARNED]
        if not owed or not warned:
            continue
        if kind == "reminders":
            lines[unit.code] = (f"贵单位报送的{'、'.join(warned)}已通过审核，但有需要核实的情况，另以“审核反馈”邮件发送，"
                                "请与本通知一并办理。")
        else:
            lines[unit.code] = (f"贵单位另有{'、'.join(owed)}的事项，另以“催报”邮件通知（附所需模板或审核反馈表），"
                                "请与本通知一并办理。")
    return lines


def draft_reminders(rollup: Rollup, templates: Path, outbox: Path, on: dt.date | None = None) -> Batch:
    """催报: one message per unit listing each form 未报送 (blank template) or 退回 (feedback workbook) and the 活动总结."""
    on = on or today()
    campaign = rollup.campaign
    batch = Batch("reminders", _start_folder(outbox, "reminders"), templates=templates)
    items = plan_feedback(outbox, rollup, on)
    written = set(write_planned(outbox, rollup, items, batch.failed))
    feedback = {(i.status.unit.code, i.spec.id): i for i in items if i.path in written}
    matters: dict[str, list[Matter]] = {}
    for st in _by_roster(rollup):
        if st.status not in (Status.MISSING, Status.RETURNED, Status.MISMATCH):
            continue
        spec = rollup.forms[st.form_id]
        if not st.unit.email:
            batch.no_email.append(_no_email(st.unit, f"（{spec.annex} {st.status}）"))
            continue
        if st.status == Status.RETURNED and (st.unit.code, spec.id) not in feedback:
            continue  # its feedback workbook could not be written: already listed in batch.failed
        if st.status == Status.MISMATCH:
            path, generated = ensure_template(spec, campaign, st.unit, templates)
            batch.generated += generated
            about = st.latest.sha256 if st.latest else ""
            key = message_key(batch.kind, st.unit, [spec.id], f"{campaign.id}|{spec.id}={spec.version}|格式不符|{about}")
            matter = mismatch_matter(campaign, spec, st, path, key)
        elif st.status == Status.MISSING:
            path, generated = ensure_template(spec, campaign, st.unit, templates)
            batch.generated += generated
            due = campaign.deadline(spec.deadline)
            phase = "逾期" if on > due else "截止前"
            key = message_key(batch.kind, st.unit, [spec.id], f"{campaign.id}|{spec.id}={spec.version}|{phase}")
            matter = missing_matter(campaign, spec, st.unit, path, on, key)
        else:
            item = feedback[(st.unit.code, spec.id)]
            key = message_key(batch.kind, st.unit, [spec.id], f"{item.submission.sha256}|{spec.id}={spec.version}")
            matter = returned_matter(campaign, item, on, key)
        matters.setdefault(st.unit.code, []).append(matter)
    _summary_matters(batch, rollup, on, matters)
    _write_notices(batch, campaign, rollup.roster, matters, on, companion_lines(rollup, batch.kind))
    return batch


def _summary_matters(batch: Batch, rollup: Rollup, on: dt.date, matters: dict[str, list[Matter]]) -> None:
    """The 活动总结 once its deadline has passed, for units whose 附件1 matter does not already ask for it."""
    from pipeline.outputs.materials_report import summary_form_id, summary_missing

    campaign = rollup.campaign
    form_id = summary_form_id(rollup)
    if form_id is None:
        return
    due = campaign.deadline(rollup.forms[form_id].deadline)
    if on <= due:
        return
    asked = {st.unit.code for st in rollup.statuses if st.form_id == form_id and st.status == Status.MISSING}
    for unit in summary_missing(rollup):
        if unit.code in asked:
            continue  # the 附件1 matter already says 活动总结请一并发送
        if not unit.email:
            batch.no_email.append(_no_email(unit, "（活动总结 未报送）"))
            continue
        key = message_key(batch.kind, unit, ("summary",), f"{campaign.id}|summary|逾期")
        matters.setdefault(unit.code, []).append(summary_matter(campaign, due, on, key))


def draft_feedback(rollup: Rollup, outbox: Path, on: dt.date | None = None) -> Batch:
    """One message per unit listing each form that passed with warnings, with their feedback workbooks."""
    on = on or today()
    campaign = rollup.campaign
    batch = Batch("feedback", _start_folder(outbox, "feedback"))
    items = plan_feedback(outbox, rollup, on)
    written = set(write_planned(outbox, rollup, items, batch.failed))
    items = [i for i in items if i.path in written]
    order = {id(st): i for i, st in enumerate(_by_roster(rollup))}
    matters: dict[str, list[Matter]] = {}
    for item in sorted(items, key=lambda i: order[id(i.status)]):
        if item.status.status != Status.WARNED:
            continue
        unit = item.status.unit
        if not unit.email:
            batch.no_email.append(_no_email(unit, f"（{item.spec.annex} {Status.WARNED}）"))
            continue
        key = message_key(batch.kind, unit, [item.spec.id], f"{item.submission.sha256}|{item.spec.id}={item.spec.version}")
        matters.setdefault(unit.code, []).append(warned_matter(campaign, item, on, key))
    _write_notices(batch, campaign, rollup.roster, matters, on, companion_lines(rollup, batch.kind))
    return batch


def batch_lines(batch: Batch) -> list[str]:
    """The Chinese summary of the drafts written."""
    lines: list[str] = []
    if batch.generated:
        lines.append(f"已补充生成缺少或过期的模板 {batch.generated} 个，保存在 {batch.templates}/。")
    count = len(batch.drafts)
    where = f"保存在 {batch.folder}/"
    if batch.kind == "templates":
        lines.append(f"下发模板邮件草稿已生成 {count} 封（每封附本单位的填报模板），{where}。")
    elif batch.kind == "reminders":
        if count or batch.no_email:
            labels = [label for d in batch.drafts for label in d.items]
            owed = sum(label.endswith(Status.MISSING) for label in labels)
            lines.append(f"催报邮件草稿已生成 {count} 封（每个单位一封，共列出未报送 {owed} 项、退回 "
                         f"{len(labels) - owed} 项），{where}。")
        else:
            lines.append("各单位均已报送且没有被退回的报表，无需催报。")
    elif count or batch.no_email:
        lines.append(f"审核反馈邮件草稿已生成 {count} 封（发给报表有警告的单位，每个单位一封），{where}。")
    else:
        lines.append("没有“有警告”的报表，无需发送审核反馈。")
    if batch.no_email:
        lines.append(f"以下 {len(batch.no_email)} 项因单位名录中没有邮箱，未生成邮件：")
        lines += [f"  {line}" for line in batch.no_email]
    if batch.failed:
        lines.append(f"以下 {len(batch.failed)} 项因程序内部错误未能生成（已记入日志，其余邮件不受影响），请联系维护人员：")
        lines += [f"  {line}" for line in batch.failed]
    return lines


