"""Tell what a returned file really is from its content, never from its extension alone.

Every file gets a ``kind`` (workbook, xls, pdf, image, ...) and a ``category``: ``form``
for what the workbook reader opens, ``spreadsheet`` for other table formats that must be
re-saved, ``material`` for documents, images, audio and video (possible supporting
material for the campaign), ``archive``, ``broken`` and ``unknown``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath

from pipeline.safety.badbytes import describe, is_bad_bytes
from pipeline.safety.guards import MB, Source, open_source, zip_entry_count

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
ZIP_EMPTY_MAGIC = b"PK\x05\x06"
IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
# A zip announcing more entries than this is not listed (a form has about a dozen parts).
MAX_SNIFF_ENTRIES = 50_000
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".et", ".ett", ".xltx", ".xlt", ".csv")
# A zip package up to this size is read into memory once: the sniffer, the guards and the readers share its bytes.
KEEP_FILE_BYTES = 8 * MB

# Kinds the workbook reader opens.
WORKBOOK = "workbook"
MACRO_WORKBOOK = "macro-workbook"
XLS = "xls"

FORM = "form"
SPREADSHEET = "spreadsheet"
MATERIAL = "material"
ARCHIVE = "archive"
BROKEN = "broken"
UNKNOWN = "unknown"

_CATEGORY = {
    WORKBOOK: FORM, MACRO_WORKBOOK: FORM, XLS: FORM,
    # Read by python-calamine (and xlrd for .et): pipeline.workbook.calabook.
    "et": FORM, "xlsb": FORM, "ods": FORM,
    "encrypted": BROKEN, "empty": BROKEN, "broken": BROKEN, "unreadable": BROKEN,
    "numbers": SPREADSHEET,
    "xml-spreadsheet": SPREADSHEET, "html": SPREADSHEET, "ole": SPREADSHEET,
    "pdf": MATERIAL, "doc": MATERIAL, "docx": MATERIAL, "ppt": MATERIAL, "pptx": MATERIAL,
    "odt": MATERIAL, "rtf": MATERIAL, "text": MATERIAL, "image": MATERIAL, "video": MATERIAL,
    "audio": MATERIAL,
    "zip": ARCHIVE, "rar": ARCHIVE, "7z": ARCHIVE, "gzip": ARCHIVE, "bzip2": ARCHIVE, "xz": ARCHIVE, "tar": ARCHIVE,
}

_RESAVE = "请在 WPS 或 Excel 中打开下发的模板填写，另存为“Excel 工作簿(*.xlsx)”后重新发送。"
# Why a file could not be opened, in words (an OSError's class, never shown by its name).
_OS_WORDS: dict[type[OSError], str] = {PermissionError: "没有读取权限", FileNotFoundError: "文件已被移走或删除",
                                       IsADirectoryError: "这是一个文件夹"}
_NOT_FORM = "不是报表。如需报送报表，请在下发的 .xlsx 模板上填写后发送。"


@dataclass(frozen=True)
class Sniffed:
    """The content type of a file and, when it cannot be read as a form, what the unit should do."""

    kind: str
    message: str = ""
    streams: frozenset[str] = frozenset()  # OLE stream names (lower case), for macro checks
    # The whole file, when it is a small zip package read into memory here (the readers reuse it).
    content: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def readable(self) -> bool:
        """Whether the workbook reader can open it."""
        return self.category == FORM

    @property
    def category(self) -> str:
        """form / spreadsheet / material / archive / broken / unknown."""
        return _CATEGORY.get(self.kind, UNKNOWN)

    @property
    def rule(self) -> str:
        """The short rule name of the finding for an unreadable file."""
        if self.kind == "encrypted":
            return "有打开密码"
        return {SPREADSHEET: "格式不支持", MATERIAL: "不是报表", ARCHIVE: "不是报表",
                BROKEN: "文件损坏"}.get(self.category, "无法读取")


def is_ignored(path: PurePath) -> bool:
    """Office lock files (~$…), hidden files and OS clutter are not submissions."""
    name = path.name
    return name.startswith(("~$", ".")) or name.lower() in IGNORED_NAMES


def _named(path: Path, what: str) -> str:
    """“这是X” or, when the name claims a spreadsheet, “文件名是 .xlsx，但实际是X”."""
    suffix = path.suffix.lower()
    if suffix in SPREADSHEET_SUFFIXES:
        return f"文件名是 {suffix}，但实际是{what}，"
    return f"这是{what}，"


def _sniff_ole(path: Path) -> Sniffed:
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = frozenset("/".join(s).lower() for s in ole.listdir(streams=True, storages=True))
    except Exception as exc:  # olefile raises many types on a damaged file
        if not is_bad_bytes(exc, ("ole", "text", "size")):
            raise  # our bug, or a full disk: never the file's fault
        return Sniffed("broken", f"文件已损坏，无法打开（{describe(exc)}）。{_RESAVE}")
    if "encryptedpackage" in streams or "encryptioninfo" in streams:
        return Sniffed("encrypted", "文件设置了打开密码，程序无法读取。请取消密码（文件→信息→保护工作簿→"
                       "用密码进行加密，清空密码）后重新发送。", streams)
    wps = path.suffix.lower() in (".et", ".ett") or any("etextdata" in s or "wps" in s for s in streams)
    if "workbook" in streams or "book" in streams:
        # A WPS .et holds an Excel 97-2003 Workbook stream beside its own: read like an .xls.
        return Sniffed("et" if wps else XLS, "", streams)
    if wps:
        # No Workbook stream: WPS's private format, which no reader here understands.
        return Sniffed("ole", "文件是 WPS 表格专用格式（.et），" + _RESAVE, streams)
    if "worddocument" in streams:
        return Sniffed("doc", _named(path, "Word 文档") + _NOT_FORM, streams)
    if "powerpoint document" in streams:
        return Sniffed("ppt", _named(path, "PowerPoint 演示文稿") + _NOT_FORM, streams)
    return Sniffed("ole", "文件是旧版 Office 或 WPS 专用格式，" + _RESAVE, streams)


def _zip_mimetype(zf: zipfile.ZipFile) -> str:
    try:
        return zf.read("mimetype")[:100].decode("ascii", "replace").strip()
    except KeyError:
        return ""


def _sniff_zip(path: Path, source: Source) -> Sniffed:
    entries = zip_entry_count(source)
    if entries is not None and entries > MAX_SNIFF_ENTRIES:
        # Listing would cost memory for nothing: no workbook or document has this many parts.
        return Sniffed("zip", _named(path, "一个压缩包") + "不是报表。请解压后只发送填好的 .xlsx 报表。")
    try:
        with open_source(source) as handle, zipfile.ZipFile(handle) as zf:
            names = {n.lower() for n in zf.namelist()}
            mimetype = _zip_mimetype(zf) if "mimetype" in names else ""
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return Sniffed("broken", "文件不完整或已损坏（可能是下载或发送中断）。请重新保存后再发送一次。")
    if "xl/workbook.xml" in names:
        macro = "xl/vbaproject.bin" in names or any(n.startswith("xl/macrosheets/") for n in names)
        return Sniffed(MACRO_WORKBOOK if macro else WORKBOOK)
    if "xl/workbook.bin" in names:
        return Sniffed("xlsb")
    if "word/document.xml" in names:
        return Sniffed("docx", _named(path, "Word 文档") + _NOT_FORM)
    if "ppt/presentation.xml" in names:
        return Sniffed("pptx", _named(path, "PowerPoint 演示文稿") + _NOT_FORM)
    if any(n.startswith("index/") and n.endswith(".iwa") for n in names) or "index.zip" in names:
        return Sniffed("numbers", "文件是苹果 Numbers 格式，" + _RESAVE)
    if mimetype.endswith("opendocument.spreadsheet") or (not mimetype and "content.xml" in names):
        return Sniffed("ods")
    if mimetype.startswith("application/vnd.oasis.opendocument"):
        return Sniffed("odt", _named(path, "OpenDocument 文档") + _NOT_FORM)
    return Sniffed("zip", _named(path, "一个压缩包") + "不是报表。请解压后只发送填好的 .xlsx 报表。")


_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF", "pdf", "PDF 文件"),
    (b"\xff\xd8\xff", "image", "图片"),
    (b"\x89PNG", "image", "图片"),
    (b"GIF8", "image", "图片"),
    (b"II*\x00", "image", "图片"),
    (b"MM\x00*", "image", "图片"),
    (b"{\\rtf", "rtf", "RTF 文档"),
    (b"Rar!", "rar", "压缩包"),
    (b"7z\xbc\xaf", "7z", "压缩包"),
    (b"\x1f\x8b", "gzip", "压缩包"),
    (b"\xfd7zXZ\x00", "xz", "压缩包"),
    (b"\x1aE\xdf\xa3", "video", "视频文件"),
    (b"FLV", "video", "视频文件"),
    (b"0&\xb2u\x8ef\xcf\x11", "video", "视频文件"),
    (b"ID3", "audio", "音频文件"),
)
# bzip2: “BZh”, the block size 1–9, then the magic of the first block (π) or of the end of stream (√π).
_BZIP2_BLOCKS = (b"\x31\x41\x59\x26\x53\x59", b"\x17\x72\x45\x38\x50\x90")
_TAR_MAGIC_AT = 257  # POSIX and GNU tar headers carry “ustar” here
_IMAGE_BRANDS = (b"heic", b"heix", b"mif1", b"msf1", b"avif")
# QuickTime files without an ftyp box start with one of these atoms.
_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_RIFF = {b"WEBP": ("image", "图片"), b"AVI ": ("video", "视频文件"), b"WAVE": ("audio", "音频文件")}


def _sniff_text(path: Path, head: bytes) -> Sniffed:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", "ignore")
    else:
        for encoding in ("utf-8", "gb18030"):
            try:
                text = head.decode(encoding)
                break
            except UnicodeDecodeError as exc:
                if exc.start > len(head) - 4:  # a character cut by the 4 KB window
                    text = head[:exc.start].decode(encoding)
                    break
        else:
            return Sniffed("unknown", "无法识别的文件格式。" + _RESAVE)
    low = text.lstrip("\ufeff \r\n\t").lower()
    if low.startswith("<?xml") and "urn:schemas-microsoft-com:office:spreadsheet" in low:
        return Sniffed("xml-spreadsheet", "文件是“XML 电子表格 2003”格式，" + _RESAVE)
    if low.startswith(("<!doctype html", "<html")) or "<table" in low:
        return Sniffed("html", "文件是网页格式（可能是从系统导出的“伪 Excel”文件），" + _RESAVE)
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if lines and sum(("," in line or "\t" in line) for line in lines) >= max(1, len(lines) * 2 // 3):
        # Still kind "text" (pipeline.intake.materials relies on it); only the advice differs.
        return Sniffed("text", "文件是 CSV 或文本格式的表格，不是下发的报表模板。" + _RESAVE)
    return Sniffed("text", _named(path, "纯文本文件") + _NOT_FORM)


def sniff(path: Path) -> Sniffed:
    """Classify a file by its content; never raises for a bad file (an unreadable file is kind ``unreadable``)."""
    content: bytes | None = None
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
            if head.startswith((ZIP_MAGIC, ZIP_EMPTY_MAGIC)) and handle.seek(0, 2) <= KEEP_FILE_BYTES:
                handle.seek(0)
                content = handle.read(KEEP_FILE_BYTES + 1)
                content = content if len(content) <= KEEP_FILE_BYTES else None  # it grew meanwhile
    except OSError as exc:
        return Sniffed("unreadable", f"文件无法打开（{_OS_WORDS.get(type(exc), '可能没有读取权限或已被移走')}）。"
                       "请检查该文件，或请单位重新发送。")
    try:
        sniffed = _sniff_content(path, head, content)
    except Exception as exc:  # a damaged file must never stop the batch; our own bug is not a damaged file
        if not is_bad_bytes(exc):
            raise
        return Sniffed("broken", f"文件已损坏，无法识别（{describe(exc)}）。{_RESAVE}")
    return replace(sniffed, content=content) if content is not None and sniffed.readable else sniffed


def _sniff_content(path: Path, head: bytes, content: bytes | None = None) -> Sniffed:
    if not head:
        return Sniffed("empty", "文件是空的（0 字节），可能保存或发送失败。请重新保存后再发送。")
    if head.startswith(OLE_MAGIC):
        return _sniff_ole(path)
    if head.startswith((ZIP_MAGIC, ZIP_EMPTY_MAGIC)):
        return _sniff_zip(path, path if content is None else content)
    if head[_TAR_MAGIC_AT:_TAR_MAGIC_AT + 5] == b"ustar":
        return Sniffed("tar", _named(path, "压缩包") + _NOT_FORM)
    if head.startswith(b"BZh") and head[3:4].isdigit() and head[4:10] in _BZIP2_BLOCKS:
        return Sniffed("bzip2", _named(path, "压缩包") + _NOT_FORM)
    for magic, kind, what in _MAGIC:
        if head.startswith(magic):
            return Sniffed(kind, _named(path, what) + _NOT_FORM)
    if head.startswith(b"BM") and head[6:10] == b"\x00\x00\x00\x00":
        return Sniffed("image", _named(path, "图片") + _NOT_FORM)
    if head[4:8] == b"ftyp":
        kind, what = ("image", "图片") if head[8:12] in _IMAGE_BRANDS else ("video", "视频文件")
        return Sniffed(kind, _named(path, what) + _NOT_FORM)
    if head[4:8] in _QUICKTIME_ATOMS:
        return Sniffed("video", _named(path, "视频文件") + _NOT_FORM)
    if head.startswith(b"RIFF") and head[8:12] in _RIFF:
        kind, what = _RIFF[head[8:12]]
        return Sniffed(kind, _named(path, what) + _NOT_FORM)
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Sniffed("unknown", "无法识别的文件格式。" + _RESAVE)
    return _sniff_text(path, head)
