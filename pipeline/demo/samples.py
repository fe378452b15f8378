"""Tiny but valid sample material files (a .docx, a JPEG, a PNG, an MP4) for the demo and the tests.

Built from bytes with the standard library only: no image or Office library is needed. The
demo (``python -m pipeline demo``) saves :func:`demo_materials` into its inbox.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import struct
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster

_FIXED_TIME = (2023, 6, 20, 9, 0, 0)  # zip entry times, so that the same text gives the same bytes

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/>'
    "</Relationships>"
)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx_bytes(paragraphs: Sequence[str]) -> bytes:
    """A minimal Word document (.docx) holding ``paragraphs``, one per w:p."""
    body = "".join(f"<w:p><w:r><w:t xml:space=\"preserve\">{escape(p)}</w:t></w:r></w:p>" for p in paragraphs)
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<w:document xmlns:w="{_W}"><w:body>{body}<w:sectPr/></w:body></w:document>')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _RELS),
                           ("word/document.xml", document)):
            zf.writestr(zipfile.ZipInfo(name, _FIXED_TIME), text.encode("utf-8"), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (51, 102, 204)) -> bytes:
    """A solid-colour RGB PNG image."""
    row = b"\x00" + bytes(rgb) * width  # filter type 0 (None) per scan line
    return (b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(row * height))
            + _png_chunk(b"IEND", b""))


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def jpeg_bytes() -> bytes:
    """A baseline JPEG: one 8×8 mid-grey block (DC 0, no AC), with one-code Huffman tables."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\x00" + b"\x01" * 64  # table 0, 8-bit, all ones
    sof0 = struct.pack(">BHHB", 8, 8, 8, 1) + b"\x01\x11\x00"  # 8 bit, 8×8, one component
    one_code = b"\x01" + b"\x00" * 15  # a single code of length 1 ...
    dht = b"\x00" + one_code + b"\x00" + b"\x10" + one_code + b"\x00"  # ... DC: category 0; AC: EOB
    sos = b"\x01\x01\x00\x00\x3f\x00"  # one component, tables 0/0, spectral 0..63
    scan = b"\x3f"  # bits 0 (DC category 0), 0 (EOB), then 1-padding
    return (b"\xff\xd8" + _segment(0xE0, app0) + _segment(0xDB, dqt) + _segment(0xC0, sof0)
            + _segment(0xC4, dht) + _segment(0xDA, sos) + scan + b"\xff\xd9")


def mp4_bytes() -> bytes:
    """An MP4 file's opening: an ``ftyp`` box and an empty ``mdat`` box (enough to be recognised)."""
    ftyp = b"ftypisom" + struct.pack(">I", 0x200) + b"isomiso2mp41"
    return struct.pack(">I", len(ftyp) + 4) + ftyp + struct.pack(">I", 8) + b"mdat"


# ----------------------------------------------------------------------------- the demo's material


@dataclass(frozen=True)
class SampleMaterial:
    """One material file the demo saves into its inbox, and what the rollup should make of it."""

    rel: str  # path below the inbox, with forward slashes
    data: bytes
    unit_code: str  # the unit it should be attributed to ("" for none)
    kind: str  # the 材料清单 kind it should get
    received: dt.date

    def write(self, inbox: Path) -> Path:
        """Save the file, dated by its arrival."""
        path = inbox / self.rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.data)
        stamp = dt.datetime.combine(self.received, dt.time(10, 41)).timestamp()
        os.utime(path, (stamp, stamp))
        return path


def demo_materials(roster: Roster, campaign: Campaign) -> list[SampleMaterial]:
    """The demo's 活动总结, photos, a video and an archive, attributed in each of the supported ways.

    Needs the sample roster's first fifteen units (the demo checks the roster's size first).
    """
    from pipeline.intake.materials import ARCHIVE, IMAGE, SUMMARY, VIDEO

    units = list(roster)
    first, second, station, highway = units[0], units[1], units[6], units[14]
    due = campaign.deadline("annex1_due")
    day = [due - dt.timedelta(days=n) for n in (12, 5, 2, 1, 0)]
    year = campaign.year
    title = f"{year}年“安全生产月”活动总结"
    photos = io.BytesIO()
    with zipfile.ZipFile(photos, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in (("宣传咨询日1.jpg", jpeg_bytes()), ("宣传咨询日2.png", png_bytes()),
                           ("活动简报.docx", docx_bytes(["活动简报", "6月16日开展安全宣传咨询日活动。"]))):
            zf.writestr(zipfile.ZipInfo(name, _FIXED_TIME), data)
    return [
        # by folder: the staff saved one unit's mail into a folder named after the unit
        SampleMaterial(f"{day[0]}/{first.name}/应急演练现场.jpg", jpeg_bytes(), first.code, IMAGE, day[0]),
        SampleMaterial(f"{day[3]}/{first.name}/安全生产月活动总结.docx",
                       docx_bytes([f"{first.name}{title}", "现将我单位活动开展情况总结如下。"]),
                       first.code, SUMMARY, day[3]),
        # by file name (the code); a summary known by its first paragraph, not its name
        SampleMaterial(f"{day[1]}/{second.code}_宣传咨询日.png", png_bytes(), second.code, IMAGE, day[1]),
        SampleMaterial(f"{day[4]}/{second.name}活动情况报告.docx",
                       docx_bytes([f"{second.name}{title}", "一、基本情况"]), second.code, SUMMARY, day[4]),
        # by the name without the county prefix
        SampleMaterial(f"{day[2]}/{station.name.removeprefix(campaign.county)}应急疏散演练.mp4", mp4_bytes(),
                       station.code, VIDEO, day[2]),
        SampleMaterial(f"{day[2]}/{highway.name}/宣传资料.zip", photos.getvalue(), highway.code, ARCHIVE, day[2]),
        # no unit anywhere in the name: listed, with a warning, never guessed
        SampleMaterial(f"{day[1]}/现场照片.jpg", jpeg_bytes(), "", IMAGE, day[1]),
    ]


def add_to_truth(truth: dict[str, Any], samples: Sequence[SampleMaterial], roster: Roster) -> None:
    """Extend the demo's answer key with each sample's outcome, unit and kind, and the units lacking a summary."""
    from collections import Counter

    from pipeline.intake.materials import SUMMARY
    from pipeline.model import Outcome

    files = dict(truth.get("files", {}))
    files.update({s.rel: Outcome.MATERIAL for s in samples})
    truth["files"] = dict(sorted(files.items()))
    truth["outcomes"] = dict(sorted(Counter(files.values()).items()))
    truth["materials"] = {s.rel: {"unit_code": s.unit_code, "kind": s.kind} for s in samples}
    sent = {s.unit_code for s in samples if s.kind == SUMMARY and s.unit_code}
    truth["summary_missing"] = [u.code for u in roster if u.code not in sent]
