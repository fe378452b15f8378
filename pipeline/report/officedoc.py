"""The official document layout of GB/T 9704-2012 applied with python-docx: page, fonts, page numbers.

Fonts are named for East-Asian text (``w:eastAsia``) as well as for Latin text, so that Word and
WPS on a PC that has 仿宋_GB2312 and the others show the official look; where a font is missing,
the office program substitutes one and the file opens all the same.
"""

from __future__ import annotations

from typing import Any

from docx.document import Document
from docx.enum.section import WD_SECTION_START
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.styles.style import ParagraphStyle
from lxml import etree

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING1_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"
PAGE_NUMBER_FONT = "宋体"

SIZE_2 = Pt(22)  # 二号
SIZE_3 = Pt(16)  # 三号
SIZE_4 = Pt(14)  # 四号
SIZE_SMALL_4 = Pt(12)  # 小四
SIZE_5 = Pt(10.5)  # 五号

# A4 with the margins of GB/T 9704-2012 5.2.1: 天头 37 mm, 订口 28 mm; 版心 156 × 225 mm.
PAGE_WIDTH, PAGE_HEIGHT = Mm(210), Mm(297)
MARGIN_TOP, MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT = Mm(37), Mm(35), Mm(28), Mm(26)
FOOTER_DISTANCE = Mm(28)  # the page number sits about 7 mm below the text block
LINE_PITCH = Pt(28.9)  # 22 lines of 三号 in the 225 mm text block (GB/T 9704-2012 5.2.2)

# Where a PC lacks an official font, the standard Windows font Word is told to use instead (w:altName); all
# are GB2312 fonts (charset 86), so that even without the hint Word picks a Chinese font, not a Latin one.
FONT_FALLBACKS = {TITLE_FONT: "宋体", BODY_FONT: "仿宋", HEADING1_FONT: "", HEADING2_FONT: "楷体",
                  PAGE_NUMBER_FONT: ""}
GB2312_CHARSET = "86"

STYLE_BODY = "公文正文"
STYLE_TITLE = "公文标题"
STYLE_HEADING1 = "公文一级标题"
STYLE_HEADING2 = "公文二级标题"
STYLE_SIGNATURE = "公文落款"
STYLE_FILL_IN = "公文待填写"
STYLE_CAPTION = "公文图片说明"
STYLE_PICTURE = "公文图片"
STYLE_PAGE_NUMBER = "公文页码"


def set_fonts(element: Any, name: str) -> None:
    """Name ``name`` for every script of a run or style's properties (``element`` has ``get_or_add_rPr``)."""
    fonts = element.get_or_add_rPr().get_or_add_rFonts()
    for script in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(script), name)
    # A theme font would win over the named one: drop the theme references.
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)


def page_setup(document: Document) -> None:
    """A4 portrait with the official margins, in every section."""
    for section in document.sections:
        section.start_type = WD_SECTION_START.NEW_PAGE
        section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
        section.top_margin, section.bottom_margin = MARGIN_TOP, MARGIN_BOTTOM
        section.left_margin, section.right_margin = MARGIN_LEFT, MARGIN_RIGHT
        section.footer_distance = FOOTER_DISTANCE
        section.header_distance = Mm(15)


def _style(document: Document, name: str, font: str, size: Pt, *, bold: bool = False) -> ParagraphStyle:
    styles = document.styles
    existing = [s for s in styles if s.name == name]
    style = existing[0] if existing else styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    assert isinstance(style, ParagraphStyle)
    style.base_style = None
    style.quick_style = True
    style.font.size = size
    style.font.bold = bold
    set_fonts(style.element, font)
    fmt = style.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = LINE_PITCH
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.widow_control = False
    return style


def first_line_indent(style: ParagraphStyle, chars: int, size: Pt) -> None:
    """An indent of ``chars`` characters, in character units (Word's ``firstLineChars``) and in points."""
    style.paragraph_format.first_line_indent = Pt(size.pt * chars)
    ind = style.element.get_or_add_pPr().get_or_add_ind()
    ind.set(qn("w:firstLineChars"), str(chars * 100))


def official_styles(document: Document) -> None:
    """The paragraph styles of an official document: title, body, the two heading levels, 落款 and captions."""
    normal = document.styles["Normal"]
    normal.font.size = SIZE_3
    set_fonts(normal.element, BODY_FONT)
    body = _style(document, STYLE_BODY, BODY_FONT, SIZE_3)
    body.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    first_line_indent(body, 2, SIZE_3)
    title = _style(document, STYLE_TITLE, TITLE_FONT, SIZE_2)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.line_spacing = Pt(35)
    title.paragraph_format.space_after = LINE_PITCH
    for name, font in ((STYLE_HEADING1, HEADING1_FONT), (STYLE_HEADING2, HEADING2_FONT)):
        heading = _style(document, name, font, SIZE_3)
        first_line_indent(heading, 2, SIZE_3)
        heading.paragraph_format.keep_with_next = True
    outline = {STYLE_HEADING1: "0", STYLE_HEADING2: "1"}  # shown in Word's navigation pane
    for name, level in outline.items():
        element = OxmlElement("w:outlineLvl")
        element.set(qn("w:val"), level)
        document.styles[name].element.get_or_add_pPr().append(element)
    signature = _style(document, STYLE_SIGNATURE, BODY_FONT, SIZE_3)
    signature.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    signature.paragraph_format.right_indent = Pt(SIZE_3.pt * 4)  # 成文日期右空四字
    fill_in = _style(document, STYLE_FILL_IN, BODY_FONT, SIZE_3, bold=True)
    first_line_indent(fill_in, 2, SIZE_3)
    caption = _style(document, STYLE_CAPTION, BODY_FONT, SIZE_SMALL_4)
    caption.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    caption.paragraph_format.line_spacing = Pt(20)
    caption.paragraph_format.keep_with_next = False
    picture = _style(document, STYLE_PICTURE, BODY_FONT, SIZE_3)
    picture.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    picture.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
    picture.paragraph_format.space_before = Pt(12)
    picture.paragraph_format.keep_with_next = True
    number = _style(document, STYLE_PAGE_NUMBER, PAGE_NUMBER_FONT, SIZE_4)
    number.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    number.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE


def _field(paragraph: Any, instruction: str) -> None:
    """A Word field (``PAGE``) as its begin/instruction/separate/result/end runs."""
    for kind, text in (("begin", None), (None, instruction), ("separate", None), (None, "1"), ("end", None)):
        run = paragraph.add_run()
        if kind is not None:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._r.append(char)
        elif text == instruction:
            code = OxmlElement("w:instrText")
            code.set(qn("xml:space"), "preserve")
            code.text = f" {instruction} "
            run._r.append(code)
        else:
            run.text = text


def page_numbers(document: Document) -> None:
    """“— 1 —” in 宋体 四号 at the bottom: odd pages on the right, even pages on the left, one character in
    from the edge of the text block (GB/T 9704-2012 7.5)."""
    document.settings.odd_and_even_pages_header_footer = True
    one_char = Pt(SIZE_3.pt)
    for section in document.sections:
        for footer, align in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT), (section.even_page_footer,
                                                                          WD_ALIGN_PARAGRAPH.LEFT)):
            footer.is_linked_to_previous = False
            paragraph = footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph()
            paragraph.style = document.styles[STYLE_PAGE_NUMBER]
            fmt = paragraph.paragraph_format
            fmt.alignment = align
            if align == WD_ALIGN_PARAGRAPH.RIGHT:
                fmt.right_indent = one_char
            else:
                fmt.left_indent = one_char
            paragraph.add_run("— ")
            _field(paragraph, "PAGE")
            paragraph.add_run(" —")


def declare_fonts(document: Document) -> None:
    """List the official fonts in the document's font table, each with its GB2312 charset and Windows fallback."""
    part = document.part.part_related_by(RELATIONSHIP_TYPE.FONT_TABLE)
    table = parse_xml(part.blob)
    known = {f.get(qn("w:name")) for f in table.iterchildren(qn("w:font"))}
    for name, fallback in FONT_FALLBACKS.items():
        if name in known:
            continue
        font = etree.SubElement(table, qn("w:font"), {qn("w:name"): name})
        settings = ([("w:altName", fallback)] if fallback else []) + [
            ("w:charset", GB2312_CHARSET), ("w:family", "modern"), ("w:pitch", "variable")]
        for tag, value in settings:
            etree.SubElement(font, qn(tag), {qn("w:val"): value})
    part._blob = etree.tostring(table, xml_declaration=True, encoding="UTF-8", standalone=True)
