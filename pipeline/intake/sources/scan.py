"""Scanned and photographed returns (盖章扫描件, phone photos), and PDFs printed from our template.

Only files that look like returns are read: an image whose name names a form (“附件1_U003.jpg”),
or a PDF whose name names a form or whose first page's title does (a scan is read for that). An
activity photo (“活动照片1.jpg”) is left to the material source, and no OCR runs for it. A PDF
with a text layer (printed from the template or the Word form) is read from that layer, without OCR.

Every value read by OCR counts only with the 警告 “扫描件识别，请核对”; a value the OCR is unsure of, an
empty box that may hold a faint “0” or a seal over a digit is an 错误 naming the item
(:mod:`pipeline.scans.read`). The OCR imports load only when such a file is read.
"""

from __future__ import annotations

import contextlib
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from pipeline.faults import NO_TOOL_RULE, RETRY, MachineFaultError
from pipeline.forms.spec import FormSpec
from pipeline.intake.sources import Context, Source
from pipeline.model import RawCell, Severity, Submission
from pipeline.safety.guards import GuardError, check_size
from pipeline.safety.sniff import Sniffed
from pipeline.scans.marks import PART_KEY, part_of
from pipeline.units import mismatch
from pipeline.units.attribution import names_evidence, sender_evidence
from pipeline.units.identity import check_identity
from pipeline.values.normalise import normalise_submission

if TYPE_CHECKING:  # the OCR modules (OpenCV, pdfium, the layout readers) load only when a file may be a scan
    from pipeline.scans.pages import ReadPage
    from pipeline.scans.read import ScanRead

KINDS = frozenset({"image", "pdf"})
SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".pdf"})
SECONDS_PER_PAGE = 20  # time budget per page on top of the file's own (OCR of a page takes a few seconds)
MAX_BUDGET_PAGES = 6  # pages read at most (pipeline.scans.pages.MAX_PAGES)
NO_ENGINE = ("读取扫描件或照片需要 OCR 组件（rapidocr、onnxruntime 及其自带的识别模型），本机没有安装或无法加载。"
             f"请在本程序文件夹中重新运行安装（make setup，或 Windows 上双击任一 .bat 启动器），{RETRY}")


def time_budget(file: str, seconds: float) -> float:
    """The time limit of one file: an image or PDF may be a scan, read by OCR page by page, so it has more."""
    if seconds > 0 and PurePosixPath(file.replace("!/", "/")).suffix.lower() in SUFFIXES:
        return seconds + SECONDS_PER_PAGE * MAX_BUDGET_PAGES
    return seconds
TITLE_SHARE = 0.2  # the top of the first page read to find a title naming a form


def _names_form(page: ReadPage, ctx: Context) -> bool:
    """Whether the title at the top of a page names a form."""
    top = [ln.text for ln in page.lines.lines if ln.box[3] <= page.lines.height * TITLE_SHARE]
    return bool(mismatch.named_forms(top, ctx.forms))


def _identity(sub: Submission, spec: FormSpec, ctx: Context) -> None:
    """A name read by OCR ranks with fuzzy matches: below the sender of the mail it came with, and below a code,
    then a unit name, in the file or folder name. Only when none of these names a unit is the OCR name used."""
    unit_field = spec.field(spec.roles.unit)
    raw = sub.raw.get(unit_field.id)
    typed = str(raw.value).strip() if raw and raw.value is not None else ""
    # The sender, then a code or unit name in the names (pipeline.units.attribution's order for these kinds).
    clue = sender_evidence(sub, ctx.roster) or names_evidence(sub.file, ctx.roster, ctx.campaign.county)[0]
    basis, unit = (clue.basis, clue.unit) if clue is not None else ("", None)
    if unit is None:
        check_identity(sub, spec, ctx.campaign, ctx.roster, sub.sender)
        return
    sub.unit = unit
    named = ctx.roster.by_name(typed) if typed else None
    if named is None and typed:
        near = ctx.roster.fuzzy(typed, ctx.campaign.county)
        named = near[0] if near is not None else None
    if named is not None and named != unit:
        sub.add(Severity.WARNING, "单位来源不一致", f"{basis}表明是“{unit.name}”（{unit.code}），"
                f"扫描件上识别出的{unit_field.label}是“{typed}”（{named.name}）。扫描识别的文字可能有误，"
                f"已按{basis}计入“{unit.name}”，请核实。", unit_field.id, unit_field.label, "", typed)


def _take(sub: Submission, sniffed: Sniffed, ctx: Context) -> bool:
    if sniffed.kind not in KINDS or sub.path.suffix.lower() not in SUFFIXES or mismatch.not_a_return(sub.file):
        return False
    named = bool(mismatch.named_forms(mismatch.name_texts(sub.file), ctx.forms))
    if not named and sniffed.kind != "pdf":
        return False  # an activity photo: material, with no OCR (and no OCR module imported)
    from pipeline.scans.engine import EngineMissingError
    from pipeline.scans.page import ImageError
    from pipeline.scans.pages import PagesError, read_pages
    from pipeline.scans.read import read_pages_as_form

    try:
        check_size(sub.size, ctx.campaign.limits)
        with contextlib.closing(read_pages(sub.path, sniffed.kind)) as pages:
            first = next(pages, None)
            if first is None or (not named and not _names_form(first, ctx)):
                return False  # a PDF whose name and title name no form: material (only its first page was read)
            read = read_pages_as_form([first, *pages], ctx.forms)
    except GuardError:
        return False
    except EngineMissingError as exc:  # this computer's matter: read again next run, once installed
        raise MachineFaultError(NO_TOOL_RULE, NO_ENGINE) from exc
    except (PagesError, ImageError):
        return False  # no page to read: the material source explains what it can
    if read is None:
        return False
    _fill(sub, read, ctx)
    return True


def _fill(sub: Submission, read: ScanRead, ctx: Context) -> None:
    from pipeline.scans.read import fill_labels, scan_findings

    spec = read.spec
    part = part_of(sub.file) if read.ocr else None
    if part is not None:
        sub.meta[PART_KEY] = f"{part[0]}|{part[1]}"
    sub.form_id, sub.sheet, sub.read_as = spec.id, "", read.read_as
    sub.located_by = f"scan:{read.layout}"
    if read.layout == "labels":
        fill_labels(sub, read)
    else:
        for fid, value in read.raw.items():
            if value is not None:
                sub.raw[fid] = RawCell(value, read.places.get(fid, ""))
    for issue in [*read.issues, *scan_findings(read)]:
        sub.add(*issue)
    sub.scanned = read.scanned
    if read.ocr:
        _identity(sub, spec, ctx)
    else:  # a text layer is as certain as a typed cell: the content names the unit, as for a workbook
        check_identity(sub, spec, ctx.campaign, ctx.roster, sub.sender)
    normalise_submission(sub, spec, ctx.campaign.year)


SOURCE = Source("scan", 45, _take)
