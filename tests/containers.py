"""Containers built in code for the tests: zips with GBK names, 7z, stored RAR, saved mails, multi-sheet workbooks."""

from __future__ import annotations

import base64
import bz2
import datetime as dt
import gzip
import io
import lzma
import struct
import tarfile
import warnings
import zipfile
import zlib
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import openpyxl
from returns import address, clean_values, count_ids, make_return

from pipeline.checks.rollup import Rollup
from pipeline.demo.samples import docx_bytes
from pipeline.model import Submission


def return_bytes(folder: Path, form_id: str, code: str | None, name: str = "", **values: Any) -> bytes:
    """A filled return (the unit's template, or the generic one when ``code`` is None) as bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    path = make_return(folder, form_id, code, clean_values(form_id, **values), name=name or None)
    data = path.read_bytes()
    path.unlink()
    return data


def counts(n: int) -> dict[str, int]:
    """Every count field of 附件1 set to ``n`` (n sessions, n participants: every rule holds)."""
    return dict.fromkeys(count_ids(), n)


def zip_bytes(entries: dict[str, bytes], *, gbk: bool = False, encrypted: bool = False, unflagged: str = "") -> bytes:
    """A zip; with ``gbk`` the names are written in GBK without the UTF-8 flag, as Chinese Windows tools do
    (``unflagged`` names another encoding written the same way, e.g. "utf-8" as some tools do).

    With ``encrypted`` every entry gets the “encrypted” flag bit in both headers (the data stays
    plain: zipfile cannot write a password, and the flag is what a reader goes by).
    """
    placeholders: dict[bytes, bytes] = {}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for index, (name, data) in enumerate(entries.items()):
            shown = name
            if gbk or unflagged:
                raw = name.encode(unflagged or "gbk")
                shown = f"{index:02d}".ljust(len(raw), "_")
                placeholders[shown.encode()] = raw
            info = zipfile.ZipInfo(shown, (2023, 6, 28, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    out = buffer.getvalue()
    if encrypted:
        patched = bytearray(out)
        for magic, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            start = patched.find(magic)
            while start >= 0:
                patched[start + offset] |= 0x1
                start = patched.find(magic, start + 4)
        out = bytes(patched)
    for placeholder, raw in placeholders.items():
        assert out.count(placeholder) == 2  # local header and central directory
        out = out.replace(placeholder, raw)
    return out


def sevenzip_bytes(entries: dict[str, bytes]) -> bytes:
    """A .7z archive made with py7zr."""
    import py7zr

    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(data, name)
    return buffer.getvalue()


def tar_bytes(entries: dict[str, bytes], compression: str = "", *, links: dict[str, str] | None = None) -> bytes:
    """A tar archive (``compression`` "", "gz", "bz2" or "xz", by stdlib tarfile); ``links`` adds symbolic links."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(dt.datetime(2023, 6, 28, 9).timestamp())
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def compressed_bytes(data: bytes, compression: str) -> bytes:
    """One file compressed alone, as ``gzip``/``bzip2``/``xz`` on the command line do (“gz”, “bz2”, “xz”)."""
    return {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}[compression](data)


def padded_docx(path: Path, megabytes: int) -> Path:
    """A .docx whose one paragraph holds ``megabytes`` MB of blanks: a few hundred KB that inflate to that much."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    with zipfile.ZipFile(io.BytesIO(docx_bytes(["附件1 情况统计表"]))) as small:
        parts = {name: small.read(name) for name in small.namelist()}
    head = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{w}"><w:body><w:p><w:r><w:t xml:space="preserve">'
    tail = "</w:t></w:r></w:p><w:sectPr/></w:body></w:document>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in parts.items():
            if name != "word/document.xml":
                zf.writestr(name, data)
        with zf.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(head.encode())
            block = b" " * (1 << 20)
            for _ in range(megabytes):
                part.write(block)
            part.write(tail.encode())
    return path


def _rar_block(head_type: int, flags: int, body: bytes) -> bytes:
    header = struct.pack("<BHH", head_type, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(header) & 0xFFFF) + header


def rar_bytes(entries: dict[str, bytes]) -> bytes:
    """A RAR 4 archive with stored (uncompressed) members, names in UTF-8.

    No Debian tool writes RAR (``rar`` is non-free, bsdtar only reads it), so the format's
    blocks are laid out here: marker, main header, one file header plus data per member, end block.
    """
    stamp = (2023 - 1980) << 25 | 6 << 21 | 28 << 16 | 9 << 11
    out = b"Rar!\x1a\x07\x00" + _rar_block(0x73, 0, b"\0" * 6)
    for name, data in entries.items():
        raw = name.encode("utf-8")
        flags = 0x8000 | (0 if name.isascii() else 0x200)  # LONG_BLOCK, UNICODE name
        body = struct.pack("<IIBIIBBHI", len(data), len(data), 2, zlib.crc32(data), stamp, 20, 0x30, len(raw), 0x20)
        out += _rar_block(0x74, flags, body + raw) + data
    return out + _rar_block(0x7B, 0x4000, b"")


def eml_bytes(sender: str, date: dt.datetime, attachments: dict[str, bytes], *, rfc2047: frozenset[str] = frozenset(),
              subject: str = "报送附件") -> bytes:
    """A saved mail; names are RFC 2231 encoded, or RFC 2047 inside quotes (as many Chinese clients send) for ``rfc2047``."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "aqgk@example.gov.cn"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg.set_content("附件是我单位的报表，请查收。")
    quoted: dict[str, str] = {}
    for index, (name, data) in enumerate(attachments.items()):
        shown = f"quoted{index}.bin" if name in rfc2047 else name
        if name in rfc2047:
            quoted[shown] = "=?GB2312?B?" + base64.b64encode(name.encode("gbk")).decode() + "?="
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=shown)
    raw = msg.as_bytes()
    for shown, encoded in quoted.items():
        raw = raw.replace(f'filename="{shown}"'.encode(), f'filename="{encoded}"'.encode())
    assert b"filename*=" in raw or not set(attachments) - rfc2047
    return raw


def copy_sheet_values(source: Path, target_wb: Any, title: str) -> None:
    """Copy the visible form sheet of ``source`` cell by cell (values only) into a new sheet of ``target_wb``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(source)
    try:
        ws = next(s for s in wb.worksheets if s.sheet_state == "visible")
        new = target_wb.create_sheet(title)
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None and type(cell).__name__ == "Cell":
                    new[cell.coordinate] = cell.value
    finally:
        wb.close()


def two_unit_book(folder: Path, first: str, second_name: str, first_n: int, second_n: int) -> bytes:
    """One workbook: unit ``first``'s own 附件1 template, plus a copy of its sheet retyped for another unit."""
    path = make_return(folder, "annex1", first, clean_values("annex1", **counts(first_n)), name="book.xlsx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(path)
    try:
        ws = wb["附件1"]
        copy = wb.copy_worksheet(ws)
        copy.title = "附件1（2）"
        copy[address("annex1", "unit_name")] = second_name
        for fid, value in counts(second_n).items():
            copy[address("annex1", fid)] = value
        wb.save(path)
    finally:
        wb.close()
    data = path.read_bytes()
    path.unlink()
    return data


def both_forms_book(folder: Path, code: str, n: int) -> bytes:
    """One workbook: a unit's 附件1 template filled in, plus its 附件2 sheet copied in as a second sheet."""
    book = make_return(folder, "annex1", code, clean_values("annex1", **counts(n)), name="both.xlsx")
    second = make_return(folder, "annex2", code, clean_values("annex2"), name="second.xlsx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(book)
    try:
        copy_sheet_values(second, wb, "附件2")
        wb.save(book)
    finally:
        wb.close()
    data = book.read_bytes()
    book.unlink()
    second.unlink()
    return data


def put(inbox: Path, rel: str, data: bytes) -> Path:
    """Write ``data`` at ``rel`` below ``inbox``, making its folders."""
    path = inbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def submission_named(result: Rollup, file: str) -> Submission:
    """The submission the rollup records under ``file``."""
    return next(s for s in result.submissions if s.file == file)
