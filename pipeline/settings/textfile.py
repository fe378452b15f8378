"""Text files as Excel and Notepad save them on a Chinese Windows PC: the encoding found by a fixed rule.

Excel's 另存为 offers "CSV UTF-8" (with a BOM), plain "CSV" (the ANSI code page, GBK on
Chinese Windows) and "Unicode 文本" (UTF-16 with a BOM, tab-separated). Notepad saves UTF-8
with or without a BOM, or ANSI. So the rule, in order:

1. a byte order mark names the encoding (UTF-32 and UTF-16 either way round, UTF-8);
2. otherwise bytes that are valid UTF-8 are UTF-8 (GBK text is almost never valid UTF-8);
3. otherwise GB18030, the national standard and a superset of GBK; it is reported as GBK
   when the bytes are GBK, which is what Excel writes.

A statistical detector (charset-normalizer) would also guess Big5, Shift-JIS or Latin-1
for a short Chinese file, and its guess can change between versions; the three sources
above are all a roster or a settings file comes from, and the rule decides each exactly.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

_BOMS = (  # longest first: the UTF-32 LE mark begins with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8 带 BOM"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16（Unicode 文本）"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16（Unicode 文本）"),
)


class UndecodableTextError(ValueError):
    """Bytes that are none of the encodings above; the message says where the last one failed."""


@dataclass(frozen=True)
class Decoded:
    """A text file's content and the encoding it was found in."""

    text: str
    codec: str  # the Python codec that decoded it
    label: str  # as the summary names it: UTF-8, UTF-8 带 BOM, GBK, GB18030, UTF-16（Unicode 文本）


def decode(data: bytes) -> Decoded:
    """Decode ``data`` by the rule in the module docstring; raise :class:`UndecodableTextError` when nothing fits."""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data.decode(codec), codec, label)
            except UnicodeDecodeError as exc:
                raise UndecodableTextError(f"按 {label} 读取时，第 {exc.start + 1} 个字节起无法解读") from None
    try:
        return Decoded(data.decode("utf-8"), "utf-8", "UTF-8")
    except UnicodeDecodeError:
        pass
    for codec, label in (("gbk", "GBK"), ("gb18030", "GB18030")):
        try:
            return Decoded(data.decode(codec), codec, label)
        except UnicodeDecodeError as exc:
            last = f"按 {label} 读取时，第 {exc.start + 1} 个字节起无法解读"
    raise UndecodableTextError(last)


def read_text(path: Path) -> Decoded:
    """A text file's content, whatever encoding above it was saved in (OSError as from ``open``)."""
    return decode(path.read_bytes())


def delimiter(text: str) -> str:
    """A table's column separator, from its header line: tab when it has one (Unicode 文本), else comma."""
    header = text.split("\n", 1)[0]
    return "\t" if "\t" in header else ","
