"""Archives (.zip, .7z, .rar, .tar, .tar.gz/.tgz, .gz, .bz2, .xz): every member is read as if it lay in inbox/,
shown as ``附件.zip!/U013附件1.xlsx``.

Before anything is unpacked the directory passes the guards: the member count, the total
unpacked size and the compression ratio (campaign.toml ``[limits]``), names without ``..`` or a
drive; unpacking runs under the per-file time limit and writes only into a private temporary
folder (:mod:`pipeline.intake.members`). A tar has no directory ahead of its data: it is read as a
stream (stdlib :mod:`tarfile` over :mod:`gzip`, :mod:`bz2` or :mod:`lzma`), every header checked
before its member is copied and every decompressed byte counted against the same limits; links
and devices refuse the archive. A lone ``.gz``/``.bz2``/``.xz`` holds one file, named after it.
Zip names without the UTF-8 flag are read in UTF-8, else GBK (Chinese Windows), through zipfile's
``metadata_encoding``. A .rar is read by :mod:`rarfile` through ``unar`` or ``bsdtar`` (Debian packages
``unar`` / ``libarchive-tools``). An archive holding only activity material (photos, videos)
stays one 材料 entry with its members counted; one that cannot be opened is tied to its unit.
"""

from __future__ import annotations

import bz2
import datetime as dt
import functools
import gzip
import lzma
import shutil
import tarfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from pipeline.faults import NO_TOOL_RULE, RETRY, MachineFaultError, is_disk_full
from pipeline.intake.materials import ARCHIVE, SUMMARY
from pipeline.intake.members import MAX_DEPTH, Packed, read_member, scratch, scratch_path, unique_names
from pipeline.intake.sources import Context, Source
from pipeline.model import Outcome, Severity, Submission
from pipeline.safety.badbytes import describe, is_bad_bytes
from pipeline.safety.sniff import Sniffed, is_ignored
from pipeline.settings.campaign import Limits
from pipeline.units import mismatch
from pipeline.units.attribution import attribute_file

KINDS = frozenset({"zip", "7z", "rar", "tar", "gzip", "bzip2", "xz"})
_MB = 1 << 20
_CHUNK = 1 << 16
_NO_UNIT = "材料单位未识别"  # pipeline.intake.materials' warning for material that names no unit
_ODD = "压缩包异常"  # the rule of a guard that refused an archive
_BACKEND = "请安装 unar 或 libarchive-tools（bsdtar）后重新汇总"
_NO_RAR = f"本机没有可解开 RAR 压缩包的组件。{_BACKEND}，{RETRY}"
_7Z = ("7z", "compression", "text", "size")  # pipeline.safety.badbytes
_FORM_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".et", ".ods", ".doc", ".docx", ".wps", ".pdf"})


class ArchiveError(Exception):
    """Why an archive cannot be unpacked (Chinese), and the names seen inside it, if any."""

    def __init__(self, reason: str, names: tuple[str, ...] = (), advice: str = "", rule: str = "压缩包无法打开") -> None:
        super().__init__(reason)
        self.reason, self.names, self.rule = reason, names, rule
        self.advice = advice or "请联系报送单位取消压缩包密码或重新压缩后发送，或直接发送填好的 .xlsx 报表"


@dataclass(frozen=True)
class Entry:
    """One file in an archive's directory."""

    name: str
    size: int
    packed: int
    encrypted: bool
    mtime: float
    handle: Any  # the library's own record of the member (ZipInfo, RarInfo, py7zr FileInfo)


def _guard(entries: list[Entry], limits: Limits, archive_size: int = 0) -> None:
    names = tuple(e.name for e in entries)
    if len(entries) > limits.max_zip_entries:
        raise ArchiveError(f"压缩包内文件过多（超过 {limits.max_zip_entries} 个的上限）", names[:20],
                           "请只把填好的报表和必要材料放进压缩包", _ODD)
    unpacked = sum(e.size for e in entries)
    # The directory's packed sizes are the sender's word; the archive's own size bounds them.
    packed = min(sum(e.packed for e in entries), archive_size) if archive_size else sum(e.packed for e in entries)
    if unpacked > limits.max_unzipped_mb * _MB:
        raise ArchiveError(f"解压后约 {unpacked / _MB:,.0f} MB，超过 {limits.max_unzipped_mb} MB 的上限", names,
                             "请先向报送单位核实，不要直接解压", _ODD)
    if unpacked > _MB and unpacked > limits.max_compression_ratio * max(packed, 1):
        raise ArchiveError(f"压缩比约 {unpacked / max(packed, 1):,.0f} 倍，超过 {limits.max_compression_ratio} 倍的上限，"
                             "可能是恶意构造的“压缩炸弹”", names, "请先向报送单位核实，不要直接解压", _ODD)
    for e in entries:
        _check_name(e.name, names)
    if any(e.encrypted for e in entries):
        raise ArchiveError("压缩包设有密码", names)


def _is_clutter(name: str) -> bool:
    """What an archiver adds beside the files (``__MACOSX/``, ``.DS_Store``, ``Thumbs.db``, ``~$`` lock files)."""
    return name.startswith("__MACOSX/") or is_ignored(PurePosixPath(name))


# A zip name without the UTF-8 flag is in the writer's code page: UTF-8 (some tools omit the flag), else GBK
# (Chinese Windows), else zipfile's own cp437. The strictest that decodes every name wins.
_ZIP_NAME_ENCODINGS = ("utf-8", "gb18030", None)


def open_zip(path: Path) -> zipfile.ZipFile:
    """A zip opened with the code page its unflagged names are in (``metadata_encoding``)."""
    for encoding in _ZIP_NAME_ENCODINGS[:-1]:
        try:
            return zipfile.ZipFile(path, metadata_encoding=encoding)
        except UnicodeDecodeError:
            continue
    return zipfile.ZipFile(path)


def _check_name(name: str, names: tuple[str, ...]) -> None:
    """Refuse a member name that points out of the archive (absolute, a drive, or ``..``)."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or ".." in parts or (parts and parts[0].endswith(":")):
        raise ArchiveError(f"压缩包内的文件名“{name}”指向压缩包以外的位置", names, "请先向报送单位核实，不要直接解压", _ODD)


def _copy(stream: IO[bytes], target: Path, cap: int) -> None:
    read = stream.read
    written = 0
    with target.open("wb") as out:
        while chunk := read(_CHUNK):
            written += len(chunk)
            if written > cap:
                raise ArchiveError("压缩包内文件的实际大小超过了目录中声明的大小，可能是恶意构造的文件", (),
                                     "请先向报送单位核实，不要直接解压", _ODD)
            out.write(chunk)


def _stamp(date_time: tuple[int, ...] | None) -> float:
    if not date_time or len(date_time) < 6:
        return 0.0
    year, month, day, hour, minute, second = date_time[:6]
    try:
        return dt.datetime(year, month, day, hour, minute, second).timestamp()
    except (TypeError, ValueError, OverflowError):
        return 0.0


def _copy_members(entries: list[Entry], folder: Path, open_member: Callable[[Entry], Any],
                  damaged: Callable[[BaseException], bool]) -> list[Packed]:
    """Copy every entry out of an open archive into ``folder``; an error ``damaged`` accepts names the member."""
    out: list[Packed] = []
    for index, (e, name) in enumerate(zip(entries, unique_names([e.name for e in entries]), strict=True)):
        target = scratch_path(folder, index, name)
        try:
            with open_member(e) as stream:
                _copy(stream, target, e.size)
        except Exception as exc:
            if not damaged(exc) or is_disk_full(exc):
                raise
            raise ArchiveError(f"压缩包已损坏，无法解压“{e.name}”（{describe(exc)}）", tuple(x.name for x in entries),
                               "请联系报送单位重新压缩后发送") from None
        out.append(Packed(name, target, e.mtime))
    return out


def _unpack_zip(path: Path, limits: Limits, folder: Path) -> list[Packed]:
    from pipeline.safety.guards import GuardError, check_zip_directory

    try:
        check_zip_directory(path, limits)
        zf = open_zip(path)
    except GuardError:
        raise ArchiveError(f"压缩包内文件过多（超过 {limits.max_zip_entries} 个的上限）", (),
                           "请只把填好的报表和必要材料放进压缩包", _ODD) from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ArchiveError("压缩包已损坏，无法读取其目录", (), "请联系报送单位重新压缩后发送") from None
    with zf:
        entries = [Entry(i.filename, i.file_size, i.compress_size, bool(i.flag_bits & 0x1), _stamp(i.date_time), i)
                   for i in zf.infolist() if not i.is_dir()]
        entries = [e for e in entries if not _is_clutter(e.name)]
        _guard(entries, limits, path.stat().st_size)
        return _copy_members(entries, folder, lambda e: zf.open(e.handle),
                             lambda exc: is_bad_bytes(exc, ("zip", "compression", "text", "size")))


def _unpack_7z(path: Path, limits: Limits, folder: Path) -> list[Packed]:
    import py7zr

    try:
        szf = py7zr.SevenZipFile(path)
    except py7zr.PasswordRequired:
        raise ArchiveError("压缩包设有密码（连文件名也已加密）") from None
    except Exception as exc:  # py7zr raises many types on a damaged archive
        if not is_bad_bytes(exc, _7Z):
            raise
        raise ArchiveError(f"压缩包已损坏，无法读取其目录（{describe(exc)}）", (), "请联系报送单位重新压缩后发送") from None
    with szf:
        links = [i.filename for i in szf.list() if i.is_symlink]
        if links:  # py7zr would create the link, which could point anywhere on this computer
            raise ArchiveError(f"压缩包内的“{links[0]}”是链接，正常的报送材料不会有这种文件", tuple(links),
                               "请先向报送单位核实，不要直接解压", _ODD)
        infos = [i for i in szf.list() if not i.is_directory]
        entries = [Entry(i.filename, int(i.uncompressed or 0), int(i.compressed or 0), False,
                         i.creationtime.timestamp() if i.creationtime else 0.0, i) for i in infos]
        entries = [e for e in entries if not _is_clutter(e.name)]
        if szf.needs_password():
            raise ArchiveError("压缩包设有密码", tuple(e.name for e in entries))
        _guard(entries, limits, path.stat().st_size)  # from the listing, before anything is extracted
        raw = folder / "raw"
        try:
            szf.extract(path=raw, targets=[e.name for e in entries])
        except Exception as exc:  # damaged data
            if not is_bad_bytes(exc, _7Z):
                raise
            raise ArchiveError(f"压缩包已损坏，无法解压（{describe(exc)}）", tuple(e.name for e in entries),
                                 "请联系报送单位重新压缩后发送") from None
    out: list[Packed] = []
    for index, (e, name) in enumerate(zip(entries, unique_names([e.name for e in entries]), strict=True)):
        source = raw / e.name
        if not source.resolve().is_relative_to(raw.resolve()) or not source.is_file():
            continue
        if source.stat().st_size > max(e.size, 0) and e.size:
            raise ArchiveError("压缩包内文件的实际大小超过了目录中声明的大小", (), "请先向报送单位核实，不要直接解压", _ODD)
        target = scratch_path(folder, index, name)
        shutil.move(source, target)
        out.append(Packed(name, target, e.mtime))
    return out


def _unpack_rar(path: Path, limits: Limits, folder: Path) -> list[Packed]:
    import rarfile

    try:
        rf = rarfile.RarFile(str(path))
    except rarfile.PasswordRequired:
        raise ArchiveError("压缩包设有密码（连文件名也已加密）") from None
    except rarfile.RarCannotExec:
        raise MachineFaultError(NO_TOOL_RULE, _NO_RAR) from None
    except Exception as exc:  # rarfile.Error and OSError on a damaged archive
        if not is_bad_bytes(exc, ("rar", "text", "size")):
            raise
        raise ArchiveError(f"压缩包已损坏，无法读取其目录（{describe(exc)}）", (), "请联系报送单位重新压缩后发送") from None
    with rf:
        entries = [Entry(i.filename or "", int(i.file_size or 0), int(i.compress_size or 0), i.needs_password(),
                         _stamp(i.date_time), i) for i in rf.infolist() if not i.is_dir()]
        entries = [e for e in entries if e.name and not _is_clutter(e.name)]
        _guard(entries, limits, path.stat().st_size)
        try:
            return _copy_members(entries, folder, lambda e: rf.open(e.handle),
                                 lambda exc: is_bad_bytes(exc, ("rar", "text", "size")))
        except rarfile.RarCannotExec:
            raise MachineFaultError(NO_TOOL_RULE, _NO_RAR) from None


# ----------------------------------------------------------------------------- tar and lone compressed files

_DECOMPRESS: dict[str, Callable[[Path], Any]] = {"gzip": gzip.GzipFile, "bzip2": bz2.BZ2File, "xz": lzma.LZMAFile}
_COMPRESSED_NAMES = {"gzip": "gzip", "bzip2": "bzip2", "xz": "xz"}
_COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".tgz", ".tbz2", ".txz")
_TAR_BLOCK = 512
_TAR_MAGIC_AT = 257
# What a damaged or truncated stream raises: gzip.BadGzipFile and bz2's “Invalid data stream” are OSError.
_STREAM_DAMAGE = (OSError, EOFError, lzma.LZMAError, zlib.error, tarfile.TarError)


def _bomb(total: int, packed: int, limits: Limits) -> ArchiveError | None:
    """The refusal for ``total`` unpacked bytes from ``packed`` bytes of archive, if they pass a limit."""
    if total > limits.max_unzipped_mb * _MB:
        return ArchiveError(f"解压后超过 {limits.max_unzipped_mb} MB 的上限", (), "请先向报送单位核实，不要直接解压", _ODD)
    if total > _MB and total > limits.max_compression_ratio * max(packed, 1):
        return ArchiveError(f"压缩比超过 {limits.max_compression_ratio} 倍的上限，可能是恶意构造的“压缩炸弹”", (),
                            "请先向报送单位核实，不要直接解压", _ODD)
    return None


class _Counted:
    """A decompressed stream that counts what it hands out and stops at the limits, with a look-ahead."""

    def __init__(self, stream: IO[bytes], packed: int, limits: Limits) -> None:
        self.stream, self.packed, self.limits = stream, packed, limits
        self.total = 0
        self.pending = b""

    def _pull(self, size: int) -> bytes:
        data = self.stream.read(size)
        self.total += len(data)
        problem = _bomb(self.total, self.packed, self.limits)
        if problem is not None:
            raise problem
        return data

    def peek(self, size: int) -> bytes:
        """The next ``size`` bytes (fewer at the end), left to be read again."""
        while len(self.pending) < size and (chunk := self._pull(size - len(self.pending))):
            self.pending += chunk
        return self.pending[:size]

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when negative)."""
        if size is None or size < 0:
            parts = [self.pending]
            self.pending = b""
            while chunk := self._pull(_CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        if self.pending:
            out, self.pending = self.pending[:size], self.pending[size:]
            return out
        return self._pull(size)


def _check_tar_member(info: tarfile.TarInfo, number: int, seen: list[str], limits: Limits) -> None:
    """Refuse the archive at a link, a device, a name out of it, or the entry past the count limit (``number``)."""
    names = tuple(seen)
    if not (info.isreg() or info.isdir()):
        what = "链接" if info.issym() or info.islnk() else "设备或特殊文件"
        raise ArchiveError(f"压缩包内的“{info.name}”是{what}，正常的报送材料不会有这种文件", names,
                           "请先向报送单位核实，不要直接解压", _ODD)
    if number > limits.max_zip_entries:
        raise ArchiveError(f"压缩包内文件过多（超过 {limits.max_zip_entries} 个的上限）", names[:20],
                           "请只把填好的报表和必要材料放进压缩包", _ODD)
    _check_name(info.name, names)


def _unpack_tar_stream(stream: _Counted, folder: Path) -> list[Packed]:
    """Copy each regular file of a tar read as a stream, checking every header before its data."""
    names: list[str] = []
    written: list[tuple[Path, float]] = []
    with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
        for number, info in enumerate(tar, 1):  # folders count too: a tar of endless empty folders is refused
            _check_tar_member(info, number, names, stream.limits)
            if info.isdir() or _is_clutter(info.name):
                continue
            if stream.total + info.size > stream.limits.max_unzipped_mb * _MB:
                raise ArchiveError(f"解压后超过 {stream.limits.max_unzipped_mb} MB 的上限", tuple(names),
                                   "请先向报送单位核实，不要直接解压", _ODD)
            target = scratch_path(folder, len(names), info.name)
            member = tar.extractfile(info)
            if member is None:
                continue
            with member:
                _copy(member, target, info.size)
            names.append(info.name)
            written.append((target, float(info.mtime or 0)))
    return [Packed(name, target, mtime) for name, (target, mtime) in zip(unique_names(names), written, strict=True)]


def _lone_name(path: Path) -> str:
    """The name of the one file a lone .gz/.bz2/.xz holds: the archive's name without that extension."""
    name = path.name
    for suffix in _COMPRESSED_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return path.stem or name


def _unpack_tar(path: Path, limits: Limits, folder: Path, kind: str) -> list[Packed]:
    """A .tar, a compressed tar (.tar.gz/.tgz, .tar.bz2, .tar.xz) or a lone compressed file."""
    packed = path.stat().st_size
    opener = _DECOMPRESS.get(kind)
    what = f"{_COMPRESSED_NAMES[kind]} 压缩文件" if kind in _COMPRESSED_NAMES else "tar 压缩包"
    try:
        with opener(path) if opener else path.open("rb") as raw:
            stream = _Counted(raw, packed, limits)
            head = stream.peek(_TAR_BLOCK)
            if kind == "tar" or head[_TAR_MAGIC_AT:_TAR_MAGIC_AT + 5] == b"ustar":
                return _unpack_tar_stream(stream, folder)
            target = scratch_path(folder, 0, _lone_name(path))
            with target.open("wb") as out:
                while chunk := stream.read(_CHUNK):
                    out.write(chunk)
            return [Packed(_lone_name(path), target, path.stat().st_mtime)]
    except _STREAM_DAMAGE as exc:
        if not is_bad_bytes(exc, ("compression", "zip")):
            raise  # a full temporary folder, or our bug: never the file's fault
        raise ArchiveError(f"{what}已损坏或不完整（可能是下载或发送中断），无法解压", (),
                           "请联系报送单位重新压缩后发送") from None


_UNPACK: dict[str, Callable[[Path, Limits, Path], list[Packed]]] = {
    "zip": _unpack_zip, "7z": _unpack_7z, "rar": _unpack_rar,
    **{kind: functools.partial(_unpack_tar, kind=kind) for kind in ("tar", "gzip", "bzip2", "xz")},
}


def _is_document_package(path: Path) -> bool:
    """An Office or OFD document that merely is a zip (listed by the material source as a document)."""
    try:
        with zipfile.ZipFile(path) as zf:
            lowered = {n.lower() for n in zf.namelist()[:50]}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False
    return "[content_types].xml" in lowered or "ofd.xml" in lowered


def _zip_names(path: Path) -> tuple[str, ...]:
    """The member names of a zip not unpacked (nested too deep), to tell whether it holds a return."""
    try:
        with open_zip(path) as zf:
            return tuple(i.filename for i in zf.infolist()[:100] if not i.is_dir())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return ()


def _attribute(sub: Submission, ctx: Context, members: list[Submission]) -> None:
    """The container's unit by the one rule (sender, then its own names), else the one unit all members belong to."""
    found = attribute_file(sub, ctx.roster, ctx.campaign.county)
    units = {m.unit.code: m.unit for m in members if m.unit is not None}
    sub.unit = found.unit or (next(iter(units.values())) if len(units) == 1 else None)


def _only_material(members: list[Submission]) -> bool:
    # Photos and videos only; an 活动总结, a nested archive or a member with a finding stays listed on its own.
    return bool(members) and all(m.outcome == Outcome.MATERIAL and m.material_kind not in (SUMMARY, ARCHIVE)
                                 and all(f.rule == _NO_UNIT for f in m.findings) for m in members)


def _material(sub: Submission, ctx: Context, members: list[Submission]) -> None:
    """An archive of activity material: one 材料 entry, its members counted in the note."""
    _attribute(sub, ctx, members)
    kinds = Counter(m.material_kind for m in members)
    sub.outcome, sub.material_kind = Outcome.MATERIAL, ARCHIVE
    counted = "、".join(f"{k} {n}" for k, n in kinds.most_common())
    sub.note = f"压缩包内有 {len(members)} 个文件（{counted}），均为活动材料，已清点"
    if sub.unit is None:
        sub.add(Severity.WARNING, _NO_UNIT, "压缩包名和其中的文件名都没有名录中的单位编码或单位名称，无法确定是哪个单位报送的。"
                "请局安全股把它移入以该单位名称命名的子文件夹后重新汇总。")


def _cannot_open(sub: Submission, problem: ArchiveError, ctx: Context) -> None:
    """Tie an archive that cannot be unpacked to its unit; one that holds returns is 格式不符."""
    inner = list(problem.names)
    sub.unit = attribute_file(sub, ctx.roster, ctx.campaign.county, extra=inner).unit
    listed = "、".join(f"“{PurePosixPath(n).name}”" for n in inner[:3]) + ("等" if len(inner) > 3 else "")
    holds = f"（其中有{listed}）" if inner else ""
    returns = mismatch.named_forms([*mismatch.name_texts(sub.file), *inner], ctx.forms) \
        or any(PurePosixPath(n).suffix.lower() in _FORM_SUFFIXES for n in inner)
    if returns:
        mismatch.mark(sub, ctx.forms, ctx.campaign, ctx.roster, f"{problem.reason}{holds}", inner,
                      advice=problem.advice + "。")
        return
    sub.outcome, sub.material_kind, sub.form_id = Outcome.MATERIAL, ARCHIVE, None
    sub.note = f"压缩包无法打开：{problem.reason}{holds}"
    sub.add(Severity.WARNING, problem.rule, f"{problem.reason}{holds}，程序无法查看其中的文件。{problem.advice}。")


def _take(sub: Submission, sniffed: Sniffed, ctx: Context) -> bool | list[Submission]:
    if sniffed.kind not in KINDS or (sniffed.kind == "zip" and _is_document_package(sub.path)):
        return False
    if ctx.depth >= MAX_DEPTH:
        names = _zip_names(sub.path) if sniffed.kind == "zip" else ()
        _cannot_open(sub, ArchiveError(f"压缩包嵌套超过 {MAX_DEPTH} 层，程序未再解开", names,
                                       "请解压后直接发送其中的报表"), ctx)
        return True
    with scratch() as folder:
        try:  # the time limit: pipeline.intake.workers kills the reading process
            packed = _UNPACK[sniffed.kind](sub.path, ctx.campaign.limits, folder)
        except ArchiveError as problem:
            _cannot_open(sub, problem, ctx)
            return True
        members = [read_member(sub, p, ctx) for p in packed]
    if not members:
        _cannot_open(sub, ArchiveError("压缩包中没有文件，可能已损坏", (), "请联系报送单位重新压缩后发送"), ctx)
        return True
    if _only_material(members):
        _material(sub, ctx, members)
        return True
    _attribute(sub, ctx, members)
    for member in members:  # material that names no unit belongs to the unit of the archive it came in
        if member.unit is None and sub.unit is not None and member.outcome == Outcome.MATERIAL:
            member.unit = sub.unit
            member.findings = [f for f in member.findings if f.rule != _NO_UNIT]
            member.note = member.note.replace("未能确定单位", f"按所在压缩包确定单位（{sub.unit.name}）")
    sub.outcome = Outcome.UNPACKED
    sub.note = f"压缩包内有 {len(members)} 个文件，已逐个读取（见“{sub.file}!/…”各行）"
    return members


SOURCE = Source("archive", 30, _take)
