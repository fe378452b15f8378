"""Resource guards for untrusted returns, applied before and while a file is parsed.

A returned file is hostile until proven otherwise. Before any parser sees it we check
its size, and for a zip package (.xlsx/.xlsm) the number of parts, each part's declared
size and compression ratio, the total uncompressed size, the number of XML tags in each
part and the absence of DTDs. The whole read of one file runs in a process that is killed at its time limit
(:mod:`pipeline.intake.workers`).
XML is only ever parsed through defusedxml: the program refuses to start otherwise.
"""

from __future__ import annotations

import io
import struct
import time
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pipeline.errors import PipelineError
from pipeline.safety.badbytes import describe
from pipeline.settings.campaign import Limits

MB = 1 << 20
# Parts smaller than this are not judged by their compression ratio: a tiny part cannot bomb.
RATIO_MIN_BYTES = 1 * MB
# An XML part may hold at most this many tags per cell of the max_rows x max_columns grid
# (a cell is <c><f/><v/></c>, plus rows, styles and strings), plus a fixed allowance.
TAGS_PER_CELL = 6
TAG_ALLOWANCE = 50_000
_CHUNK = 1 << 16
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
_XML_SUFFIXES = (".xml", ".rels", ".vml")

_AGAIN = "请在下发的模板上填写后重新发送；如有疑问请联系局安全股。"


class GuardError(Exception):
    """A file a guard will not let through; ``rule`` and ``message`` become its 错误 finding."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


_UNSAFE_XML = (
    "openpyxl 没有启用 defusedxml 安全解析（可能未安装 defusedxml，或设置了环境变量 "
    "OPENPYXL_DEFUSEDXML=False），读取外来文件不安全，程序拒绝运行。"
    "请运行 make setup 重新安装依赖，并删除该环境变量后再试。"
)


def require_safe_xml_settings() -> None:
    """Refuse to start when openpyxl would be told not to use defusedxml; cheap: imports nothing heavy.

    openpyxl reads ``OPENPYXL_DEFUSEDXML`` when it is first imported; :func:`require_safe_xml`
    checks the parser it then really chose, before any returned file is parsed.
    """
    import importlib.util
    import os

    if os.environ.get("OPENPYXL_DEFUSEDXML", "True") != "True" or importlib.util.find_spec("defusedxml") is None:
        raise PipelineError(_UNSAFE_XML)


def require_safe_xml() -> None:
    """Refuse to run unless openpyxl parses XML through defusedxml."""
    require_safe_xml_settings()
    try:
        import defusedxml  # noqa: F401
        import openpyxl.xml
        from openpyxl.xml import functions
    except ImportError as exc:  # pragma: no cover - dependencies are declared
        raise PipelineError(f"缺少必需的组件（{exc.name}），请运行 make setup 重新安装。") from None
    parser_module = getattr(functions.iterparse, "__module__", "") or ""
    if openpyxl.xml.LXML or not openpyxl.xml.DEFUSEDXML or not parser_module.startswith("defusedxml"):
        raise PipelineError(_UNSAFE_XML)


def check_size(size: int, limits: Limits) -> None:
    """Refuse a file larger than ``max_file_mb``."""
    if size > limits.max_file_mb * MB:
        raise GuardError("文件过大", f"文件大小约 {size / MB:.1f} MB，超过上限 {limits.max_file_mb} MB。"
                      "报表文件通常不到 1 MB，请确认发送的是填好的模板，不要在表格中插入照片等材料。" + _AGAIN)


# The zip format's end records (PKWARE APPNOTE.TXT 4.3.16 and, for more than 65,535 entries, 4.3.14/4.3.15).
_END_RECORD = struct.Struct("<4s4H2LH")  # signature, disk numbers, entries here, entries in all, size, offset, comment
_END_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # signature, disk, offset of the zip64 end record, disks
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_END = struct.Struct("<4sQ2H2L2Q")  # signature, size, versions, disks, entries here, entries in all
_ZIP64_END_SIGNATURE = b"PK\x06\x06"
_MAX_COMMENT = 0xFFFF


# A file to check: its path, or its whole content when the caller has already read it (read once, checked once).
Source = Path | bytes


def open_source(source: Source) -> BinaryIO:
    """A binary file object over ``source``'s bytes (the caller closes it)."""
    return io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")


def zip_entry_count(source: Source) -> int | None:
    """How many entries a zip's end record announces, read from the file's tail without building the directory
    (zipfile has no public call for it); None when the file has no end record (not a complete zip)."""
    with open_source(source) as handle:
        size = handle.seek(0, 2)
        start = max(0, size - _END_RECORD.size - _MAX_COMMENT - _ZIP64_LOCATOR.size)
        handle.seek(start)
        tail = handle.read()
        at = tail.rfind(_END_SIGNATURE)
        while at >= 0 and len(tail) - at < _END_RECORD.size:
            at = tail.rfind(_END_SIGNATURE, 0, at)
        if at < 0:
            return None
        entries = int(_END_RECORD.unpack_from(tail, at)[4])
        locator = at - _ZIP64_LOCATOR.size
        if entries != 0xFFFF or locator < 0 or tail[locator:locator + 4] != _ZIP64_LOCATOR_SIGNATURE:
            return entries
        offset = int(_ZIP64_LOCATOR.unpack_from(tail, locator)[2])
        handle.seek(offset)
        record = handle.read(_ZIP64_END.size)
        if len(record) < _ZIP64_END.size or record[:4] != _ZIP64_END_SIGNATURE:
            return entries
        return int(_ZIP64_END.unpack(record)[7])


def check_zip_directory(source: Source, limits: Limits) -> None:
    """Refuse a zip whose central directory announces too many entries, before building it."""
    entries = zip_entry_count(source)
    if entries is None:
        return  # not a complete zip: the sniffer reports it as broken
    if entries > limits.max_zip_entries:
        raise GuardError("部件过多", f"文件内部包含 {entries} 个部件，超过上限 {limits.max_zip_entries} 个，"
                      "不像是正常的报表，已拒绝读取。" + _AGAIN)


# XML parts up to this size are kept in memory by the scan, so that the fast reader need not inflate them again.
KEEP_PART_BYTES = 1 * MB


@dataclass(frozen=True)
class Package:
    """What the guard learnt about a zip package: its part names (original case) and its small XML parts.

    ``content`` is the whole file when the guard was given it in memory, so that the readers need not read it again.
    """

    names: tuple[str, ...]
    parts: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)
    content: bytes | None = field(default=None, repr=False, compare=False)

    def has(self, prefix: str) -> list[str]:
        """Part names starting with ``prefix`` (case-insensitive)."""
        return [n for n in self.names if n.lower().startswith(prefix.lower())]


def check_package(source: Source, limits: Limits) -> Package:
    """Check a zip package's parts against the caps, streaming every XML part once.

    Declared sizes are enforced by :mod:`zipfile` itself (it stops at the declared size and
    then fails the CRC), so checking the central directory bounds what any reader can inflate.
    """
    check_zip_directory(source, limits)
    max_tags = TAGS_PER_CELL * limits.max_rows * limits.max_columns + TAG_ALLOWANCE
    with open_source(source) as handle, zipfile.ZipFile(handle) as zf:
        infos = zf.infolist()
        if len(infos) > limits.max_zip_entries:
            raise GuardError("部件过多", f"文件内部包含 {len(infos)} 个部件，超过上限 {limits.max_zip_entries} 个，"
                          "不像是正常的报表，已拒绝读取。" + _AGAIN)
        total = 0
        for info in infos:
            if info.file_size >= RATIO_MIN_BYTES:
                ratio = info.file_size / max(info.compress_size, 1)
                if ratio > limits.max_compression_ratio:
                    raise GuardError("压缩异常", f"文件中的部件“{info.filename}”压缩比异常（约 {ratio:.0f}:1，"
                                     f"上限 {limits.max_compression_ratio}:1），可能是恶意构造的“压缩炸弹”，"
                                     "已拒绝读取。" + _AGAIN)
            total += info.file_size
        if total > limits.max_unzipped_mb * MB:
            raise GuardError("压缩异常", f"文件解压后约 {total / MB:.0f} MB，超过上限 {limits.max_unzipped_mb} MB，"
                          "不像是正常的报表，已拒绝读取。" + _AGAIN)
        parts: dict[str, bytes] = {}
        for info in infos:
            if info.filename.lower().endswith(_XML_SUFFIXES):
                data = _scan_xml_part(zf, info, max_tags, limits)
                if data is not None:
                    parts[info.filename] = data
        return Package(tuple(i.filename for i in infos), parts, source if isinstance(source, bytes) else None)


def _scan_xml_part(zf: zipfile.ZipFile, info: zipfile.ZipInfo, max_tags: int, limits: Limits) -> bytes | None:
    """Count tags and look for a DTD in one part; a large part is inflated in chunks (never whole in memory).

    Returns the part's bytes when it is at most :data:`KEEP_PART_BYTES` long, else None. A small part is
    inflated whole and judged at once; only when that finds something (or fails) is it scanned again chunk by
    chunk, so that the finding and its wording are exactly those of the chunked scan.
    """
    if info.file_size <= KEEP_PART_BYTES:
        try:
            data = zf.read(info)
        except (zipfile.BadZipFile, zlib.error, EOFError):
            pass  # the chunked scan below reports it in its words
        else:
            # Both markers start with “<!”, which most parts never hold: one search then rules both out.
            if data.count(b"<") <= max_tags and (b"<!" not in data or not any(m in data for m in _DTD_MARKERS)):
                return data
    return _scan_in_chunks(zf, info, max_tags, limits)


def _scan_in_chunks(zf: zipfile.ZipFile, info: zipfile.ZipInfo, max_tags: int, limits: Limits) -> bytes | None:
    """:func:`_scan_xml_part` for any part: inflated chunk by chunk, refused at the first chunk that shows why."""
    tags = 0
    tail = b""
    kept: list[bytes] | None = [] if info.file_size <= KEEP_PART_BYTES else None
    try:
        with zf.open(info) as part:
            while chunk := part.read(_CHUNK):
                if kept is not None:
                    kept.append(chunk)
                tags += chunk.count(b"<")
                window = tail + chunk
                if any(marker in window for marker in _DTD_MARKERS):
                    raise GuardError("不安全内容", f"文件中的部件“{info.filename}”含有 XML 实体或文档类型声明"
                                     "（DOCTYPE/ENTITY），正常的报表不会有这些内容，可能是被篡改或恶意构造的文件，"
                                     "已拒绝读取。" + _AGAIN)
                if tags > max_tags:
                    raise GuardError("内容过多", f"文件中的部件“{info.filename}”内容过多（超过 {limits.max_rows} 行 × "
                                  f"{limits.max_columns} 列的规模），不像是本次报表，已拒绝读取。" + _AGAIN)
                tail = window[-16:]
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise GuardError("文件损坏", f"文件中的部件“{info.filename}”已损坏（{describe(exc)}），"
                         "可能是下载或发送中断。请重新保存后再发送一次。") from None
    return None if kept is None else b"".join(kept)


# The per-file time budget. The hard stop is the reading process being killed
# (:mod:`pipeline.intake.workers`); code that waits on a child program (LibreOffice) reads the budget
# left, so that it ends its child itself in time, on every platform.
_DEADLINE: list[float] = []


def start_budget(seconds: float) -> None:
    """Start the time budget of one file in this process (``seconds`` <= 0: no budget)."""
    _DEADLINE[:] = [time.monotonic() + seconds] if seconds > 0 else []


def budget_left() -> float | None:
    """Seconds left of the current file's budget, or None when there is none."""
    return max(0.0, _DEADLINE[0] - time.monotonic()) if _DEADLINE else None


def safe_name(name: str) -> str:
    """A file name fit to print and to store: undecodable bytes and control characters escaped.

    Names come from outside (mail attachments); a name holding invalid UTF-8 or terminal
    escape sequences must neither crash the CSV/SQLite writers nor drive the terminal.
    """
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if text.isprintable():  # the usual name: nothing to escape (Cc characters are never printable)
        return text
    return "".join(f"\\x{ord(ch):02x}" if unicodedata.category(ch) == "Cc" else ch for ch in text)
