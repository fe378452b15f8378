"""Supporting material: the 活动总结, photos, videos, documents and archives units send with their forms.

The plan (五、工作要求（三）) asks every unit to send 视频、图片、文字 material during the month and
an 活动总结 together with 附件1. Such files are not failed forms. Each one is recognised by its
content (:mod:`pipeline.safety.sniff`), attributed to a unit by its folder or file name (never guessed),
and listed in the rollup's 材料清单 sheet and ``materials.csv``. Archives are listed, never extracted.
"""

from __future__ import annotations

import functools
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import defusedxml.ElementTree as SafeET

from pipeline.model import Outcome, Severity, Submission
from pipeline.safety.badbytes import describe, is_bad_bytes, technical
from pipeline.safety.guards import GuardError, check_package, check_zip_directory
from pipeline.safety.sniff import IGNORED_NAMES, MACRO_WORKBOOK, WORKBOOK, Sniffed
from pipeline.settings.campaign import Campaign, Limits
from pipeline.settings.roster import Roster, Unit, normalise_name

if TYPE_CHECKING:
    pass

# Material kinds, in the order the 材料清单 sheet counts them.
SUMMARY = "活动总结"
TEXT = "文字"
IMAGE = "图片"
VIDEO = "视频"
ARCHIVE = "压缩包"
OTHER = "其他"
STAMPED = "盖章件"  # a scan or print of a form the unit also sent as Excel (pipeline.checks.copies)
CONTINUED = "报表续页"  # a further photo of a form sent as several photos (pipeline.checks.copies)
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
_UTF8_FLAG = 0x800
_MB = 1 << 20


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


# ----------------------------------------------------------------------------- attribution


@dataclass(frozen=True)
class Attribution:
    """Which unit a material file belongs to, and on what basis."""

    unit: Unit | None
    basis: str = ""  # 文件夹“…” / 文件名
    ambiguous: tuple[Unit, ...] = ()
    conflict: Unit | None = None  # the file name names another unit than the folder


class UnitMatcher:
    """Finds roster codes and names inside folder and file names.

    A code matches as a token (``U001`` but not inside ``U0012``); a name matches as a
    substring after :func:`normalise_name`, also without the county prefix when what is left
    is at least four characters. Where one unit's match lies inside another's (``汽车客运站``
    inside ``城南汽车客运站``), the longer one wins.
    """

    def __init__(self, roster: Roster, county: str = "") -> None:
        self.order = {u.code: i for i, u in enumerate(roster)}
        self.codes: list[tuple[re.Pattern[str], Unit]] = []
        self.names: list[tuple[str, Unit]] = []
        prefix = normalise_name(county)
        for unit in roster:
            code = normalise_name(unit.code)
            if code:
                self.codes.append((re.compile(_token_boundary(code, before=True) + re.escape(code)
                                              + _token_boundary(code, before=False)), unit))
            name = normalise_name(unit.name)
            self.names.append((name, unit))
            if prefix and name.startswith(prefix) and len(name) - len(prefix) >= 4:
                self.names.append((name[len(prefix):], unit))

    def units_in(self, text: str) -> list[Unit]:
        """The distinct units named in ``text``, in roster order."""
        folded = normalise_name(text)
        spans: list[tuple[int, int, Unit]] = []
        for pattern, unit in self.codes:
            spans.extend((m.start(), m.end(), unit) for m in pattern.finditer(folded))
        for key, unit in self.names:
            start = folded.find(key)
            while start >= 0:
                spans.append((start, start + len(key), unit))
                start = folded.find(key, start + 1)
        kept = {s[2].code: s[2] for s in spans
                if not any(o[2] is not s[2] and o[0] <= s[0] and s[1] <= o[1] and o[1] - o[0] > s[1] - s[0]
                           for o in spans)}
        return sorted(kept.values(), key=lambda u: self.order[u.code])


def _token_boundary(code: str, *, before: bool) -> str:
    edge = code[0] if before else code[-1]
    cls = "a-z" if edge.isascii() and edge.isalpha() else ("0-9" if edge.isdigit() else "")
    if not cls:
        return ""
    return f"(?<![{cls}])" if before else f"(?![{cls}])"


@functools.lru_cache(maxsize=8)
def _matcher(roster: Roster, county: str) -> UnitMatcher:
    return UnitMatcher(roster, county)


def attribute(file: str, matcher: UnitMatcher, title: str = "") -> Attribution:
    """Attribute ``file`` (relative to inbox/) by its folders, innermost first, then by its file name.

    ``title``, the opening lines of a document, is the last resort.
    """
    path = PurePosixPath(file)
    sources = [(f"文件夹“{folder}”", folder) for folder in reversed(path.parts[:-1])]
    folders = len(sources)
    sources.append(("文件名", path.stem))
    if title:
        sources.append(("文档标题", title))
    for index, (basis, text) in enumerate(sources):
        units = matcher.units_in(text)
        if not units:
            continue
        if len(units) > 1:
            # A later source naming exactly one of these units settles it; anything else is reported.
            for later_basis, later_text in sources[index + 1:]:
                later = matcher.units_in(later_text)
                if len(later) == 1 and later[0] in units:
                    return Attribution(later[0], later_basis)
            return Attribution(None, basis, ambiguous=tuple(units))
        unit = units[0]
        conflict = None
        if index < folders:
            named = matcher.units_in(path.stem)
            if len(named) == 1 and named[0] != unit:
                conflict = named[0]
        return Attribution(unit, basis, conflict=conflict)
    return Attribution(None)


# ----------------------------------------------------------------------------- zip containers


@dataclass(frozen=True)
class ArchiveListing:
    """The files a zip holds (names decoded), or why its directory was not read."""

    names: tuple[str, ...] = ()
    problem: str = ""
    oversize: str = ""  # set when unpacking would exceed the campaign's limits


def _entry_name(info: zipfile.ZipInfo) -> str:
    """Names without the UTF-8 flag were written by Chinese Windows in GBK; zipfile decodes them as cp437."""
    if info.flag_bits & _UTF8_FLAG:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gbk")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _is_clutter(name: str) -> bool:
    base = PurePosixPath(name).name
    return name.startswith("__MACOSX/") or base.startswith((".", "~$")) or base.lower() in IGNORED_NAMES


def _oversize(infos: list[zipfile.ZipInfo], limits: Limits) -> str:
    unpacked = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if unpacked > limits.max_unzipped_mb * _MB:
        return f"解压后约 {unpacked / _MB:,.0f} MB，超过 {limits.max_unzipped_mb} MB 的上限"
    if unpacked > _MB and unpacked > limits.max_compression_ratio * max(packed, 1):
        return f"压缩比约 {unpacked / max(packed, 1):,.0f} 倍，超过 {limits.max_compression_ratio} 倍的上限"
    return ""


def _zip_infos(path: Path, limits: Limits) -> tuple[list[zipfile.ZipInfo], str]:
    """The zip's entries, or a reason why they were not read (too many, broken)."""
    too_many = f"压缩包内文件过多（超过 {limits.max_zip_entries} 个的上限），未读取其目录"
    try:
        check_zip_directory(path, limits)  # the entry count, before zipfile builds the directory
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except GuardError:
        return [], too_many
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
        return [], "压缩包已损坏，无法读取其目录"
    return ([], too_many) if len(infos) > limits.max_zip_entries else (infos, "")


def list_zip(path: Path, limits: Limits) -> ArchiveListing:
    """The file names a zip holds; nothing is extracted."""
    infos, problem = _zip_infos(path, limits)
    if problem:
        return ArchiveListing(problem=problem)
    names = tuple(n for n in (_entry_name(i) for i in infos if not i.is_dir()) if not _is_clutter(n))
    return ArchiveListing(names, oversize=_oversize(infos, limits))


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


def _archive(sub: Submission, rec: Recognised, limits: Limits, notes: list[str]) -> str:
    """List an archive into the notes; returns the kind (an OOXML/OFD container is a document)."""
    if rec.content != "zip":
        notes.append("无法读取压缩包目录（未安装 RAR/7z 组件），请局安全股手工查看其中是否有报表")
        return ARCHIVE
    listing = list_zip(sub.path, limits)
    if listing.problem:
        notes.append(listing.problem)
        return ARCHIVE
    lowered = {n.lower() for n in listing.names}
    if "[content_types].xml" in lowered or "ofd.xml" in lowered:
        notes.append("Office/OFD 格式文档")
        return TEXT
    notes.append(f"压缩包内有 {len(listing.names)} 个文件，程序未解压")
    if listing.oversize:
        notes.append(listing.oversize)
        sub.add(Severity.WARNING, "压缩包异常", f"该压缩包{listing.oversize}，可能是恶意构造的“压缩炸弹”。"
                "请先向报送单位核实，不要直接解压。")
    books = [n for n in listing.names if PurePosixPath(n).suffix.lower() in WORKBOOK_EXTENSIONS]
    if books:
        notes.append(f"其中有报表{_quoted(books)}")
        sub.add(Severity.WARNING, "压缩包内有报表", f"压缩包内有报表{_quoted(books)}。程序不会解压压缩包，"
                "请局安全股解压后把报表另存到 inbox/ 中，再重新汇总。")
    summaries = [n for n in listing.names if SUMMARY_WORD in PurePosixPath(n).stem
                 and PurePosixPath(n).suffix.lower() in DOCUMENT_EXTENSIONS]
    if summaries:
        notes.append(f"其中有活动总结{_quoted(summaries)}（解压保存到 inbox/ 后才计为已报送）")
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
            kind = _archive(sub, rec, campaign.limits, notes)
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
    found = attribute(sub.file, _matcher(roster, campaign.county), "|".join(paragraphs[:TITLE_PARAGRAPHS]))
    if found.unit is None and not found.ambiguous and sub.sender and roster.by_code(sub.sender) is not None:
        found = Attribution(roster.by_code(sub.sender), "发件人邮箱")  # an attachment of a saved mail
    sub.unit = found.unit
    if found.unit is not None:
        notes.insert(0, f"按{found.basis}确定单位")
        if found.conflict is not None:
            sub.add(Severity.WARNING, "材料单位不一致", f"{found.basis}表明是{found.unit.name}的材料，但文件名中是"
                    f"{found.conflict.name}，已按{found.basis}归属，请核实。")
    elif found.ambiguous:
        names = "、".join(u.name for u in found.ambiguous)
        notes.insert(0, "单位不明")
        sub.add(Severity.WARNING, "材料单位不明", f"{found.basis}中同时出现了{names}，无法确定该材料属于哪个单位。"
                "请局安全股把它移入以该单位名称命名的子文件夹后重新汇总。")
    else:
        notes.insert(0, "未能确定单位")
        sub.add(Severity.WARNING, "材料单位未识别", "文件夹名和文件名中都没有名录中的单位编码或单位名称，"
                "无法确定该材料是哪个单位报送的。请局安全股把它移入以该单位名称命名的子文件夹（或在文件名中写明单位名称）后重新汇总。")
    sub.note = "；".join(notes)
