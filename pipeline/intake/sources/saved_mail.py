"""Saved mail (.eml, Outlook .msg): each attachment is read as if it lay in inbox/, shown as ``报送.eml!/附件1.xlsx``.

The sender's address names the unit through the roster's 邮箱 (used when an attachment does
not say its unit itself), and the mail's Date is the day it arrived (for on-time and for the
order of resubmissions). A saved mail is read wherever it lies, under ``inbox/邮件/`` too and
inside another mail or an archive; only the raw copies that ``python -m pipeline fetch`` kept beside
the attachments it saved are not read again, and those are known by the ledger
(:meth:`pipeline.store.ledger.Ledger.kept_mail`), not by their folder.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.intake.mailparts import (
    FALLBACK_NAME,
    MalformedMessageError,
    envelope,
    iter_attachments,
    parse_message,
    plausible_time,
)
from pipeline.intake.materials import TEXT
from pipeline.intake.members import MAX_DEPTH, Packed, read_member, scratch, scratch_path, unique_names
from pipeline.intake.sources import Context, Source
from pipeline.model import Outcome, Severity, Submission
from pipeline.safety.badbytes import describe, is_bad_bytes, technical
from pipeline.safety.guards import GuardError, check_size
from pipeline.safety.sniff import Sniffed

_MAIL_LIBRARIES = ("mail", "ole", "text", "size")  # pipeline.safety.badbytes
_HEADER_STARTS = (b"return-path:", b"received:", b"from:", b"mime-version:", b"message-id:", b"date:",
                  b"delivered-to:", b"x-")


@dataclass(frozen=True)
class Mail:
    """What a saved mail holds: sender, date, subject and attachments (name, bytes)."""

    sender: str
    date: dt.datetime | None
    subject: str
    attachments: list[tuple[str, bytes]]


def _looks_like_eml(path: Path, sniffed: Sniffed) -> bool:
    if path.suffix.lower() == ".eml":
        return sniffed.kind in ("text", "unknown", "html")
    if sniffed.kind != "text":
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(2048).lower()
    except OSError:
        return False
    return head.startswith(_HEADER_STARTS) and b"\ncontent-type:" in head and b"\nfrom:" in b"\n" + head


def _looks_like_msg(path: Path, sniffed: Sniffed) -> bool:
    return any(s.startswith("__substg1.0_") for s in sniffed.streams) or (
        path.suffix.lower() == ".msg" and sniffed.kind in ("ole", "broken"))


def _read_eml(path: Path) -> Mail:
    message = parse_message(path.read_bytes())
    head = envelope(message)
    files = [(a.safe_name, a.data) for a in iter_attachments(message)]
    return Mail(head.sender, plausible_time(head.date), head.subject, files)  # year 9999 is no arrival date


def _read_msg(path: Path) -> Mail:
    """An Outlook .msg through extract-msg (an OLE file; attachments of attached mails are not unpacked)."""
    from email.utils import parseaddr

    import extract_msg

    from pipeline.intake.mailparts import safe_filename

    msg: Any = extract_msg.openMsg(str(path))
    try:
        sender = parseaddr(str(msg.sender or ""))[1].lower()
        date = plausible_time(msg.date) if isinstance(msg.date, dt.datetime) else None
        files: list[tuple[str, bytes]] = []
        for att in msg.attachments:
            data = getattr(att, "data", None)
            if isinstance(data, bytes):
                name = str(att.longFilename or att.shortFilename or FALLBACK_NAME)
                files.append((safe_filename(name), data))
        return Mail(sender if "@" in sender else "", date, str(msg.subject or ""), files)
    finally:
        msg.close()


def _take(sub: Submission, sniffed: Sniffed, ctx: Context) -> bool | list[Submission]:
    is_msg = _looks_like_msg(sub.path, sniffed)
    if not is_msg and not _looks_like_eml(sub.path, sniffed):
        return False
    sub.outcome, sub.kind = Outcome.UNPACKED, "msg" if is_msg else "eml"
    try:
        check_size(sub.size, ctx.campaign.limits)
        mail = _read_msg(sub.path) if is_msg else _read_eml(sub.path)
    except Exception as exc:  # a damaged mail never stops the batch; our own bug is not a damaged mail
        if not isinstance(exc, MalformedMessageError | GuardError) and not is_bad_bytes(exc, _MAIL_LIBRARIES):
            raise
        if not isinstance(exc, GuardError):
            sub.details.append(technical(exc))
        reason = str(exc) if isinstance(exc, MalformedMessageError) else (
            exc.message if isinstance(exc, GuardError) else f"无法解析（{describe(exc)}）")
        sub.outcome, sub.material_kind = Outcome.MATERIAL, TEXT
        sub.note = f"邮件原文无法读取：{reason}"
        sub.add(Severity.WARNING, "邮件无法读取", f"这是一封保存下来的邮件，但{reason}，无法取出其中的附件。"
                "请局安全股在邮箱中打开该邮件，把附件另存到 inbox/ 中后重新汇总。")
        return True
    unit = ctx.roster.by_email(mail.sender) if mail.sender else None
    sub.unit, sub.sender = unit, unit.code if unit else ""
    sub.arrived = mail.date.date() if mail.date else None
    who = f"发件人 {mail.sender}" + (f"（{unit.name}）" if unit else "（不在单位名录的邮箱中）" if mail.sender else "")
    when = f"，发送日期 {sub.arrived.isoformat()}" if sub.arrived else ""
    if not mail.attachments:
        sub.outcome, sub.material_kind = Outcome.MATERIAL, TEXT
        sub.note = f"保存下来的邮件，没有附件；{who}{when}"
        return True
    if ctx.depth >= MAX_DEPTH:
        sub.outcome, sub.material_kind = Outcome.MATERIAL, TEXT
        sub.note = f"邮件嵌套过深，附件未读取；{who}{when}"
        sub.add(Severity.WARNING, "邮件嵌套过深", "该邮件位于多层压缩包或邮件之中，程序未读取其附件。请把附件另存到 inbox/ 中后重新汇总。")
        return True
    stamp = dt.datetime.combine(sub.arrived, dt.time(12)).timestamp() if mail.date is None and sub.arrived else (
        mail.date.timestamp() if mail.date else None)
    members: list[Submission] = []
    with scratch() as folder:
        names = unique_names([name for name, _ in mail.attachments])
        for index, (name, (_, data)) in enumerate(zip(names, mail.attachments, strict=True)):
            target = scratch_path(folder, index, name)
            target.write_bytes(data)
            members.append(read_member(sub, Packed(name, target), ctx, sender=sub.sender, arrived_mtime=stamp))
    sub.note = f"保存下来的邮件，{who}{when}；附件 {len(members)} 个已逐个读取"
    return members


SOURCE = Source("saved-mail", 25, _take)
