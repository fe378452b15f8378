"""Tell what a returned file really is from its first bytes, never from its extension alone."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}

WORKBOOK = "workbook"
MACRO_WORKBOOK = "macro-workbook"


@dataclass(frozen=True)
class Sniffed:
    """The content type of a file and, when it cannot be read as a form, what the unit should do."""

    kind: str
    message: str = ""

    @property
    def readable(self) -> bool:
        """Whether the workbook reader can open it."""
        return self.kind in (WORKBOOK, MACRO_WORKBOOK)


_RESAVE = "请在 WPS 或 Excel 中打开下发的模板填写，另存为“Excel 工作簿(*.xlsx)”后重新发送。"


def is_ignored(path: Path) -> bool:
    """Office lock files (~$…), hidden files and OS clutter are not submissions."""
    name = path.name
    return name.startswith(("~$", ".")) or name.lower() in IGNORED_NAMES


def _sniff_ole(path: Path) -> Sniffed:
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {"/".join(s).lower() for s in ole.listdir()}
    except (OSError, ValueError) as exc:
        return Sniffed("broken", f"文件已损坏，无法打开（{type(exc).__name__}）。{_RESAVE}")
    if "encryptedpackage" in streams or "encryptioninfo" in streams:
        return Sniffed("encrypted", "文件设置了打开密码，程序无法读取。请取消密码（文件→信息→保护工作簿）后重新发送。")
    if "workbook" in streams or "book" in streams:
        return Sniffed("xls", "文件是旧版 Excel 97-2003 格式（.xls），" + _RESAVE)
    if "worddocument" in streams:
        return Sniffed("doc", "这是 Word 文档，不是报表。")
    return Sniffed("ole", "文件是旧版 Office 或 WPS 专用格式，" + _RESAVE)


def _sniff_zip(path: Path) -> Sniffed:
    try:
        with zipfile.ZipFile(path) as zf:
            names = {n.lower() for n in zf.namelist()}
    except (zipfile.BadZipFile, OSError, ValueError):
        return Sniffed("broken", "文件不完整或已损坏（可能是下载或发送中断）。请重新保存后再发送一次。")
    if "xl/workbook.xml" in names:
        if "xl/vbaproject.bin" in names:
            return Sniffed(MACRO_WORKBOOK)
        return Sniffed(WORKBOOK)
    if "word/document.xml" in names:
        return Sniffed("docx", "这是 Word 文档，不是报表。")
    if any(n.startswith("index/") and n.endswith(".iwa") for n in names) or "index.zip" in names:
        return Sniffed("numbers", "文件是苹果 Numbers 格式，" + _RESAVE)
    if "content.xml" in names:
        return Sniffed("ods", "文件是 OpenDocument 表格（.ods），" + _RESAVE)
    return Sniffed("zip", "这是一个压缩包，不是报表。")


_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF", "pdf", "这是 PDF 文件，不是可读取的报表。"),
    (b"\xff\xd8\xff", "image", "这是图片，不是可读取的报表。"),
    (b"\x89PNG", "image", "这是图片，不是可读取的报表。"),
    (b"GIF8", "image", "这是图片，不是可读取的报表。"),
    (b"Rar!", "rar", "这是压缩包，不是报表。"),
    (b"7z\xbc\xaf", "7z", "这是压缩包，不是报表。"),
)


def sniff(path: Path) -> Sniffed:
    """Classify a file by its content."""
    with path.open("rb") as handle:
        head = handle.read(64)
    if not head:
        return Sniffed("empty", "文件是空的（0 字节），可能保存或发送失败。请重新保存后再发送。")
    if head.startswith(OLE_MAGIC):
        return _sniff_ole(path)
    if head.startswith(ZIP_MAGIC):
        return _sniff_zip(path)
    for magic, kind, message in _MAGIC:
        if head.startswith(magic):
            return Sniffed(kind, message + _RESAVE)
    if head[4:8] == b"ftyp":
        return Sniffed("video", "这是视频文件，不是报表。")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        try:
            head.decode("gb18030")
        except UnicodeDecodeError:
            return Sniffed("unknown", "无法识别的文件格式。" + _RESAVE)
    return Sniffed("text", "这是纯文本或 CSV 文件，不是下发的报表模板。" + _RESAVE)
