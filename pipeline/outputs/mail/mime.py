"""The MIME form of a message: headers, policy and attachment names that Outlook, Foxmail and webmail all read."""

from __future__ import annotations

import datetime as dt
import email
from collections.abc import Sequence
from email.charset import BASE64, Charset
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP, EmailPolicy
from email.utils import encode_rfc2231, format_datetime, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.portable import china_now
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Unit

if TYPE_CHECKING:  # pipeline.checks.rollup pulls in pandera: the commands import it when they run
    pass

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


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


