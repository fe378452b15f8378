"""The county's 附件1 in the notice's own Word table (活动项目 / 内容要求 / 进展情况), filled with its totals.

Each blank of the official 进展情况 sentences holds the county total as a plain number, so that the
upper level's reader takes this file as an ordinary Word return; the free-text blank (典型案例) holds
their count and points to the 总结.
"""

from __future__ import annotations

from typing import Any

import docx
from docx.document import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from pipeline.documents.sentences import FORM_HEADINGS
from pipeline.forms.spec import FormSpec, short_title
from pipeline.report.figures import Figures, SectionFigures, case_summary, fill_blanks, header_values
from pipeline.report.numbers import chinese_date
from pipeline.report.officedoc import (
    BODY_FONT,
    HEADING1_FONT,
    SIZE_2,
    SIZE_3,
    SIZE_5,
    SIZE_SMALL_4,
    TITLE_FONT,
    declare_fonts,
    official_styles,
    page_numbers,
    page_setup,
    set_fonts,
)
from pipeline.report.package import document_time, docx_bytes, stamp_docx
from pipeline.settings.campaign import Campaign

COLUMN_WIDTHS = (Mm(30), Mm(58), Mm(68))  # the 156 mm text block: 活动项目, 内容要求, 进展情况
HEADER_GAP = "　　"
HEADER_PER_LINE = 2


def _run(paragraph: Any, text: str, font: str, size: Pt, *, bold: bool = False) -> None:
    run = paragraph.add_run(text)
    run.font.size = size
    run.font.bold = bold
    set_fonts(run._r, font)


def _paragraph(cell_or_doc: Any, text: str, font: str, size: Pt, align: Any = None, *, bold: bool = False) -> Any:
    paragraph = cell_or_doc.add_paragraph()
    fmt = paragraph.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.first_line_indent = Pt(0)
    if align is not None:
        fmt.alignment = align
    _run(paragraph, text, font, size, bold=bold)
    return paragraph


def _cell(cell: Any, text: str, font: str, size: Pt, align: Any = None) -> None:
    first = cell.paragraphs[0]
    first._element.getparent().remove(first._element)
    _paragraph(cell, text, font, size, align)


def table_sentence(s: SectionFigures) -> str:
    """The 进展情况 cell: the notice's sentence with the totals as plain numbers in its brackets."""
    cases = case_summary(s.cases)
    return fill_blanks(s.section.sentence, lambda fid: str(s.totals[fid]) if fid in s.totals else cases,
                       brackets=True)


def build_annex(fig: Figures) -> Document:
    """The filled table as a python-docx document."""
    spec, c = fig.spec, fig.rollup.campaign
    document = docx.Document()
    page_setup(document)
    official_styles(document)
    page_numbers(document)
    declare_fonts(document)
    _paragraph(document, spec.annex, HEADING1_FONT, SIZE_3)
    title = _paragraph(document, spec.title_for(c.year), TITLE_FONT, SIZE_2, WD_ALIGN_PARAGRAPH.CENTER)
    title.paragraph_format.space_before = title.paragraph_format.space_after = Pt(12)
    values = header_values(fig)
    shown = [f"{f.label}：{chinese_date(v) if f.kind == 'date' else v}" for f in spec.header if (v := values.get(f.id))]
    for start in range(0, len(shown), HEADER_PER_LINE):  # two to a line: a long bureau name still fits
        header = _paragraph(document, HEADER_GAP.join(shown[start:start + HEADER_PER_LINE]), BODY_FONT, SIZE_SMALL_4)
    header.paragraph_format.space_after = Pt(6)
    table = document.add_table(rows=1, cols=3)
    table.style = document.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    head = table.rows[0]
    head._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))  # repeated on every page
    for cell, text in zip(head.cells, FORM_HEADINGS, strict=True):
        _cell(cell, text, HEADING1_FONT, SIZE_SMALL_4, WD_ALIGN_PARAGRAPH.CENTER)
    for s in fig.sections:
        sentence = table_sentence(s)
        cells = table.add_row().cells
        _cell(cells[0], s.section.title, BODY_FONT, SIZE_5, WD_ALIGN_PARAGRAPH.CENTER)
        _cell(cells[1], s.section.requirement, BODY_FONT, SIZE_5)
        _cell(cells[2], sentence, BODY_FONT, SIZE_5)
    for row in table.rows:
        for cell, width in zip(row.cells, COLUMN_WIDTHS, strict=True):
            cell.width = width
    grid = table._tbl.tblGrid
    for col, width in zip(grid.iter(qn("w:gridCol")), COLUMN_WIDTHS, strict=True):
        col.set(qn("w:w"), str(int(width.twips)))
    stamp_docx(document, document_time(fig.report_date), c.bureau, f"{spec.annex} {spec.title_for(c.year)}")
    return document


def annex_name(spec: FormSpec, campaign: Campaign, suffix: str) -> str:
    """File name of the county's filled form: “附件1 活动情况统计表（清河县汇总）.docx”."""
    short = short_title(spec)
    return f"{spec.annex} {short}（{campaign.county}汇总）{suffix}"


def annex_docx(fig: Figures) -> bytes:
    """The filled table's bytes."""
    return docx_bytes(build_annex(fig))
