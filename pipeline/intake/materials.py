"""Supporting material: the 活动总结, photos, videos, documents and archives units send with their forms.

The plan (五、工作要求（三）) asks every unit to send 视频、图片、文字 material during the month and
an 活动总结 together with 附件1. Such files are not failed forms. Each one is recognised by its
content (:mod:`pipeline.safety.sniff`), attributed to a unit by :mod:`pipeline.units.attribution`'s rule
(sender, then folder and file names, then a document's title; never guessed), and listed in the rollup's
材料清单 sheet and ``materials.csv``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import defusedxml.ElementTree as SafeET

from pipeline.model import CONTINUED, STAMPED, Outcome, Severity, Submission
from pipeline.safety.badbytes import describe, is_bad_bytes, technical
from pipeline.safety.guards import GuardError, check_package
from pipeline.safety.sniff import MACRO_WORKBOOK, WORKBOOK, Sniffed
from pipeline.settings.campaign import Campaign, Limits
from pipeline.settings.roster import Roster, normalise_name
from pipeline.units.attribution import attribute_file

# Material kinds, in the order the 材料清单 sheet counts them.
SUMMARY = "活动总结"
TEXT = "文字"
IMAGE = "图片"
VIDEO = "视频"
ARCHIVE = "压缩包"
OTHER = "其他"
KINDS = (SUMMARY, TEXT, IMAGE, VIDEO, ARCHIVE, OTHER, STAMPED, CONTINUED)

SUBMITTED = "已报送"
NOT_SUBMITTED = "未报送"
# The plan: “6月30日前报送活动总结及情况统计表” — the summary is due with 附件1.
SUMMARY_WORD = "总结"
SUMMARY_PARAGRAPHS = 5  # a .docx whose first paragraphs say 总结 is a summary
TITLE_PARAGRAPHS = 2  # a .docx whose title lines name exactly one unit is that unit's (after folder and name)
SHEET = "材料清单"
MATERIAL_COLUMNS = ["file", "unit_code", "kind", "size", "first_seen"]

DOCUMENT_EXTENSIONS = frozenset({".doc", ".docx", ".wps", ".pdf", ".txt"})
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".heic"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi"})
ARCHIVE_EXTENSIONS = frozenset({".zip", ".rar", ".7z"})
MATERIAL_EXTENSIONS = DOCUMENT_EXTENSIONS | IMAGE_EXTENSIONS | VIDEO_EXTENSIONS | ARCHIVE_EXTENSIONS
# Extensions that claim to be a form; a document saved under one gets a "not a form" warning.
FORM_EXTENSIONS = frozenset({".xlsx", ".xlsm", ".xls", ".xltx", ".et", ".ett", ".csv", ".ods", ".numbers"})
WORKBOOK_EXTENSIONS = frozenset({".xlsx", ".xlsm", ".xls", ".et", ".ods"})
# Content the form reader handles (or explains), whatever the extension says.
_FORM_CONTENT = frozenset({WORKBOOK, MACRO_WORKBOOK, "xls", "xlsb", "et", "ods", "numbers", "csv", "html",
                           "xml-spreadsheet"})
_FORM_CATEGORIES = frozenset({"form", "spreadsheet"})  # Sniffed.category, where the sniffer provides it
_WORD = frozenset({".doc", ".docx", ".wps"})
# sniff kind -> (material kind, how the content is named in a note, extensions that match it)
_CONTENT: dict[str, tuple[str, str, frozenset[str]]] = {
    "pdf": (TEXT, "PDF文档", frozenset({".pdf"})),
    "docx": (TEXT, "Word文档", _WORD),
    "doc": (TEXT, "Word文档", _WORD),
    "rtf": (TEXT, "RTF文档", _WORD | {".rtf"}),
    "odt": (TEXT, "OpenDocument文档", frozenset({".odt"})),
    "ppt": (TEXT, "演示文稿", frozenset({".ppt", ".pptx", ".dps"})),
    "pptx": (TEXT, "演示文稿", frozenset({".ppt", ".pptx", ".dps"})),
    "audio": (OTHER, "音频", frozenset({".mp3", ".wav", ".m4a", ".amr", ".wma"})),
    "image": (IMAGE, "图片", IMAGE_EXTENSIONS | {".gif"}),
    "video": (VIDEO, "视频", VIDEO_EXTENSIONS),
    "zip": (ARCHIVE, "ZIP压缩包", frozenset({".zip"})),
    "rar": (ARCHIVE, "RAR压缩包", frozenset({".rar"})),
    "7z": (ARCHIVE, "7z压缩包", frozenset({".7z"})),
    "gzip": (ARCHIVE, "gzip压缩包", frozenset({".gz", ".tgz"})),
}
_UNREADABLE = {"empty": "文件是空的（0 字节）", "encrypted": "文件设有打开密码", "broken": "文件已损坏或不完整"}


@dataclass(frozen=True)
class Recognised:
    """What a material file is by content, and what its extension or state adds to its note."""

    kind: str
    content: str  # the sniff kind, or "doc" for an OLE file saved as .doc/.wps
    note: str = ""
    warning: str = ""  # text of a 警告 finding, when the staff or the unit should act


def recognise(path: Path, sniffed: Sniffed) -> Recognised | None:
    """The material kind of a file judged by content, or None when the file belongs to the form reader.

    Real documents, images, videos and archives are material whatever their extension; a
    file whose content cannot be recognised is material only when its extension says so.
    """
    ext = path.suffix.lower()
    content = sniffed.kind
    streams: frozenset[str] = getattr(sniffed, "streams", frozenset())
    if ext in _WORD and "worddocument" in streams:
        content = "doc"  # a Word file saved by WPS carries WPS streams too: it is still a document
    elif content in _FORM_CONTENT or getattr(sniffed, "category", "") in _FORM_CATEGORIES:
        return None
    if content in _CONTENT:
        kind, label, usual = _CONTENT[content]
        if ext in usual:
            return Recognised(kind, content)
        note = f"扩展名为{ext}，实际为{label}" if ext else f"没有扩展名，实际为{label}"
        warning = ""
        if ext in FORM_EXTENSIONS:
            warning = (f"该文件扩展名为{ext}，但实际是{label}，不是报表，已作为活动材料登记。"
                       "附件1、附件2请在下发的 Excel 模板上填写后另行发送。")
        return Recognised(kind, content, note, warning)
    if ext not in MATERIAL_EXTENSIONS:
        return None
    if content == "text":
        if ext in DOCUMENT_EXTENSIONS:
            return Recognised(TEXT, content, "" if ext == ".txt" else f"扩展名为{ext}，实际为纯文本")
        return Recognised(OTHER, content, f"扩展名为{ext}，实际为纯文本")
    if content in ("ole", "broken") and ext in _WORD and streams:
        return Recognised(TEXT, "doc")  # an OLE file saved as .doc/.wps without a WordDocument stream (older WPS)
    reason = _UNREADABLE.get(content, "文件内容无法识别")
    return Recognised(OTHER, content, f"{reason}（扩展名为{ext}）",
                      f"{reason}，无法查看其内容。如是活动材料，请重新保存后再发送一次。")


# ----------------------------------------------------------------------------- document text


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1]


def docx_paragraphs(path: Path, limits: Limits, count: int = SUMMARY_PARAGRAPHS) -> list[str]:
    """The text of a .docx file's first ``count`` non-empty paragraphs.

    The package first passes the same guards as a returned workbook (:func:`pipeline.safety.guards.check_package`:
    part count, sizes, compression ratio, tag count, no DTD); raises :class:`GuardError` when it does not.
    """
    package = check_package(path, limits)
    part = next((n for n in package.names if n.lower() == "word/document.xml"), None)
    if part is None:
        return []
    paragraphs: list[str] = []
    try:
        with zipfile.ZipFile(path) as zf, zf.open(part) as stream:
            for _event, elem in SafeET.iterparse(stream, events=("end",)):
                if _local(elem.tag) != "p":
                    continue
                text = "".join(t.text or "" for t in elem.iter() if _local(t.tag) == "t").strip()
                elem.clear()
                if text:
                    paragraphs.append(text)
                    if len(paragraphs) >= count:
                        break
    except Exception as exc:  # malformed XML, DTD/entity bombs, bad zip: simply not a summary
        if not is_bad_bytes(exc, ("zip", "xml", "text", "size")):
            raise
        return paragraphs
    return paragraphs


# ----------------------------------------------------------------------------- registering a file


def _is_summary(sub: Submission, rec: Recognised, paragraphs: list[str]) -> bool:
    if rec.kind != TEXT or rec.content not in ("docx", "doc", "pdf"):
        return False
    if SUMMARY_WORD in normalise_name(PurePosixPath(sub.file).stem):
        return True
    return any(SUMMARY_WORD in normalise_name(p) for p in paragraphs)


def _quoted(names: list[str], most: int = 3) -> str:
    shown = "".join(f"“{PurePosixPath(n).name}”" for n in names[:most])
    return shown + (f"等 {len(names)} 个文件" if len(names) > most else "")


def _archive(rec: Recognised, notes: list[str]) -> str:
    """The kind and note of an archive the archive source left to this one: a zip here is an Office or OFD
    document package (the archive source, :mod:`pipeline.intake.sources.archive`, takes every other archive)."""
    if rec.content == "zip":
        notes.append("Office/OFD 格式文档")
        return TEXT
    notes.append("压缩包未解开，请局安全股手工查看其中是否有报表")
    return ARCHIVE


def register_material(sub: Submission, rec: Recognised, campaign: Campaign, roster: Roster) -> None:
    """Give ``sub`` the MATERIAL outcome, its kind, its unit (or a 警告 why none) and its note."""
    sub.outcome, sub.form_id = Outcome.MATERIAL, None
    notes = [rec.note] if rec.note else []
    if rec.warning:
        sub.add(Severity.WARNING, "不是报表" if rec.content in _CONTENT else "材料无法查看", rec.warning)
    kind = rec.kind
    paragraphs: list[str] = []
    try:
        if kind == ARCHIVE:
            kind = _archive(rec, notes)
        else:
            if rec.content == "docx":
                try:
                    paragraphs = docx_paragraphs(sub.path, campaign.limits)
                except GuardError:
                    notes.append("文档超过安全上限，未读取其内容")
            if _is_summary(sub, rec, paragraphs):
                kind = SUMMARY
    except Exception as exc:  # an odd file never stops the batch; our own bug is not an odd file
        if not is_bad_bytes(exc):
            raise
        sub.details.append(technical(exc))
        notes.append(f"无法查看文件内容（{describe(exc)}）")
    sub.material_kind = kind
    found = attribute_file(sub, roster, campaign.county, "|".join(paragraphs[:TITLE_PARAGRAPHS]))
    sub.unit = found.unit
    if found.unit is not None:
        notes.insert(0, f"按{found.basis}确定单位")
        for other in found.against:
            sub.add(Severity.WARNING, "材料单位不一致", f"{found.basis}表明是{found.unit.name}的材料，但{other.basis}中是"
                    f"{other.unit.name}，已按{found.basis}归属，请核实。")
    elif found.ambiguous:
        names = "、".join(u.name for u in found.ambiguous)
        notes.insert(0, "单位不明")
        sub.add(Severity.WARNING, "材料单位不明", f"文件名或文件夹名中同时出现了{names}，无法确定该材料属于哪个单位。"
                "请局安全股把它移入以该单位名称命名的子文件夹后重新汇总。")
    else:
        notes.insert(0, "未能确定单位")
        sub.add(Severity.WARNING, "材料单位未识别", "文件夹名和文件名中都没有名录中的单位编码或单位名称，"
                "无法确定该材料是哪个单位报送的。请局安全股把它移入以该单位名称命名的子文件夹（或在文件名中写明单位名称）后重新汇总。")
    sub.note = "；".join(notes)
