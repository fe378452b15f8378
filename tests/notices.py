"""Test helper: campaign notices as the county receives them, as text and as Word in the notice's layout.

A notice is its body paragraphs and its annexes; an annex has a title, maybe a header line, and tables
(rows of cells) or paragraphs. The 2023 plan is rebuilt from the plan text's body and the curated
``annex1.toml`` (titles, requirements, the notice's own sentences with their blanks left empty).
Kept free of pytest so that any test module can import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import docx
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt

from pipeline.forms.spec import load_forms
from tests.word_forms import filled

PLAN = Path("/work/shared/plan/000_49eb769b8cbddc67.txt")
PLAN_HEADER = ("活动项目", "内容要求", "进展情况")
# Before which sections of 附件1 the plan repeats the table's header row (where Word broke the table).
PLAN_REPEATS = frozenset({"s2", "s3", "s5", "s7"})


@dataclass
class AnnexDoc:
    """One 附件 of a test notice."""

    number: int
    title: str
    header_line: str = ""
    rows: list[tuple[str, ...]] = field(default_factory=list)  # the first row is the table's header row
    repeat_before: frozenset[int] = frozenset()  # body row indexes (from 1) before which the header row repeats
    paragraphs: list[str] = field(default_factory=list)
    blank_line: bool = False  # an empty paragraph between the title and the header line


@dataclass
class Notice:
    """A whole notice: body paragraphs, then the annexes."""

    body: list[str]
    annexes: list[AnnexDoc]


def _rows_as_printed(annex: AnnexDoc) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for i, row in enumerate(annex.rows):
        if i and i in annex.repeat_before:
            rows.append(annex.rows[0])
        rows.append(row)
    return rows


def write_text(notice: Notice, path: Path) -> Path:
    """The notice as text pasted out of Word: table cells on lines of their own, indented by a tab."""
    lines = list(notice.body)
    for annex in notice.annexes:
        lines += [f"附件{annex.number}", annex.title]
        if annex.header_line:
            lines += ["", annex.header_line]
        for row in _rows_as_printed(annex):
            lines += [f"\t{cell}" for cell in row] + [""]
        lines += annex.paragraphs
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_docx(notice: Notice, path: Path) -> Path:
    """The notice in Word: a ruled table per annex, its header row marked to repeat at page breaks."""
    document = docx.Document()
    style = document.styles["Normal"]
    style.font.size = Pt(10.5)
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "Noto Sans CJK SC")
    for line in notice.body:
        document.add_paragraph(line)
    for annex in notice.annexes:
        document.add_page_break()
        document.add_paragraph(f"附件{annex.number}")
        document.add_paragraph(annex.title)
        if annex.blank_line:
            document.add_paragraph("")
        if annex.header_line:
            document.add_paragraph(annex.header_line)
        rows = _rows_as_printed(annex)
        if rows:
            table = document.add_table(rows=0, cols=len(rows[0]))
            table.style = "Table Grid"
            for i, row in enumerate(rows):
                cells = table.add_row()
                if i == 0:
                    cells._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
                for cell, text in zip(cells.cells, row, strict=True):
                    cell.text = text
        for line in annex.paragraphs:
            document.add_paragraph(line)
    document.save(str(path))
    return path


def plan_2023() -> Notice:
    """The 2023 plan: its body as printed, 附件1 from the curated spec, 附件2 only a title."""
    text = PLAN.read_text(encoding="utf-8").splitlines()
    body = [line.strip() for line in text[:next(i for i, ln in enumerate(text) if ln.strip() == "附件1")] if line.strip()]
    spec = load_forms()["annex1"]
    rows: list[tuple[str, ...]] = [PLAN_HEADER]
    repeats: set[int] = set()
    for n, section in enumerate(spec.sections, start=1):
        if section.id in PLAN_REPEATS:
            repeats.add(n)
        rows.append((section.title, section.requirement, filled(section.sentence_original, {})))
    annex1 = AnnexDoc(1, spec.title, "填报单位：联系人：电话：填报日期：", rows, frozenset(repeats))
    annex2 = AnnexDoc(2, "2023年“安全生产月”活动联络员表")
    return Notice(body, [annex1, annex2])
