"""Supporting material (活动总结, text, photos, videos, archives): listed and attributed, never read as a form.

A file that looks like a return but is not readable (a photo of 附件1, a scanned PDF, a Word file
without the form's sentences) is not material: it is 格式不符 (:mod:`pipeline.units.mismatch`).
"""

from __future__ import annotations

import zipfile

from pipeline.intake.materials import IMAGE, OTHER, SUMMARY, TEXT, Recognised, recognise, register_material
from pipeline.intake.sources import Context, Source
from pipeline.model import Submission
from pipeline.safety.badbytes import is_bad_bytes
from pipeline.safety.guards import GuardError, check_package
from pipeline.safety.sniff import Sniffed
from pipeline.units import mismatch

OPENING_LINES = 5  # a document's first lines that may name the form (“附件1 …情况统计表”)


def _opening(sub: Submission, rec: Recognised, ctx: Context) -> list[str]:
    """The first lines of a document's text, when it has any (Word, text PDF); [] otherwise."""
    from pipeline.documents.extract import DocumentError, pdf_blocks
    from pipeline.intake.materials import docx_paragraphs

    try:
        if rec.content == "docx":
            return docx_paragraphs(sub.path, ctx.campaign.limits, OPENING_LINES)
        if rec.content == "pdf":
            return pdf_blocks(sub.path)[:OPENING_LINES]
    except (DocumentError, GuardError):  # an unreadable document simply has no opening lines
        return []
    except Exception as exc:
        if is_bad_bytes(exc):
            return []
        raise  # our bug: pipeline.intake.batch.parse_file records it
    return []


def _refused(sub: Submission, ctx: Context) -> str:
    """Why the package guards refuse a .docx (“” when they let it through)."""
    try:
        check_package(sub.path, ctx.campaign.limits)
    except GuardError as exc:
        return f"它是 Word 文档，但未通过安全检查（{exc.rule}，如解压后过大或压缩比异常），程序未打开其内容"
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return ""
    return ""


def _reason(sub: Submission, rec: Recognised, lines: list[str], ctx: Context) -> str:
    if rec.kind == IMAGE:
        return "它是图片（照片或截图），不是可读取的表格"
    if rec.content == "pdf":
        return "它是 PDF 文档，" + ("找不到报表的填报语句" if lines else "没有文字层（扫描件）")
    if rec.content in ("docx", "doc", "rtf", "odt"):
        return (rec.content == "docx" and _refused(sub, ctx)) or "它是 Word 文档，但找不到报表的填报语句"
    return sub.note or "文件内容无法识别"


def _take(sub: Submission, sniffed: Sniffed, ctx: Context) -> bool:
    material = recognise(sub.path, sniffed)
    if material is None:
        return False
    register_material(sub, material, ctx.campaign, ctx.roster)
    if sub.material_kind not in (TEXT, IMAGE, OTHER) or sub.material_kind == SUMMARY or mismatch.not_a_return(sub.file):
        return True
    lines = _opening(sub, material, ctx) if material.content in ("docx", "pdf") else []
    if mismatch.named_forms([*mismatch.name_texts(sub.file), *lines], ctx.forms):
        sub.findings = [f for f in sub.findings if not f.rule.startswith("材料") and f.rule != "不是报表"]
        mismatch.mark(sub, ctx.forms, ctx.campaign, ctx.roster, _reason(sub, material, lines, ctx), lines)
    elif sub.material_kind in (TEXT, OTHER):
        sub.mismatch = mismatch.ALONE  # 格式不符 if it turns out to be all its unit sent (pipeline.checks.rollup)
    return True


SOURCE = Source("material", 50, _take)
