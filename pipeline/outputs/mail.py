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
import email
import functools
import hashlib
import smtplib
import ssl
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.charset import BASE64, Charset
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP, EmailPolicy
from email.utils import encode_rfc2231, format_datetime, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import PipelineError
from pipeline.faults import PROGRAM_ERROR_NOTE, log_error
from pipeline.forms.generate import FormContent, write_form
from pipeline.forms.layout import section_heading
from pipeline.forms.spec import FormSpec, template_name
from pipeline.model import MAIL_KINDS, Status
from pipeline.outputs.feedback import Feedback, cn_date, cn_full_date, plan_feedback, today, write_planned
from pipeline.portable import china_now
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster, Unit
from pipeline.store.atomic import write_bytes_atomic
from pipeline.store.ledger import Ledger

if TYPE_CHECKING:  # pipeline.checks.rollup pulls in pandera: the commands import it when they run
    from pipeline.checks.rollup import Rollup, UnitStatus

KINDS = MAIL_KINDS
MAIL_DIR = "mail"
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
SMTP_TIMEOUT = 60


class FileNameParams(str):
    """A Content-Type or Content-Disposition value whose file-name parameters are already encoded.

    The header registry decodes every parameter and writes it back as RFC 2231 only, which
    older Outlook and Foxmail show garbled; a value of this type is kept as it is written.
    """


_UNFOLDED = ("content-disposition", "content-type")


class _DraftPolicy(EmailPolicy):
    """policy.SMTP, except that the attachment headers are neither re-parsed nor folded.

    Folding splits a long RFC 2231 file name into ``filename*0*=…; filename*1*=…``
    continuations, which several mail clients in use in China do not join; unfolded it
    stays one ``filename*=utf-8''…`` parameter (a line stays far below RFC 5322's 998).
    A :class:`FileNameParams` value is stored as given, so that its RFC 2047 form survives.
    """

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        if isinstance(value, FileNameParams) and name.lower() in _UNFOLDED:
            return name, str(value)
        return super().header_store_parse(name, value)

    def fold(self, name: str, value: Any) -> str:
        if name.lower() in _UNFOLDED:
            return str(_WIDE.fold(name, value))
        return str(super().fold(name, value))

    def fold_binary(self, name: str, value: Any) -> bytes:
        if name.lower() in _UNFOLDED:
            return bytes(_WIDE.fold_binary(name, value))
        return super().fold_binary(name, value)


_WIDE = SMTP.clone(max_line_length=998)
POLICY = _DraftPolicy(linesep="\r\n")


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
    failed: list[str] = field(default_factory=list)  # Chinese lines: drafts that could not be written (logged)


def _guarded(batch: Batch, unit: Unit, what: str, write: Callable[[], None]) -> None:
    """Write one unit's draft; a failure of any kind is logged and listed, and the batch goes on."""
    try:
        write()
    except Exception as exc:  # one unit's draft must never stop the others
        log_error(f"写 {unit.code} {unit.name} 的邮件草稿（{what}）时出错", exc)
        batch.failed.append(f"{unit.code} {unit.name}（{what}）：邮件草稿未能生成，{PROGRAM_ERROR_NOTE}。")


# ---------------------------------------------------------------- wording


def year_title(spec: FormSpec, year: int) -> str:
    """A form's title with the year in front: 2023年“安全生产月”活动情况统计表."""
    title = spec.title_for(year)
    return title if title.startswith(f"{year}年") else f"{year}年{title}"


def joint_title(specs: Sequence[FormSpec], year: int) -> str:
    """Several forms named together: 2023年“安全生产月”活动情况统计表及联络员表."""
    titles = [year_title(s, year) for s in specs]
    if len(titles) == 1:
        return titles[0]
    common = titles[0]
    for title in titles[1:]:
        while not title.startswith(common):
            common = common[:-1]
    if not common.endswith("活动"):
        common = common[: common.rfind("”") + 1] if "”" in common else ""
    return common + "及".join(t[len(common):] for t in titles)


def _quoted(spec: FormSpec, year: int) -> str:
    return f"{spec.annex}《{spec.title_for(year)}》"


def _what(spec: FormSpec, year: int) -> str:
    """What a unit must send for a form, as the plan words it."""
    return ("活动总结及" if spec.roles.summary else "") + _quoted(spec, year)


INDENT = "\u3000\u3000"  # two full-width spaces open a paragraph, as in the official documents


def _until(due: dt.date, on: dt.date) -> str:
    """The time left to act, said once: “于2023年6月30日前”, or “尽快” once the deadline has passed."""
    return f"于{cn_full_date(due)}前" if on <= due else "尽快"


def _late(due: dt.date, on: dt.date) -> str:
    """Once the deadline has passed, a note saying which it was; before it, nothing (the date is given already)."""
    return "" if on <= due else f"（报送截止日期{cn_full_date(due)}已过）"


def plan_name(campaign: Campaign) -> str:
    """The campaign plan's title as cited in notices."""
    return f"《全县交通运输系统{campaign.year}年“安全生产月”活动方案》"


def letter(campaign: Campaign, unit: Unit, paragraphs: Sequence[str], attachments: Sequence[Path],
           on: dt.date) -> str:
    """A notice in the plan's layout: salutation, indented paragraphs, contact, attachments, sign-off."""
    lines = [f"{unit.name}："]
    lines += [INDENT + p if p else "" for p in paragraphs]
    lines += ["", f"联系人：{campaign.contact_person}", f"联系电话：{campaign.contact_phone}",
              f"邮箱：{campaign.contact_email}", ""]
    for i, path in enumerate(attachments, start=1):
        lines.append(f"附件：{i}.{path.name}" if i == 1 else f"{chr(0x3000) * 3}{i}.{path.name}")
    lines += ["", campaign.bureau, cn_full_date(on)]
    return "\n".join(lines) + "\n"


_FILL_HINT = ("模板已锁定，请只在浅黄色的单元格内填写；数量一律填阿拉伯数字整数，没有开展的填0。"
              "请勿增删行列、改动表名或另存为其他格式，填好后将原文件直接作为附件发回本邮箱。")


def templates_body(campaign: Campaign, specs: Sequence[FormSpec], unit: Unit, attachments: Sequence[Path],
                   on: dt.date) -> str:
    """The notice sent with the blank templates."""
    c = campaign
    names = "、".join(_quoted(s, c.year) for s in specs)
    paragraphs = [
        f"{c.year}年{c.end.month}月是全国{c.edition}，活动主题为“{c.theme}”，活动时间为{cn_date(c.start)}至"
        f"{cn_date(c.end)}。根据{plan_name(c)}要求，现将{names}填报模板发给贵单位（见附件），请按以下要求及时报送：",
    ]
    items = []
    for spec in sorted(specs, key=lambda s: c.deadline(s.deadline)):
        item = f"请于{cn_date(c.deadline(spec.deadline))}前报送{_what(spec, c.year)}"
        if not spec.roles.summary and not spec.has_sentences:
            item += (f"，每个单位报送一名联络员，负责收集汇总活动期间正反两方面典型和特色项目、重要活动资料，"
                     f"及时把视频、图片、文字等电子版资料报至{c.section}")
        items.append(item + "。")
    items.append(_FILL_HINT)
    paragraphs += [section_heading(i, text) for i, text in enumerate(items)]
    return letter(c, unit, paragraphs, attachments, on)


@dataclass(frozen=True)
class Matter:
    """One thing a unit still owes, must fix or should check: one numbered section of its notice."""

    label: str  # 附件2 未报送, 附件1 退回, 活动总结 未报送, 附件1 有警告
    paragraphs: tuple[str, ...]  # the section: its first sentence, then the problems and the request
    key: str  # ledger key of this matter (kind, unit, form and what it is about)
    spec: FormSpec | None = None  # None for the 活动总结
    attachment: Path | None = None
    owed: bool = False  # 未报送 (a form or the 活动总结), as opposed to 退回 / 有警告


def missing_matter(campaign: Campaign, spec: FormSpec, unit: Unit, attachment: Path, on: dt.date,
                   key: str) -> Matter:
    """A form not received: the requirement, whether its deadline has passed, the blank template attached."""
    c = campaign
    due = c.deadline(spec.deadline)
    extra = "活动总结请一并发送。" if spec.roles.summary else ""
    late = on > due
    text = (f"{_quoted(spec, c.year)}未报送。按{plan_name(c)}要求，各单位应于{cn_full_date(due)}前报送"
            f"{_what(spec, c.year)}{'，现已逾期' if late else ''}。{c.section}尚未收到贵单位报送的该表，"
            f"请{'抓紧' if late else ''}填写附件中的模板“{attachment.name}”，{'尽快' if late else '在截止日期前'}"
            f"将原文件直接作为附件发回本邮箱。{extra}")
    return Matter(f"{spec.annex} 未报送", (text,), key, spec, attachment, owed=True)


def mismatch_matter(campaign: Campaign, spec: FormSpec, st: UnitStatus, attachment: Path, key: str) -> Matter:
    """A return received but unreadable (格式不符): what came, why it cannot be used, the template attached."""
    c = campaign
    file = st.latest.file if st.latest else ""
    shown = file.rsplit("/", 1)[-1] if file else "所报送的文件"
    text = (f"{_quoted(spec, c.year)}格式不符。{c.section}已收到贵单位报送的“{shown}”，但无法读取，"
            f"请使用附件中的模板“{attachment.name}”重新报送：在模板上填写后，将 .xlsx 原文件直接作为附件发回本邮箱，"
            "不要发送照片、截图、扫描件或压缩包。")
    return Matter(f"{spec.annex} {Status.MISMATCH}", (text,), key, spec, attachment, owed=True)


def summary_matter(campaign: Campaign, due: dt.date, on: dt.date, key: str) -> Matter:
    """The 活动总结 not received by its deadline; nothing to attach."""
    c = campaign
    late = on > due
    text = (f"{c.year}年“安全生产月”活动总结未报送。按{plan_name(c)}要求，各单位应于{cn_full_date(due)}前报送活动总结"
            f"及情况统计表{'，现已逾期' if late else ''}。{c.section}尚未收到贵单位的活动总结，请抓紧撰写，"
            f"{'尽快' if late else '在截止日期前'}"
            "将活动总结（Word 或 PDF 格式，文件名请注明单位名称和“活动总结”字样）作为附件发回本邮箱；"
            "活动期间的视频、图片、文字等资料请一并报送。")
    return Matter("活动总结 未报送", (text,), key, owed=True)


def returned_matter(campaign: Campaign, item: Feedback, on: dt.date, key: str) -> Matter:
    """A returned form: its problems and the feedback workbook to correct."""
    c = campaign
    due = c.deadline(item.spec.deadline)
    sent = Path(item.submission.file).name
    counted = item.status.counted
    fate = (f"在贵单位重新报送前，全县汇总暂用贵单位较早报送的合格报表“{Path(counted.file).name}”。"
            if counted is not None else "该表在重新报送并通过审核前不纳入全县汇总。")
    paragraphs = (
        f"{_quoted(item.spec, c.year)}（文件“{sent}”）经审核存在以下问题，现予退回：",
        *item.problems,
        f"附件“{item.path.name}”为根据贵单位原报送内容生成的审核反馈表，存在问题的单元格已标红并附批注。请在标红的"
        f"单元格中更正（其他内容无需重填），保存后将该文件直接作为附件发回本邮箱，{_until(due, on)}重新报送"
        f"{_late(due, on)}。{fate}",
    )
    return Matter(f"{item.spec.annex} 退回", paragraphs, key, item.spec, item.path)


def warned_matter(campaign: Campaign, item: Feedback, on: dt.date, key: str) -> Matter:
    """A form that passed with warnings: what to check and the feedback workbook."""
    c = campaign
    due = c.deadline(item.spec.deadline)
    sent = Path(item.submission.file).name
    paragraphs = (
        f"{_quoted(item.spec, c.year)}（文件“{sent}”）已通过审核，纳入全县汇总。经核对，以下情况请予核实：",
        *item.problems,
        f"附件“{item.path.name}”为根据贵单位报送内容生成的审核反馈表，需核实的单元格已标红并附批注。如确有差错，"
        f"请在标红的单元格中更正，保存后将该文件直接作为附件发回本邮箱，{_until(due, on)}重新报送"
        f"{_late(due, on)}；核实无误的，无需再次报送。",
    )
    return Matter(f"{item.spec.annex} {Status.WARNED}", paragraphs, key, item.spec, item.path)


def notice_body(campaign: Campaign, unit: Unit, matters: Sequence[Matter], on: dt.date, kind: str) -> str:
    """One notice listing every matter as a numbered section (一、二、…), then what applies to all of them."""
    c = campaign
    if kind == "feedback":
        opening = f"经{c.section}审核，截至{cn_full_date(on)}，贵单位报送的报表中有以下情况请予核实："
    else:
        opening = f"根据{plan_name(c)}要求，截至{cn_full_date(on)}，贵单位尚有以下事项需要办理："
    paragraphs = [opening]
    for index, matter in enumerate(matters):
        first, *rest = matter.paragraphs
        paragraphs += [section_heading(index, first), *rest]
    if any(m.owed and m.spec is not None for m in matters):
        paragraphs.append(_FILL_HINT.split("；")[0] + "，不要另存为其他格式。")
    if any(m.owed and not m.label.endswith(Status.MISMATCH) for m in matters):  # 格式不符: it did arrive
        paragraphs.append("如已报送，请将原邮件重新发送一次，并电话告知联系人。")
    attachments = [m.attachment for m in matters if m.attachment is not None]
    return letter(c, unit, paragraphs, attachments, on)


def notice_subject(campaign: Campaign, matters: Sequence[Matter], kind: str) -> str:
    """The subject names what the notice is about: 催报, 退回修改 or both, or 核实 for the feedback."""
    year = campaign.year
    matters = sorted(matters, key=lambda m: m.spec.annex if m.spec else "")  # titles in annex order: 附件1 及 附件2
    forms = [m.spec for m in matters if m.spec is not None]
    if kind == "feedback":
        return f"关于核实{joint_title(forms, year)}有关情况的通知"
    owed = [m for m in matters if m.owed]
    returned = [m.spec for m in matters if not m.owed and m.spec is not None]
    if owed and returned:
        return f"关于催报及退回修改{year}年“安全生产月”有关报送事项的通知"
    if returned:
        return f"关于退回修改{joint_title(returned, year)}的通知"
    owed_forms = [m.spec for m in owed if m.spec is not None]
    summary = any(m.spec is None for m in owed)
    what = joint_title(owed_forms, year) if owed_forms else f"{year}年“安全生产月”活动"
    return f"关于催报{what}{'及活动总结' if summary and owed_forms else '总结' if summary else ''}的通知"


# ---------------------------------------------------------------- messages and drafts


UNSENT = "X-Unsent"  # Outlook opens a message with X-Unsent: 1 as one to send, not as one received
_B64 = Charset("utf-8")
_B64.header_encoding = BASE64


def _name_both_ways(part: MIMEPart, name: str) -> None:
    """Give an attachment's file name as RFC 2047 (``name``, ``filename``) and RFC 2231 (``filename*``).

    Both encodings come from the email package (:class:`~email.header.Header` splits the
    RFC 2047 words at character boundaries, :func:`~email.utils.encode_rfc2231` quotes the
    other); :class:`FileNameParams` keeps the header registry from re-encoding them.
    """
    if name.isascii():
        return  # a plain filename="…" is read by every client
    words = " ".join(Header(name, _B64).encode(maxlinelen=76).split())
    part.replace_header("Content-Type", FileNameParams(f'{part.get_content_type()}; name="{words}"'))
    part.replace_header("Content-Disposition", FileNameParams(
        f'attachment; filename="{words}"; filename*={encode_rfc2231(name, "utf-8")}'))


def build_message(campaign: Campaign, unit: Unit, subject: str, body: str, attachments: Sequence[Path],
                  when: dt.datetime | None = None, draft: bool = True) -> EmailMessage:
    """An RFC 5322 message from the bureau's mailbox to the unit, the workbooks attached.

    Dated in China time (+08:00) whatever the machine's zone; a ``draft`` carries ``X-Unsent: 1``.
    """
    msg = EmailMessage(policy=POLICY)
    sender = Address(display_name=campaign.bureau, addr_spec=campaign.contact_email)
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = Address(display_name=unit.name, addr_spec=unit.email)
    msg["Date"] = format_datetime(when or china_now())
    msg["Message-ID"] = make_msgid(domain=sender.domain or None)
    if draft:
        msg[UNSENT] = "1"
    msg.set_content(body, cte="base64")
    for path in attachments:
        msg.add_attachment(path.read_bytes(), maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1], filename=path.name)
    for part, path in zip(msg.iter_attachments(), attachments, strict=True):
        _name_both_ways(part, path.name)
    return msg


def as_sent(draft_bytes: bytes) -> bytes:
    """The message to hand to the SMTP server: the draft as written, without its ``X-Unsent`` header."""
    msg = email.message_from_bytes(draft_bytes, policy=POLICY)
    del msg[UNSENT]
    return msg.as_bytes()


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

    from pipeline.intake.book import read_meta

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
    batch = Batch("templates", _start_folder(outbox, "templates"))
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


def _write_notice(batch: Batch, campaign: Campaign, unit: Unit, matters: Sequence[Matter], on: dt.date) -> None:
    """One message for one unit covering all its matters, every attachment with it."""
    ordered = sorted(matters, key=lambda m: (m.spec is None, campaign.deadline(m.spec.deadline) if m.spec else on))
    subject = notice_subject(campaign, ordered, batch.kind)
    attachments = [m.attachment for m in ordered if m.attachment is not None]
    path = batch.folder / f"{unit.code}_{unit.name}.eml"
    msg = build_message(campaign, unit, subject, notice_body(campaign, unit, ordered, on, batch.kind), attachments)
    write_bytes_atomic(path, msg.as_bytes())
    form_ids = tuple(m.spec.id if m.spec else "summary" for m in ordered)
    covers = tuple(m.key for m in ordered)
    batch.drafts.append(Draft(batch.kind, unit, form_ids, path, message_key(batch.kind, unit, form_ids, "|".join(covers)),
                              subject, tuple(attachments), covers, tuple(m.label for m in ordered)))


def _write_notices(batch: Batch, campaign: Campaign, roster: Roster, matters: dict[str, list[Matter]],
                   on: dt.date) -> None:
    for unit in roster:
        if matters.get(unit.code):
            what = "、".join(m.label for m in matters[unit.code])
            _guarded(batch, unit, what, functools.partial(_write_notice, batch, campaign, unit, matters[unit.code], on))


def draft_reminders(rollup: Rollup, templates: Path, outbox: Path, on: dt.date | None = None) -> Batch:
    """催报: one message per unit listing each form 未报送 (blank template) or 退回 (feedback workbook) and the 活动总结."""
    on = on or today()
    campaign = rollup.campaign
    batch = Batch("reminders", _start_folder(outbox, "reminders"))
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
    _write_notices(batch, campaign, rollup.roster, matters, on)
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
    _write_notices(batch, campaign, rollup.roster, matters, on)
    return batch


def batch_lines(batch: Batch) -> list[str]:
    """The Chinese summary of the drafts written."""
    lines: list[str] = []
    if batch.generated:
        lines.append(f"已补充生成缺少或过期的模板 {batch.generated} 个。")
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


# ---------------------------------------------------------------- sending


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the outgoing mail server, from the SMTP_* environment variables."""

    host: str
    port: int
    security: str  # starttls / ssl / none
    user: str
    password: str
    sender: str  # envelope sender (MAIL FROM)
    pause: float


SETTINGS_HELP = ("SMTP_HOST（发信服务器地址，如 smtp.163.com）；按需设置 SMTP_PORT（端口，默认 starttls 为 587、"
                 "ssl 为 465、none 为 25）、SMTP_SECURITY（加密方式：starttls、ssl 或 none，默认 starttls）、"
                 "SMTP_USER 和 SMTP_PASSWORD（登录账号和密码或授权码）、"
                 "SMTP_FROM（发件地址，默认为活动设置文件中的邮箱）、"
                 "SMTP_PAUSE（两封邮件之间暂停的秒数，默认 1）")


def smtp_settings(environ: Mapping[str, str], campaign: Campaign) -> SmtpSettings:
    """Read and check the SMTP_* variables; a Chinese :class:`PipelineError` names what to set."""
    env = {k: v.strip() for k, v in environ.items() if k.startswith("SMTP_")}
    host = env.get("SMTP_HOST", "")
    if not host:
        raise PipelineError(f"使用 --send 发送邮件前，须先设置环境变量 {SETTINGS_HELP}。"
                            "不加 --send 则只生成邮件草稿，不发送。")
    security = (env.get("SMTP_SECURITY") or "starttls").lower()
    if security not in DEFAULT_PORTS:
        raise PipelineError(f"环境变量 SMTP_SECURITY 只能是 starttls、ssl 或 none，现为“{env['SMTP_SECURITY']}”。")
    port_text = env.get("SMTP_PORT") or str(DEFAULT_PORTS[security])
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise PipelineError(f"环境变量 SMTP_PORT 应为 1 至 65535 之间的整数，现为“{port_text}”。")
    user, password = env.get("SMTP_USER", ""), environ.get("SMTP_PASSWORD", "")
    if bool(user) != bool(password):
        raise PipelineError("环境变量 SMTP_USER 和 SMTP_PASSWORD 须同时设置（发信服务器不要求登录时都不设置）。")
    pause_text = env.get("SMTP_PAUSE") or "1"
    try:
        pause = float(pause_text)
    except ValueError:
        pause = -1.0
    if not 0 <= pause <= 3600:
        raise PipelineError(f"环境变量 SMTP_PAUSE 应为 0 至 3600 之间的秒数，现为“{pause_text}”。")
    sender = env.get("SMTP_FROM") or campaign.contact_email
    return SmtpSettings(host, int(port_text), security, user, password, sender, pause)


def _describe(exc: BaseException) -> str:
    """A failed send in Chinese, with the server's own reply when there is one."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = "；".join(f"{code} {_text(msg)}" for code, msg in exc.recipients.values())
        return f"收件地址被服务器拒收（{replies}）"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"服务器拒绝（{exc.smtp_code} {_text(exc.smtp_error)}）"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "与发信服务器的连接中断"
    return f"{type(exc).__name__}：{exc}"


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def connect(settings: SmtpSettings) -> smtplib.SMTP:
    """Open, secure and log in to the server; a Chinese :class:`PipelineError` when that fails."""
    where = f"{settings.host}:{settings.port}"
    smtp: smtplib.SMTP | None = None
    try:
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=SMTP_TIMEOUT,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT)
            if settings.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if settings.user:
            smtp.login(settings.user, settings.password)
    except smtplib.SMTPNotSupportedError:
        _quit(smtp)
        raise PipelineError(f"发信服务器 {where} 不提供登录（AUTH）。多数服务器须先加密才允许登录，"
                            "请检查 SMTP_SECURITY；"
                            "若该服务器无须登录，请不要设置 SMTP_USER 和 SMTP_PASSWORD。") from None
    except smtplib.SMTPAuthenticationError as exc:
        _quit(smtp)
        raise PipelineError(f"发信服务器 {where} 拒绝登录（{exc.smtp_code} {_text(exc.smtp_error)}），"
                            "请检查 SMTP_USER 和 SMTP_PASSWORD"
                            "（网易等邮箱须使用“客户端授权码”而非登录密码）。") from None
    except (smtplib.SMTPException, OSError) as exc:
        _quit(smtp)
        raise PipelineError(f"无法连接发信服务器 {where}（{_describe(exc)}），"
                            "请检查 SMTP_HOST、SMTP_PORT、SMTP_SECURITY 的设置和网络。") from None
    return smtp


def _quit(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


@dataclass
class SendResult:
    """What became of each draft on a --send run."""

    sent: list[Draft] = field(default_factory=list)
    skipped: list[Draft] = field(default_factory=list)  # sent on an earlier run
    failed: list[tuple[Draft, str]] = field(default_factory=list)


def send_drafts(drafts: Sequence[Draft], settings: SmtpSettings, ledger_path: Path,
                echo: Callable[[str], None] = print, sleep: Callable[[float], None] = time.sleep) -> SendResult:
    """Send each draft not sent before, pausing between messages; one failure never stops the rest."""
    result = SendResult()
    smtp: smtplib.SMTP | None = None
    with Ledger(ledger_path) as ledger:
        try:
            for draft in drafts:
                if all(ledger.was_sent(key) for key in draft.keys):  # nothing in it that was not sent before
                    result.skipped.append(draft)
                    continue
                who = f"{draft.unit.code} {draft.unit.name}（{draft.unit.email}）"
                if result.sent or result.failed:
                    sleep(settings.pause)
                try:
                    if smtp is None:
                        smtp = connect(settings)
                    smtp.sendmail(settings.sender, [draft.unit.email], as_sent(draft.path.read_bytes()))
                except PipelineError as exc:  # could not (re)connect
                    if not (result.sent or result.failed):
                        raise  # nothing went out: stop with the reason
                    result.failed.append((draft, str(exc)))
                    echo(f"发送失败：{who}：{exc}")
                    continue
                except (smtplib.SMTPException, OSError) as exc:
                    reason = _describe(exc)
                    result.failed.append((draft, reason))
                    echo(f"发送失败：{who}：{reason}；其余邮件继续发送。")
                    if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
                        _quit(smtp)
                        smtp = None  # reconnect for the next message
                    continue
                for key in draft.keys:
                    ledger.mark_sent(key, draft.unit.email, draft.subject)
                result.sent.append(draft)
                echo(f"已发送：{who}《{draft.subject}》")
        finally:
            _quit(smtp)
    return result


def send_lines(result: SendResult) -> list[str]:
    """The Chinese closing summary of a --send run."""
    lines = [f"发送完成：本次发送 {len(result.sent)} 封，此前已发送而跳过 {len(result.skipped)} 封，"
             f"发送失败 {len(result.failed)} 封。"]
    if result.failed:
        lines.append("失败的邮件排除问题后重新运行本命令即可补发，已发送的不会重复发送。")
    return lines
