"""Attachments of untrusted mail: names decoded whatever the client, nesting followed, names made safe, damage caught."""

from __future__ import annotations

import base64
import datetime as dt
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from pipeline.intake.mailparts import MalformedMessageError, envelope, iter_attachments, parse_message, safe_filename

NAME = "附件1_清河县喆达运输公司.xlsx"  # 喆 is in GBK but not in GB2312


def _one(disposition: bytes, payload: bytes = b"YWJj") -> bytes:
    return (b"From: u001@example.com\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\n"
            b"Content-Type: text/plain; charset=utf-8\n\nbody\n--B\nContent-Type: application/octet-stream\n"
            b"Content-Transfer-Encoding: base64\nContent-Disposition: " + disposition + b"\n\n" + payload + b"\n--B--\n")


def _words(charset: str, label: str | None = None) -> bytes:
    encoded = base64.b64encode(NAME.encode(charset)).decode()
    return f"=?{label or charset}?B?{encoded}?=".encode()


@pytest.mark.parametrize("disposition", [
    b"attachment; filename*=gbk''" + "".join(f"%{b:02X}" for b in NAME.encode("gbk")).encode(),
    b"attachment; filename*=utf-8''" + "".join(f"%{b:02X}" for b in NAME.encode("utf-8")).encode(),
    b'attachment; filename="' + _words("gbk") + b'"',
    b'attachment; filename="' + _words("gbk", "GB2312") + b'"',  # GBK text labelled GB2312, as old clients do
    b'attachment; filename="' + NAME.encode("gbk") + b'"',
    b'attachment; filename="' + NAME.encode("utf-8") + b'"',
], ids=["rfc2231-gbk", "rfc2231-utf8", "rfc2047-gbk", "rfc2047-gb2312-label", "raw-gbk", "raw-utf8"])
def test_names_are_decoded_in_every_form(disposition: bytes) -> None:
    """RFC 2231, RFC 2047 (even GBK labelled GB2312) and raw 8-bit names all give the same name and bytes."""
    found = list(iter_attachments(parse_message(_one(disposition))))
    assert [(a.name, a.data) for a in found] == [(NAME, b"abc")]


def test_name_from_content_type_when_disposition_has_none() -> None:
    """A part named only by Content-Type ``name`` is an attachment with that name."""
    raw = _one(b"attachment").replace(b"Content-Type: application/octet-stream",
                                       b'Content-Type: application/octet-stream; name="' + _words("utf-8") + b'"')
    assert [a.name for a in iter_attachments(parse_message(raw))] == [NAME]


def test_nested_messages_and_embedded_images() -> None:
    """Attachments of forwarded messages are found at any depth; an image embedded in the HTML body is not one."""
    inner = MIMEMultipart()
    inner.attach(MIMEText("inner"))
    pdf = MIMEApplication(b"%PDF", "pdf")
    pdf.add_header("Content-Disposition", "attachment", filename="总结.pdf")
    inner.attach(pdf)
    middle = MIMEMultipart()
    middle.attach(MIMEMessage(inner))
    related = MIMEMultipart("related")
    related.attach(MIMEText("<img src='cid:logo'>", "html"))
    logo = MIMEImage(b"\x89PNG\r\n\x1a\n", "png")
    logo.add_header("Content-ID", "<logo>")
    logo.add_header("Content-Disposition", "inline", filename="logo.png")
    related.attach(logo)
    outer = MIMEMultipart()
    outer.attach(related)
    outer.attach(MIMEMessage(middle))
    found = list(iter_attachments(parse_message(outer.as_bytes())))
    assert [(a.name, a.data, a.content_type) for a in found] == [("总结.pdf", b"%PDF", "application/pdf")]


def test_nesting_beyond_the_limit_is_malformed() -> None:
    """A message nested deeper than the limit is refused rather than followed."""
    message = MIMEMultipart()
    for _ in range(4):
        wrapper = MIMEMultipart()
        wrapper.attach(MIMEMessage(message))
        message = wrapper
    with pytest.raises(MalformedMessageError, match="嵌套"):
        list(iter_attachments(parse_message(message.as_bytes()), max_depth=4))


@pytest.mark.parametrize(("raw", "reason"), [
    (_one(b'attachment; filename="a.xlsx"', b"YWJj!!ZA"), "base64"),
    (_one(b'attachment; filename="a.xlsx"').replace(b"\n--B--\n", b"\n"), "结束边界"),
    (_one(b'attachment; filename="a.xlsx"').replace(b"--B", b"--C"), "分段边界"),
])
def test_damage_is_malformed(raw: bytes, reason: str) -> None:
    """Broken base64, a missing closing boundary or no boundary at all make the message malformed."""
    with pytest.raises(MalformedMessageError, match=reason):
        list(iter_attachments(parse_message(raw)))


@pytest.mark.parametrize(("name", "expected"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\Windows\\附件1.xlsx", "附件1.xlsx"),
    ("..", "附件"),
    (".bashrc", "bashrc"),
    ("CON.txt", "CON_.txt"),
    ("nul", "nul_"),
    ("a\x00b\u202ec\n.xlsx", "abc.xlsx"),
    ('报表<1>:"?*|.xlsx', "报表_1______.xlsx"),
    ("附件1.xlsx. . ", "附件1.xlsx"),
    ("", "附件"),
])
def test_safe_filename(name: str, expected: str) -> None:
    """No folder part, control, bidi or Windows-forbidden character, hidden dot or device name survives."""
    assert safe_filename(name) == expected


def test_long_names_are_cut_keeping_the_extension() -> None:
    """A name longer than the file system allows is shortened, the extension kept."""
    cut = safe_filename("名" * 200 + ".xlsx")
    assert cut.endswith(".xlsx") and len(cut.encode()) <= 150 and cut.startswith("名")


def test_envelope_decodes_sender_subject_and_date() -> None:
    """From (encoded display name, upper-case address), Subject in GBK and Date with its zone are read."""
    raw = (b"From: " + _words("gbk") + b" <U002@Example.COM>\nSubject: " + "报送附件2".encode("gbk") +
           b"\nDate: Fri, 2 Jun 2023 10:00:00 +0800\nMessage-ID: <m1@example.com>\n\nbody\n")
    env = envelope(parse_message(raw))
    assert (env.sender, env.sender_name, env.subject, env.message_id) == (
        "u002@example.com", NAME, "报送附件2", "<m1@example.com>")
    assert env.date == dt.datetime(2023, 6, 2, 2, 0, tzinfo=dt.UTC)


def test_envelope_without_date_or_sender() -> None:
    """A message without Date or a usable From gives None and an empty sender, never an exception."""
    env = envelope(parse_message(b"From: nobody\nDate: yesterday\n\nbody\n"))
    assert (env.sender, env.date) == ("", None)


def test_envelope_with_the_whole_from_in_one_encoded_word() -> None:
    """A From whose display name and address are one encoded word (as some clients write it) still gives both."""
    encoded = base64.b64encode("李明 <U001@Example.com>".encode()).decode()
    env = envelope(parse_message(f"From: =?utf-8?b?{encoded}?=\nSubject: x\n\nbody\n".encode()))
    assert (env.sender, env.sender_name) == ("u001@example.com", "李明")


def test_envelope_with_a_date_past_the_end_of_time() -> None:
    """A Date of year 9999 at −1200 (past what a time can hold in UTC) gives None, never an exception."""
    env = envelope(parse_message(b"From: a@b.cn\nDate: Fri, 31 Dec 9999 23:59:59 -1200\n\nbody\n"))
    assert (env.sender, env.date) == ("a@b.cn", None)
