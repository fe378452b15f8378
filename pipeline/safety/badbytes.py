"""Which exceptions are a returned file's fault: the one list, per file-format library.

Only what a format library raises for bad bytes blames the file (文件损坏, 无法读取, …): the
exception classes listed below, or anything raised from inside one of the listed libraries' own
modules while it parsed the bytes. Everything else is a program error (:mod:`pipeline.faults`),
and a full disk is a machine fault, never bad bytes. The classes are named, not imported: a
library that was never imported cannot have raised, so nothing heavy is loaded here.

The Chinese description (:func:`describe`) never names a Python exception; the technical detail
(:func:`technical`) goes to ``pipeline.log``.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

from pipeline.faults import is_disk_full


@dataclass(frozen=True)
class Library:
    """A file-format library: its own modules, and the exceptions it raises for bad bytes ("module:Class")."""

    modules: tuple[str, ...]
    errors: tuple[str, ...]


LIBRARIES: dict[str, Library] = {
    "zip": Library(("zipfile", "zlib", "_compression"),
                   ("zipfile:BadZipFile", "zipfile:LargeZipFile", "zlib:error", "builtins:EOFError")),
    "compression": Library(("gzip", "bz2", "lzma", "tarfile", "_compression"),
                           ("gzip:BadGzipFile", "lzma:LZMAError", "tarfile:TarError", "builtins:EOFError")),
    "xml": Library(("xml", "defusedxml", "lxml", "et_xmlfile"),
                   ("xml.etree.ElementTree:ParseError", "xml.parsers.expat:ExpatError",
                    "defusedxml:DefusedXmlException", "lxml.etree:XMLSyntaxError")),
    "openpyxl": Library(("openpyxl",), ("openpyxl.utils.exceptions:InvalidFileException",)),
    "xlrd": Library(("xlrd",), ("xlrd.biffh:XLRDError", "xlrd.compdoc:CompDocError")),
    "calamine": Library(("python_calamine",), ("python_calamine:CalamineError", "python_calamine:PasswordError",
                                               "python_calamine:XmlError", "python_calamine:ZipError")),
    "ole": Library(("olefile", "msoffcrypto"), ("msoffcrypto.exceptions:FileFormatError",
                                                "msoffcrypto.exceptions:DecryptionError",
                                                "msoffcrypto.exceptions:InvalidKeyError")),
    "docx": Library(("docx",), ("docx.opc.exceptions:PackageNotFoundError", "docx.opc.exceptions:OpcError")),
    "pdf": Library(("pypdf",), ("pypdf.errors:PdfReadError", "pypdf.errors:PdfStreamError", "pypdf.errors:PyPdfError")),
    "7z": Library(("py7zr",), ("py7zr.exceptions:ArchiveError", "py7zr.exceptions:Bad7zFile",
                               "py7zr.exceptions:CrcError", "py7zr.exceptions:DecompressionError",
                               "py7zr.exceptions:PasswordRequired", "py7zr.exceptions:UnsupportedCompressionMethodError")),
    "rar": Library(("rarfile",), ("rarfile:BadRarFile", "rarfile:NotRarFile", "rarfile:BadRarName",
                                  "rarfile:NeedFirstVolume", "rarfile:NoCrypto", "rarfile:PasswordRequired",
                                  "rarfile:RarCRCError", "rarfile:RarWrongPassword", "rarfile:RarExecError",
                                  "rarfile:RarOpenError", "rarfile:RarUserError", "rarfile:RarNoFilesError")),
    "mail": Library(("email", "extract_msg", "compressed_rtf", "RTFDE"),
                    ("email.errors:MessageError", "extract_msg.exceptions:ExMsgBaseException")),
    "text": Library(("codecs", "encodings", "struct"), ("builtins:UnicodeDecodeError", "struct:error")),
    # Too big or too deep for any reader: the file's doing, whatever library met it.
    "size": Library((), ("builtins:MemoryError", "builtins:RecursionError")),
}

# What a library raises when this computer lacks a tool or a component: a machine fault, never the file's.
MISSING_TOOL = ("rarfile:RarCannotExec", "pypdf.errors:DependencyError")

# Chinese descriptions by exception class name, most specific first; never the name itself.
_WORDS = (
    (("PasswordRequired", "RarWrongPassword", "DecryptionError", "InvalidKeyError", "PasswordError", "NoCrypto"),
     "设有密码"),
    (("CrcError", "RarCRCError"), "数据校验失败（内容已损坏）"),
    (("EOFError", "PdfStreamError", "NeedFirstVolume"), "内容不完整（可能是下载或发送中断）"),
    (("ParseError", "ExpatError", "XMLSyntaxError", "XmlError"), "内部的 XML 内容已损坏"),
    (("DefusedXmlException",), "含有不安全的 XML 内容"),
    (("UnicodeDecodeError",), "含有无法识别的文字编码"),
    (("MemoryError", "RecursionError"), "内容过多或结构嵌套过深"),
    (("UnsupportedCompressionMethodError",), "使用了不支持的压缩方式"),
    (("BadZipFile", "LargeZipFile", "error", "Bad7zFile", "BadRarFile", "NotRarFile", "BadGzipFile", "LZMAError",
      "TarError", "ZipError", "DecompressionError"), "压缩结构已损坏"),
)


def _classes(names: tuple[str, ...]) -> tuple[type[BaseException], ...]:
    """The named exception classes whose modules are loaded (an unloaded library raised nothing)."""
    found: list[type[BaseException]] = []
    for name in names:
        module_name, _, attr = name.partition(":")
        if module_name != "builtins" and module_name.split(".", 1)[0] not in sys.modules:
            continue
        try:
            cls = getattr(importlib.import_module(module_name), attr, None)
        except ImportError:
            continue
        if isinstance(cls, type) and issubclass(cls, BaseException):
            found.append(cls)
    return tuple(found)


def chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, outermost first (at most ten)."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(found) < 10:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def raised_in(exc: BaseException) -> str:
    """The module in which ``exc`` was raised (the innermost frame of its traceback), or ""."""
    tb = exc.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    return str(tb.tb_frame.f_globals.get("__name__", ""))


def is_bad_bytes(exc: BaseException, libraries: tuple[str, ...] | None = None) -> bool:
    """Whether ``exc`` is a file-format library's complaint about the bytes (of ``libraries``, default all).

    A full disk never is; an exception raised in this program's own code never is.
    """
    if is_disk_full(exc) or is_missing_tool(exc):
        return False
    chosen = [LIBRARIES[name] for name in (libraries or tuple(LIBRARIES))]
    errors = _classes(tuple(e for lib in chosen for e in lib.errors))
    modules = {m for lib in chosen for m in lib.modules}
    for found in chain(exc):
        if errors and isinstance(found, errors):
            return True
        if raised_in(found).split(".", 1)[0] in modules and isinstance(found, Exception):
            return True
    return False


def is_missing_tool(exc: BaseException) -> bool:
    """Whether a library said that this computer lacks a tool it needs (:data:`MISSING_TOOL`)."""
    missing = _classes(MISSING_TOOL)
    return bool(missing) and any(isinstance(e, missing) for e in chain(exc))


def describe(exc: BaseException) -> str:
    """What is wrong with the file, in Chinese, from a bad-bytes exception (never its Python name)."""
    names = [{c.__name__ for c in type(e).__mro__} for e in chain(exc)]
    for keys, words in _WORDS:
        if any(key in found for found in names for key in keys):
            return words
    return "文件结构无法识别"


def technical(exc: BaseException) -> str:
    """The exception chain as one line for ``pipeline.log`` (types and texts): never shown to users."""
    return " <- ".join(f"{type(e).__module__}.{type(e).__qualname__}: {e}" for e in chain(exc))
