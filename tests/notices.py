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

# The 2023 plan as text (a copy of ../shared/plan/000_49eb769b8cbddc67.txt), so that the tests need nothing outside.
PLAN = Path(__file__).resolve().parent / "data" / "plan_2023.txt"
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


# ----------------------------------------------------------------------------- other campaigns

SENTENCE_HEADER = ("活动项目", "内容要求", "进展情况")
LIAISON_COLUMNS = ("序号", "单位名称", "姓名", "职务", "办公电话", "手机", "邮箱", "备注")


def fire_month() -> Notice:
    """消防宣传月 2024: five items, blanks in every spelling, a 联络员表 with columns, a 活动方案 annex."""
    body = ["清河县交通运输局", "关于开展2024年“消防宣传月”活动的通知",
            "今年11月是全国第33个“消防宣传月”。现将有关事项通知如下。",
            "一、活动主题", "预防火灾 平安交通", "二、活动时间", "11月1日至11月30日",
            "三、工作要求", "各单位请于10月25日前报送联络员表（附件2），并于11月30日前报送活动情况统计表（附件1）和活动总结，"
            "材料报局安全股。",
            "联系人：李四", "联系电话：0311-6627001", "电子邮箱：xiaofang2024@163.com",
            "附件：1.“消防宣传月”活动情况统计表", "2.“消防宣传月”活动联络员表", "3.“消防宣传月”活动方案"]
    rows: list[tuple[str, ...]] = [SENTENCE_HEADER,
        ("消防安全培训", "组织全员消防安全培训。", "开展消防安全培训（）场，参与（ ）人次；培训消防安全管理人（  ）名。"),
        ("灭火疏散演练", "开展灭火和应急疏散演练。", "组织演练(  )次，参与(　)人；检查消防设施（    ）处。"),
        ("火灾隐患排查", "排查整治火灾隐患。", "排查火灾隐患____起，整改完成＿＿＿起；重点单位名称（）。"),
        ("消防宣传进企业", "宣传消防常识。", "发放宣传资料（）份，张贴海报（）张（条）。"),
        ("典型经验", "总结推广经验。", "报送经验材料（）篇，其中被采用（）篇；经验做法具体为（）。")]
    annex1 = AnnexDoc(1, "“消防宣传月”活动情况统计表", "填报单位：  联系人：  手机：  填报日期：", rows, frozenset({4}))
    annex2 = AnnexDoc(2, "2024年“消防宣传月”活动联络员表", "", [LIAISON_COLUMNS, ("1", "", "", "", "", "", "", "")])
    annex3 = AnnexDoc(3, "“消防宣传月”活动方案", paragraphs=["一、指导思想", "坚持预防为主、防消结合。", "二、活动安排", "略。"])
    return Notice(body, [annex1, annex2, annex3])


def inspection() -> Notice:
    """安全生产大检查 2025: a statistics form of two sentence tables, and an annex that is a filled contact list."""
    body = ["清河县交通运输局安全生产大检查实施方案（2025年）",
            "一、活动主题", "查隐患 防事故 保安全", "二、检查时间", "2025年3月1日至4月15日",
            "三、报送要求", "请于4月20日前报送检查情况统计表。联系人：王五，电话：13900001111，邮箱：jiancha@qq.com。",
            "附件：1.安全生产大检查情况统计表", "2.县局检查组联系方式"]
    first: list[tuple[str, ...]] = [("检查项目", "检查内容", "完成情况"),
        ("企业自查", "企业全面自查。", "组织企业自查（）家次，发现隐患（）项，已整改（）项。"),
        ("部门检查", "行业部门检查。", "派出检查组（）个，检查企业（）家；")]
    second: list[tuple[str, ...]] = [("检查项目", "检查内容", "完成情况"),
        ("执法处罚", "依法处罚违法行为。", "立案（）起，罚款（）元。"),
        ("挂牌督办", "督办重大隐患。", "挂牌督办重大隐患（）项，督办单位名称（）。")]
    annex1 = AnnexDoc(1, "安全生产大检查情况统计表", "填报单位：填报人：电话：填报日期：", first)
    part2 = AnnexDoc(1, "", "", second)
    contacts = AnnexDoc(2, "县局检查组联系方式", "", [("组别", "姓名", "手机"), ("第一组", "赵六", "13900002222"),
                                                       ("第二组", "钱七", "13900003333")])
    return Notice(body, [annex1, part2, contacts])


def hazard_drive() -> Notice:
    """隐患排查 2024: one short item, no header line, a deadline naming no annex, a title-only liaison annex."""
    body = ["2024年道路运输隐患排查治理专项行动方案",
            "一、活动时间", "7月1日至9月30日",
            "二、工作要求", "各单位于9月30日前报送隐患排查统计表，8月15日前报送中期评估报告。",
            "联系人：孙八", "联系电话：6627999", "邮箱：yinhuan@163.com"]
    rows: list[tuple[str, ...]] = [SENTENCE_HEADER,
        ("隐患排查", "全面排查道路运输隐患。", "排查车辆（）辆，参与（）人次；发现隐患（）处。")]
    return Notice(body, [AnnexDoc(1, "隐患排查统计表", "", rows), AnnexDoc(2, "隐患排查联络员表")])


def write_docx_parts(notice: Notice, path: Path) -> Path:
    """Like :func:`write_docx`, but an annex without a title continues the previous annex (a second table)."""
    document = docx.Document()
    for line in notice.body:
        document.add_paragraph(line)
    for annex in notice.annexes:
        if annex.title:
            document.add_page_break()
            document.add_paragraph(f"附件{annex.number}")
            document.add_paragraph(annex.title)
        else:
            document.add_paragraph("二、专项检查情况")
        if annex.header_line:
            document.add_paragraph(annex.header_line)
        rows = _rows_as_printed(annex)
        if rows:
            table = document.add_table(rows=0, cols=len(rows[0]))
            table.style = "Table Grid"
            for row in rows:
                for cell, text in zip(table.add_row().cells, row, strict=True):
                    cell.text = text
        for line in annex.paragraphs:
            document.add_paragraph(line)
    document.save(str(path))
    return path
