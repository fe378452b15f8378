"""Untrusted mail taken apart: header text decoded, attachments found, file names made safe to save.

Mail from the units comes from every kind of client: names in RFC 2231 (``filename*=gbk''…``),
in RFC 2047 inside quotes (``filename="=?GB2312?B?…?="``, against the standard but common), or as
raw GBK bytes; GBK text labelled GB2312; forwarded mails attached as message/rfc822. The parsing
and the RFC 2231/2047 decoding are the standard library's (``email.policy.default``,
``get_filename()``); this module only adds the rescue for what it cannot decode (raw GBK bytes, GBK
labelled GB2312, which it records as an ``UndecodableBytesDefect``) and the rules for what counts
as an attachment. :func:`iter_attachments` is the public entry point,
shared by ``python -m pipeline fetch`` and anything that reads saved ``.eml`` files.
"""

from __future__ import annotations

import codecs
import datetime as dt
import mimetypes
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from email import errors as email_errors
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.policy import default
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import PurePosixPath
from typing import Any

from pathvalidate import sanitize_filename

MAX_DEPTH = 8  # nesting of multiparts and attached messages; real mail stays within 4
MAX_NAME_BYTES = 150  # UTF-8 bytes of a saved name: 255 is the limit on most file systems, paths add more
FALLBACK_NAME = "附件"
LATEST = dt.timedelta(days=2)  # a time this far ahead of this computer's clock is not believed
_GBK_LABELS = frozenset({"gb2312", "gbk", "cp936", "ms936", "windows-936", "x-gbk", "gb_2312-80", "euc-cn",
                         "csgb2312", "x-euc-cn", "gb18030"})
# Defects after which the message's structure or an attachment's bytes cannot be trusted.
_FATAL_DEFECTS: dict[type[email_errors.MessageDefect], str] = {
    email_errors.StartBoundaryNotFoundDefect: "找不到分段边界，邮件结构已损坏",
    email_errors.NoBoundaryInMultipartDefect: "多段邮件缺少分段边界",
    email_errors.MultipartInvariantViolationDefect: "邮件结构自相矛盾",
    email_errors.CloseBoundaryNotFoundDefect: "缺少结束边界，邮件可能在传输中被截断",
    email_errors.InvalidBase64PaddingDefect: "附件编码（base64）不完整",
    email_errors.InvalidBase64CharactersDefect: "附件编码（base64）含有非法字符",
    email_errors.InvalidBase64LengthDefect: "附件编码（base64）长度不正确",
}


class MalformedMessageError(Exception):
    """A message whose structure or attachments cannot be trusted; the text (Chinese) says why."""


@dataclass(frozen=True)
class Attachment:
    """One attached file: its name as the sender gave it (decoded), its bytes and its declared type."""

    name: str
    data: bytes
    content_type: str

    @property
    def safe_name(self) -> str:
        """A name fit to save on Windows and POSIX alike (see :func:`safe_filename`)."""
        return safe_filename(self.name, FALLBACK_NAME + (mimetypes.guess_extension(self.content_type) or ""))


@dataclass(frozen=True)
class Envelope:
    """Who sent a message, when, about what, and its Message-ID."""

    sender: str  # the From address, lower case; "" when there is none
    sender_name: str
    subject: str
    date: dt.datetime | None  # the Date header, timezone-aware; None when missing or unreadable
    message_id: str


def parse_message(raw: bytes) -> Message:
    """Parse a message with ``email.policy.default`` (RFC 2231/2047 decoded on access; raw header bytes are kept
    for the rescue, :func:`decode_text`)."""
    return BytesParser(policy=default).parsebytes(raw)


def _codec(charset: str | None) -> str | None:
    """The Python codec for a MIME charset label; GBK under any of its labels is read as GB18030 (a superset)."""
    if not charset:
        return None
    label = charset.strip().strip('"').lower()
    if label in _GBK_LABELS:
        return "gb18030"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Text from bytes in the declared charset, else UTF-8, else GB18030 (what unlabelled Chinese mail uses)."""
    for codec in dict.fromkeys(c for c in (_codec(charset), "utf-8", "gb18030") if c):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("gb18030", "replace")


def _has_raw_bytes(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def decode_text(value: object) -> str:
    """The rescue for header text the standard library could not decode: raw 8-bit bytes (GBK or UTF-8) and
    encoded words in GBK labelled GB2312 decoded, folding undone."""
    if value is None:
        return ""
    text = str(value)
    if _has_raw_bytes(text):  # 8-bit bytes the parser kept as surrogates: a client that sent raw GBK or UTF-8
        text = _decode_bytes(text.encode("utf-8", "surrogateescape"), None)
    if "=?" in text:
        try:
            parts = decode_header(text)
        except (email_errors.HeaderParseError, ValueError):
            parts = [(text, None)]
        text = "".join(chunk if isinstance(chunk, str) else _decode_bytes(chunk, charset) for chunk, charset in parts)
    return " ".join(text.split())


def _raw_header(part: Message, name: str) -> str | None:
    """A header exactly as parsed (no policy processing), or None."""
    for key, value in part.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def _undecoded(value: object) -> bool:
    """Whether the library left part of a header undecoded (raw 8-bit bytes, a charset that did not fit)."""
    defects = getattr(value, "defects", ())
    return any(isinstance(d, email_errors.UndecodableBytesDefect) for d in defects) or "\ufffd" in str(value)


def header_text(part: Message, name: str) -> str:
    """A header's text as ``email.policy.default`` decodes it; the rescue only where the library could not."""
    try:
        value = part.get(name)
    except (email_errors.HeaderParseError, ValueError, IndexError, TypeError, AttributeError):
        return decode_text(_raw_header(part, name))  # a header the library's parser chokes on: read it raw
    if value is None:
        return ""
    return decode_text(_raw_header(part, name)) if _undecoded(value) else " ".join(str(value).split())


def _rescued_param(part: Message, header: str, name: str) -> str | None:
    """A parameter of a header the library could not decode, read from the raw header by the rescue."""
    raw = _raw_header(part, header)
    if raw is None:
        return None
    holder = Message()  # the header with raw bytes already decoded, so that get_param sees plain text
    holder[header] = decode_text(raw) if _has_raw_bytes(raw) else raw
    value = holder.get_param(name, None, header)
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231: (charset, language, %-decoded text whose code points are bytes)
        charset, _language, text = value
        return _decode_bytes(str(text).encode("latin-1", "surrogateescape"), charset)
    return decode_text(value)


def attachment_name(part: Message) -> str | None:
    """The file name a part carries (Content-Disposition ``filename``, else Content-Type ``name``), or None.

    ``get_filename()`` decodes RFC 2231 and RFC 2047; a name it could not decode is rescued from the raw header.
    """
    try:
        name = part.get_filename()
        undecoded = name is not None and (_undecoded(name) or any(
            _undecoded(part.get(h)) for h in ("content-disposition", "content-type") if part.get(h) is not None))
    except (email_errors.HeaderParseError, ValueError, IndexError, TypeError, AttributeError):
        name, undecoded = None, True
    if name is not None and not undecoded:
        return " ".join(name.split())
    rescued = _rescued_param(part, "content-disposition", "filename")
    rescued = rescued if rescued is not None else _rescued_param(part, "content-type", "name")
    return rescued if rescued is not None else name


def _check_defects(part: Message) -> None:
    for defect in part.defects:
        for kind, reason in _FATAL_DEFECTS.items():
            if isinstance(defect, kind):
                raise MalformedMessageError(reason)


def iter_attachments(message: Message, max_depth: int = MAX_DEPTH) -> Iterator[Attachment]:
    """Every attached file of ``message``, in order, including those of attached (forwarded) messages.

    An attachment is a leaf part with a file name or with ``Content-Disposition: attachment``;
    the message text and images embedded in an HTML body (inside multipart/related, with a
    Content-ID and no attachment disposition) are not. Raises :class:`MalformedMessageError` when the
    structure is broken, an attachment's encoding is damaged, or nesting exceeds ``max_depth``.
    """
    yield from _walk(message, 0, max_depth, related=False)


def _walk(part: Message, depth: int, max_depth: int, *, related: bool) -> Iterator[Attachment]:
    if depth > max_depth:
        raise MalformedMessageError(f"邮件嵌套超过 {max_depth} 层")
    _check_defects(part)
    if part.is_multipart():
        children = part.get_payload()
        inner_related = part.get_content_type() == "multipart/related"
        for child in children if isinstance(children, list) else []:
            if isinstance(child, Message):
                yield from _walk(child, depth + 1, max_depth, related=inner_related)
        return
    name = attachment_name(part)
    disposition = part.get_content_disposition()
    if name is None and disposition != "attachment":
        return  # the message text
    if related and disposition != "attachment" and part.get("Content-ID"):
        return  # an image shown inside the HTML body (a signature logo), not a file the unit attached
    data = part.get_payload(decode=True)
    _check_defects(part)  # decoding records damaged base64 as defects
    yield Attachment(name or "", data if isinstance(data, bytes) else b"", part.get_content_type())


def _date(message: Message) -> dt.datetime | None:
    """The Date header as an aware time; None when missing, unreadable or beyond what a time can hold."""
    try:
        date: dt.datetime | None = parsedate_to_datetime(header_text(message, "date"))
        if date is not None and date.tzinfo is None:
            date = date.astimezone()  # “-0000” or no zone: taken as local time
        if date is not None:
            date.astimezone(dt.UTC)  # year 9999 at −1200 lies past the end of time
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return date


def plausible_time(when: dt.datetime | None) -> dt.datetime | None:
    """A time fit to name a folder and stamp a file: local, after 1980 and not days ahead; else None.

    A Date header is typed by the sender's client: year 9999, a zone of −1200 at the end of time or
    nonsense must neither stop a run nor file a mail under a date that never came.
    """
    if when is None:
        return None
    try:
        local = when.astimezone()
        local.timestamp()
    except (OverflowError, ValueError, OSError):
        return None
    latest = dt.datetime.now().astimezone() + LATEST
    return local if dt.datetime(1980, 1, 1).astimezone() <= local <= latest else None


def _sender(message: Message) -> tuple[str, str]:
    """The From display name and address, as policy.default parses them; else read from the raw header.

    Some clients encode the whole ``名字 <addr>`` as one encoded word; the standard parser then sees no
    address (a defect) and the rescue decodes the raw header first and parses that.
    """
    try:
        value = message.get("from")
        addresses: tuple[Any, ...] = getattr(value, "addresses", ())
        if value is not None and not _undecoded(value) and len(addresses) == 1 and addresses[0].domain:
            return str(addresses[0].display_name), str(addresses[0].addr_spec)
    except (email_errors.HeaderParseError, ValueError, IndexError, TypeError, AttributeError):
        pass  # the rescue below reads the raw header
    return parseaddr(decode_text(_raw_header(message, "from")))


def envelope(message: Message) -> Envelope:
    """The sender, subject, date and Message-ID of a message, decoded; never raises."""
    name, address = _sender(message)
    address = address.strip().lower()
    return Envelope(sender=address if "@" in address else "", sender_name=name,
                    subject=header_text(message, "subject"), date=_date(message),
                    message_id=header_text(message, "message-id"))


def safe_filename(name: str, fallback: str = FALLBACK_NAME) -> str:
    """``name`` made safe to save: no folders (``../``, ``C:\\``), no control, bidi or Windows-forbidden
    characters, no leading dot, no device name (CON, NUL…), at most :data:`MAX_NAME_BYTES` bytes with the
    extension kept; ``fallback`` when nothing is left. The Windows and POSIX rules are pathvalidate's."""
    text = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    # Control and format characters (a right-to-left override can disguise “xlsx.exe”) go before pathvalidate.
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp"))
    text = " ".join(text.split()).strip(" .")
    path = PurePosixPath(text or "x")
    suffix = path.suffix if text and 1 < len(path.suffix) <= 16 else ""
    suffix = sanitize_filename(suffix, replacement_text="_", platform="universal")
    stem = sanitize_filename(text[: len(text) - len(path.suffix)] if suffix else text, replacement_text="_",
                             platform="universal", max_len=MAX_NAME_BYTES - len(suffix.encode("utf-8")),
                             fs_encoding="utf-8").rstrip(" .")
    if not stem:
        return fallback if not suffix else safe_filename(PurePosixPath(fallback).stem + suffix, FALLBACK_NAME)
    return stem + suffix
