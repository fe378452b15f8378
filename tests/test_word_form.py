"""Reading 附件1 returned on the notice's own Word form: .docx, .doc/.wps through LibreOffice, and text PDFs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import docx
import psutil
import pytest
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from office import convert
from word_forms import Style, filled, write_form

from pipeline.documents import extract as documents
from pipeline.documents.extract import (
    NO_OFFICE,
    NO_TEXT,
    PDF_ORIGINAL,
    RESAVE_ADVICE,
    TIMEOUT,
    UNREADABLE,
    UNSUPPORTED,
    WORD_ORIGINAL,
    DocumentError,
    docx_blocks,
    find_soffice,
    read_word_form,
)
from pipeline.documents.sentences import match_form, tidy_pdf_blocks
from pipeline.forms.spec import FormSpec
from pipeline.model import Severity
from pipeline.values.normalise import normalise_count, normalise_date

HEADER = {"unit_name": "清河县交通运输局", "contact": "欧阳明远", "phone": "0311-6627527", "report_date": "2023年6月28日"}
CASE = "某客运企业驾驶员疲劳驾驶被曝光，已约谈整改。"
DEFAULT_STYLE = Style()


@pytest.fixture(scope="module")
def spec(forms: dict[str, FormSpec]) -> FormSpec:
    """The 附件1 spec."""
    return forms["annex1"]


def distinct_values(spec: FormSpec) -> dict[str, str]:
    """A different number in every count blank and a sentence in the 典型案例 blank."""
    return {f.id: (CASE if f.kind == "text" else str(700 + i)) for i, f in enumerate(spec.body_fields)}


def expected(values: dict[str, str]) -> dict[str, str | None]:
    """What the reader should return for what was typed: the text without surrounding spaces, None when empty."""
    return {k: (v.strip() or None) for k, v in values.items()}


def read_docx(tmp_path: Path, spec: FormSpec, values: dict[str, str], style: Style = DEFAULT_STYLE,
              header: dict[str, str] = HEADER, omit: frozenset[str] = frozenset()) -> documents.WordReturn:
    """Write the form as a .docx and read it back."""
    path = write_form(tmp_path / "form.docx", spec, values, header, style, omit)
    return read_word_form(path, "docx", spec)


def blocks_of(spec: FormSpec, sentences: list[str], header: str = "") -> list[str]:
    """Text blocks of a minimal paragraph-form document: the header line and the given sentences."""
    return [spec.annex, spec.title, header, *sentences]


# ----------------------------------------------------------------------------- whole forms, .docx


@pytest.mark.parametrize("layout", ["table", "paragraphs"])
@pytest.mark.parametrize("wording", ["original", "fixed"])
def test_docx_form_reads_every_blank_and_the_header(tmp_path: Path, spec: FormSpec, layout: str, wording: str) -> None:
    """The Word form in table or paragraph layout, in either wording, gives back all 75 blanks and the header."""
    values = distinct_values(spec)
    got = read_docx(tmp_path, spec, values, Style(layout=layout, wording=wording))
    assert got.values == expected(values)
    assert got.header == HEADER
    assert got.missing == ()
    assert got.read_as == WORD_ORIGINAL
    assert not got.rejected
    assert got.is_form


def test_docx_header_in_label_and_value_cells(tmp_path: Path, spec: FormSpec) -> None:
    """A header typed as a table (label cell, value cell) is read like the “标签：值” line."""
    got = read_docx(tmp_path, spec, distinct_values(spec), Style(header="cells"))
    assert got.header == HEADER


def test_docx_header_cells_left_empty_are_blank(tmp_path: Path, spec: FormSpec) -> None:
    """Empty value cells give None, never the next label or a heading of the table."""
    got = read_docx(tmp_path, spec, distinct_values(spec), Style(header="cells"), header={})
    assert got.header == dict.fromkeys(HEADER)


def test_every_return_carries_the_not_template_warning(tmp_path: Path, spec: FormSpec) -> None:
    """A complete Word return still gets exactly one 警告 saying it was read from the notice's sentences."""
    got = read_docx(tmp_path, spec, distinct_values(spec))
    assert [(i.severity, i.rule) for i in got.issues] == [(Severity.WARNING, documents.NOT_TEMPLATE_RULE)]
    assert "未使用Excel模板，已按通知原文语句读取" in got.issues[0].message


def test_blank_brackets_read_as_none(tmp_path: Path, spec: FormSpec) -> None:
    """Blanks left as （） or （  ） are None with no 错误 (left empty is not missing); the filled ones are read."""
    values = distinct_values(spec)
    values.update(s1_center_study_people="", s2_hazard_found="  ", s4_case_details="", s8_giveaways="\u3000")
    got = read_docx(tmp_path, spec, values)
    assert got.values == expected(values)
    assert got.values["s2_hazard_found"] is None
    assert got.missing == () and not got.rejected


# ----------------------------------------------------------------------------- tolerance


@pytest.mark.parametrize("brackets", [("(", ")"), ("（", ")"), ("【", "】"), ("[", "]"), ("（ ", " ）")])
def test_brackets_of_any_width(tmp_path: Path, spec: FormSpec, brackets: tuple[str, str]) -> None:
    """Half-width, mixed and square brackets, with spaces inside, hold the same numbers."""
    values = distinct_values(spec)
    got = read_docx(tmp_path, spec, values, Style(brackets=brackets))
    assert got.values == expected(values)


def test_units_and_words_typed_in_the_brackets_reach_normalise_as_typed(tmp_path: Path, spec: FormSpec) -> None:
    """“（12次）”, “（约300）”, “（ 5 ）”, “（1,200）” come back raw, and normalise makes the numbers of them."""
    values = distinct_values(spec)
    typed = {"s1_center_study_times": "12次", "s1_center_study_people": "约300", "s1_film_sessions": " 5 ",
             "s2_drill_people": "1,200", "s5_materials": "80张", "s7_warning_meetings": "无"}
    values.update(typed)
    got = read_docx(tmp_path, spec, values)
    assert got.values == expected(values)
    numbers = {k: normalise_count(got.values[k])[0] for k in typed}
    assert numbers == {"s1_center_study_times": 12, "s1_center_study_people": 300, "s1_film_sessions": 5,
                       "s2_drill_people": 1200, "s5_materials": 80, "s7_warning_meetings": 0}


def test_unit_moved_inside_the_brackets(spec: FormSpec) -> None:
    """A unit typed inside the brackets and deleted after them (“学习（12次），参与”) is still read."""
    section = spec.sections[0]
    values = {f.id: f"{i + 1}{f.unit}" for i, f in enumerate(section.fields)}
    sentence = filled(section.sentence, values)
    for f in section.fields:
        sentence = sentence.replace(f"{values[f.id]}）{f.unit}", f"{values[f.id]}）", 1)
    assert "）人次" not in sentence
    got = match_form(blocks_of(spec, [sentence]), spec)
    assert {f.id: got.values[f.id] for f in section.fields} == values


def test_numbers_typed_without_brackets(spec: FormSpec) -> None:
    """A unit that typed over the brackets (“学习12次，参与300人次”) is read all the same."""
    section = spec.sections[2]
    values = {f.id: str(31 + i) for i, f in enumerate(section.fields)}
    sentence = filled(section.sentence, values, ("", ""))
    assert "（" not in sentence
    got = match_form(blocks_of(spec, [sentence]), spec)
    assert {f.id: got.values[f.id] for f in section.fields} == values


def test_whitespace_and_line_breaks_anywhere(spec: FormSpec) -> None:
    """Spaces, full-width spaces and line breaks between any two characters do not hide a sentence."""
    section = spec.sections[1]
    values = {f.id: str(1000 + i) for i, f in enumerate(section.fields)}
    fillers = [" ", "\u3000", "\n", "  ", "\t"]
    pieces = re.split(r"(\{[a-z0-9_]+\})", section.sentence)
    spaced = "".join(
        piece if piece.startswith("{") else "".join(c + fillers[i % len(fillers)] * (i % 3 == 0) for i, c in enumerate(piece))
        for piece in pieces
    )
    text = filled(spaced, values)
    assert len(text) > len(filled(section.sentence, values))
    got = match_form(blocks_of(spec, [text]), spec)
    assert {f.id: got.values[f.id] for f in section.fields} == values


def test_straight_quotes_and_no_quotes(spec: FormSpec) -> None:
    """Straight quotes, or none at all, in place of “” still match."""
    sections = [spec.sections[1], spec.sections[3]]
    values = {f.id: str(50 + i) for s in sections for i, f in enumerate(s.fields)}
    straight = filled(sections[0].sentence, values).replace("“", '"').replace("”", '"')
    bare = re.sub("[“”]", "", filled(sections[1].sentence, values))
    got = match_form(blocks_of(spec, [straight, bare]), spec)
    assert got.missing == tuple(s.id for s in spec.sections if s not in sections)
    assert {k: got.values[k] for k in values} == values


def test_mix_of_original_and_fixed_wording(spec: FormSpec) -> None:
    """A sentence with one of the notice's typos fixed and another kept (s8) is found."""
    section = spec.sections[7]
    values = {f.id: str(9 + i) for i, f in enumerate(section.fields)}
    mixed = filled(section.sentence_original.replace("公益|广告", "公益广告"), values)
    assert "受众约（" in mixed and "人（" in mixed
    got = match_form(blocks_of(spec, [mixed]), spec)
    assert got.found == ("s8",)
    assert {f.id: got.values[f.id] for f in section.fields} == values


def test_case_text_with_brackets_and_commas(spec: FormSpec) -> None:
    """The 典型案例 blank keeps commas and its own brackets; it ends where “，每月报送” begins."""
    section = spec.sections[3]
    values = {f.id: str(3 + i) for i, f in enumerate(section.fields)}
    values["s4_case_details"] = "某运输公司（个体）超载，已处罚（罚款2000元）"
    got = match_form(blocks_of(spec, [filled(section.sentence, values)]), spec)
    assert {f.id: got.values[f.id] for f in section.fields} == values


# ----------------------------------------------------------------------------- missing and repeated sentences


def test_missing_sentence_is_returned_with_an_error_naming_its_items(tmp_path: Path, spec: FormSpec) -> None:
    """A deleted sentence leaves its items None and one 错误 lists each of their labels: the return is 退回."""
    values = distinct_values(spec)
    got = read_docx(tmp_path, spec, values, omit=frozenset({"s3"}))
    s3 = spec.sections[2]
    assert got.missing == ("s3",)
    assert all(got.values[f.id] is None for f in s3.fields)
    assert {k: v for k, v in got.values.items() if not k.startswith("s3_")} == {
        k: v for k, v in expected(values).items() if not k.startswith("s3_")}
    [error] = [i for i in got.issues if i.rule == documents.MISSING_RULE]
    assert error.severity == Severity.ERROR
    assert s3.title in error.message
    assert all(f.label in error.message for f in s3.fields)
    assert got.rejected


def test_every_missing_sentence_is_named_in_its_own_error(tmp_path: Path, spec: FormSpec) -> None:
    """Five sentences missing give five 错误, one per section, each naming its section; the others none."""
    more = read_docx(tmp_path, spec, distinct_values(spec), omit=frozenset({"s1", "s2", "s3", "s4", "s6"}))
    assert more.rejected
    errors = [i for i in more.issues if i.severity == Severity.ERROR]
    assert {i.rule for i in errors} == {documents.MISSING_RULE}
    for section in spec.sections:
        assert sum(section.title in e.message for e in errors) == (section.id in more.missing), section.id


def test_document_without_any_sentence_is_not_a_form(tmp_path: Path, spec: FormSpec) -> None:
    """A Word file with none of the sentences (an activity summary, say) says is_form False."""
    path = tmp_path / "summary.docx"
    document = docx.Document()
    document.add_paragraph("关于开展“安全生产月”活动的总结")
    document.add_paragraph("我局高度重视，组织开展了系列宣传活动。")
    document.save(str(path))
    got = read_word_form(path, "docx", spec)
    assert not got.is_form
    assert got.rejected


def test_sentence_twice_with_different_numbers_is_not_guessed(spec: FormSpec) -> None:
    """The same sentence filled twice differently is ambiguous: its items are None with a 语句重复 错误."""
    section = spec.sections[4]
    first = {f.id: str(10 + i) for i, f in enumerate(section.fields)}
    second = {**first, "s5_materials": "999"}
    match = match_form(blocks_of(spec, [filled(section.sentence, first), filled(section.sentence, second)]), spec)
    assert match.ambiguous == ("s5",)
    assert all(match.values[f.id] is None for f in section.fields)
    again = match_form(blocks_of(spec, [filled(section.sentence, first), filled(section.sentence, first)]), spec)
    assert again.found == ("s5",)
    assert {f.id: again.values[f.id] for f in section.fields} == first
    got = documents.word_return(match, spec, WORD_ORIGINAL)
    assert [(i.rule, i.severity) for i in got.issues if i.rule == documents.AMBIGUOUS_RULE] == [
        (documents.AMBIGUOUS_RULE, Severity.ERROR)]
    assert "s5" in got.missing and got.rejected


# ----------------------------------------------------------------------------- the header


@pytest.mark.parametrize("line", [
    "填报单位：清河县交通运输局  联系人：欧阳明远  电话：0311-6627527  填报日期：2023年6月28日",
    "填报单位:清河县交通运输局联系人:欧阳明远电话:0311-6627527填报日期:2023年6月28日",
    "填报单位（盖章）：清河县交通运输局\t联系人： 欧阳明远 \t电话：0311-6627527\u3000填报日期：2023年6月28日",
    "填 报 单 位：清河县交通运输局 联 系 人：欧阳明远 电 话：0311-6627527 填报日期：2023年6月28日",
])
def test_header_line_with_several_labels(spec: FormSpec, line: str) -> None:
    """One line holding all four “标签：值” pairs, full- or half-width colons, with or without gaps, is read."""
    assert match_form(blocks_of(spec, [], line), spec).header == HEADER


def test_header_line_left_as_printed_is_blank(spec: FormSpec) -> None:
    """The notice's own header line “填报单位：联系人：电话：填报日期：” gives no values, not the next line."""
    blocks = [spec.annex, spec.title, "填报单位：联系人：电话：填报日期：", "活动项目", "内容要求", "进展情况",
              spec.sections[0].title]
    assert match_form(blocks, spec).header == dict.fromkeys(HEADER)


def test_header_value_wrapped_onto_the_next_line(spec: FormSpec) -> None:
    """A value pushed onto the next line (as PDF text often has it) is read from there."""
    blocks = ["填报单位：清河县交通运输局 联系人：欧阳明远 电话：0311-6627527 填报日期：", "2023 年6 月28 日"]
    got = match_form(blocks, spec).header
    assert got["report_date"] == "2023 年6 月28 日"
    assert normalise_date(got["report_date"])[0].isoformat() == "2023-06-28"


# ----------------------------------------------------------------------------- property


_COUNT_TEXT = st.one_of(
    st.just(""),
    st.integers(0, 10**7).map(str),
    st.integers(0, 10**5).map(lambda n: f"约{n}"),
    st.integers(0, 10**5).map(lambda n: f" {n} "),
)
_CASE_TEXT = st.text(alphabet=st.sampled_from(list("某公司客运驾驶员疲劳被曝光已约谈整改，。、0123456789ABCabc（）()")),
                     max_size=40)


@st.composite
def _typed_forms(draw: st.DrawFn, spec: FormSpec) -> tuple[dict[str, str], Style]:
    values = {}
    for f in spec.body_fields:
        if f.kind == "text":
            values[f.id] = draw(_CASE_TEXT)
        else:
            number = draw(_COUNT_TEXT)
            values[f.id] = number + (f.unit if number.strip() and draw(st.booleans()) else "")
    style = Style(layout=draw(st.sampled_from(["table", "paragraphs"])),
                  wording=draw(st.sampled_from(["original", "fixed"])),
                  brackets=draw(st.sampled_from([("（", "）"), ("(", ")"), ("（", ")")])),
                  header=draw(st.sampled_from(["line", "cells"])))
    return values, style


def test_random_values_read_back_exactly(tmp_path_factory: pytest.TempPathFactory, spec: FormSpec) -> None:
    """Whatever is typed in the blanks (numbers, units, “约”, spaces, blanks, any case text) reads back as typed."""

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_typed_forms(spec))
    def check(typed: tuple[dict[str, str], Style]) -> None:
        values, style = typed
        got = read_docx(tmp_path_factory.mktemp("prop"), spec, values, style)
        assert got.values == expected(values)
        assert got.header == HEADER
        assert got.missing == ()

    check()


# ----------------------------------------------------------------------------- docx text extraction


def test_docx_blocks_keep_document_order_nested_tables_and_merged_cells_once(tmp_path: Path) -> None:
    """Paragraphs and cells come in document order; a nested table's cells follow its cell; a merged cell appears once."""
    document = docx.Document()
    document.add_paragraph("甲")
    table = document.add_table(rows=2, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 2))
    merged.text = "横向合并"
    tall = table.cell(1, 0).merge(table.cell(1, 0))
    tall.text = "乙"
    table.cell(1, 1).text = "丙"
    inner = table.cell(1, 2).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "内一"
    inner.cell(0, 1).text = "内二"
    document.add_paragraph("丁")
    path = tmp_path / "layout.docx"
    document.save(str(path))
    blocks = docx_blocks(path)
    assert blocks.count("横向合并") == 1
    assert [b for b in blocks if b.strip()] == ["甲", "横向合并", "乙", "丙", "内一", "内二", "丁"]


def test_docx_blocks_vertical_merge_listed_once(tmp_path: Path) -> None:
    """A cell merged down two rows (as 活动项目 often is) is one block."""
    document = docx.Document()
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).merge(table.cell(1, 0)).text = "纵向合并"
    table.cell(0, 1).text = "上"
    table.cell(1, 1).text = "下"
    path = tmp_path / "vmerge.docx"
    document.save(str(path))
    assert [b for b in docx_blocks(path) if b.strip()] == ["纵向合并", "上", "下"]


def test_docx_text_typed_with_track_changes_is_read(tmp_path: Path, spec: FormSpec) -> None:
    """Numbers typed with 修订 on sit in w:ins; they are read, and deleted text (w:del) is not."""
    document = docx.Document()
    paragraph = document.add_paragraph("召开警示教育大会（")
    insertion = OxmlElement("w:ins")
    insertion.set(qn("w:id"), "1")
    insertion.set(qn("w:author"), "unit")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "42"
    run.append(text)
    insertion.append(run)
    paragraph._p.append(insertion)
    deletion = OxmlElement("w:del")
    deletion.set(qn("w:id"), "2")
    deletion.set(qn("w:author"), "unit")
    gone = OxmlElement("w:r")
    gone_text = OxmlElement("w:delText")
    gone_text.text = "7"
    gone.append(gone_text)
    deletion.append(gone)
    paragraph._p.append(deletion)
    paragraph.add_run("）次，受众（）人；")
    path = tmp_path / "tracked.docx"
    document.save(str(path))
    assert "召开警示教育大会（42）次，受众（）人；" in docx_blocks(path)


# ----------------------------------------------------------------------------- bad files


def test_damaged_docx_raises_document_error(tmp_path: Path, spec: FormSpec) -> None:
    """A truncated .docx gives DocumentError (unreadable) with the file name and the advice, no other exception."""
    good = write_form(tmp_path / "good.docx", spec, distinct_values(spec), HEADER)
    bad = tmp_path / "坏文件.docx"
    bad.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(DocumentError) as caught:
        read_word_form(bad, "docx", spec)
    assert caught.value.reason == UNREADABLE
    assert "坏文件.docx" in str(caught.value)
    assert RESAVE_ADVICE in str(caught.value)


def test_pdf_without_text_and_damaged_pdf(tmp_path: Path, spec: FormSpec) -> None:
    """A PDF with no text layer (a scan) gives reason no_text; a broken one gives unreadable."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    scan = tmp_path / "scan.pdf"
    with scan.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(DocumentError) as caught:
        read_word_form(scan, "pdf", spec)
    assert caught.value.reason == NO_TEXT
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 50)
    with pytest.raises(DocumentError) as caught:
        read_word_form(broken, "pdf", spec)
    assert caught.value.reason in (UNREADABLE, NO_TEXT)


def test_unsupported_kind(tmp_path: Path, spec: FormSpec) -> None:
    """A kind that is neither Word nor PDF is refused with a DocumentError, not read."""
    path = tmp_path / "x.pptx"
    path.write_bytes(b"PK")
    with pytest.raises(DocumentError) as caught:
        read_word_form(path, "pptx", spec)
    assert caught.value.reason == UNSUPPORTED


# ----------------------------------------------------------------------------- finding LibreOffice


def test_find_soffice_looks_in_program_files_on_windows(tmp_path: Path) -> None:
    """With nothing on PATH, soffice.exe under %ProgramFiles%\\LibreOffice\\program is found."""
    program = tmp_path / "LibreOffice" / "program"
    program.mkdir(parents=True)
    (program / "soffice.exe").write_bytes(b"")
    empty = tmp_path / "empty-path"
    empty.mkdir()
    assert find_soffice({"PATH": str(empty), "ProgramFiles": str(tmp_path)}) == str(program / "soffice.exe")
    assert find_soffice({"PATH": str(empty), "ProgramFiles": str(empty), "ProgramFiles(x86)": str(empty),
                         "ProgramW6432": str(empty)}) in (None, "/Applications/LibreOffice.app/Contents/MacOS/soffice")


def test_doc_without_libreoffice_says_to_resave(tmp_path: Path, spec: FormSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where LibreOffice is absent, a .doc gives reason no_office and “请另存为 .docx 或使用 Excel 模板”."""
    monkeypatch.setattr(documents, "find_soffice", lambda environ=None: None)
    path = tmp_path / "附件1.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(DocumentError) as caught:
        read_word_form(path, "doc", spec)
    assert caught.value.reason == NO_OFFICE
    assert "请另存为 .docx 或使用 Excel 模板" in str(caught.value)


def test_failing_converter_gives_document_error(tmp_path: Path, spec: FormSpec) -> None:
    """A converter that exits without writing a .docx (here Python, refusing soffice's options) gives convert_failed."""
    path = tmp_path / "附件1.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(DocumentError) as caught:
        read_word_form(path, "doc", spec, soffice=sys.executable)
    assert caught.value.reason == documents.CONVERT_FAILED
    assert RESAVE_ADVICE in str(caught.value)


@pytest.mark.skipif(sys.platform == "win32", reason="the hanging stand-in for soffice is a shell script")
def test_converter_past_its_time_limit_is_ended(tmp_path: Path) -> None:
    """A conversion that does not finish within the limit is ended and reported as timeout."""
    fake = tmp_path / "soffice"
    fake.write_text("#!/bin/sh\nexec sleep 30\n", encoding="utf-8")
    fake.chmod(0o755)
    path = tmp_path / "附件1.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(DocumentError) as caught:
        documents.office_blocks(path, str(fake), timeout=0.5)
    assert caught.value.reason == TIMEOUT


def test_kill_ends_the_converter_and_what_it_started(tmp_path: Path) -> None:
    """Ending a converter also ends the program it started in a session of its own (as soffice starts soffice.bin)."""
    pids = tmp_path / "pids"
    starter = (f"import subprocess, sys, time\n"
               f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True)\n"
               f"open({str(pids)!r}, 'w').write(str(child.pid))\n"
               f"time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", starter], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    give_up = time.monotonic() + 30
    while not pids.exists() or not pids.read_text():
        assert time.monotonic() < give_up, "the stand-in never started its child"
        time.sleep(0.05)
    child = int(pids.read_text())
    documents._kill(proc)
    assert proc.returncode is not None
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


# ----------------------------------------------------------------------------- LibreOffice: .doc, .wps and PDF


@pytest.fixture(scope="module")
def office_copies(
    soffice: str, tmp_path_factory: pytest.TempPathFactory, spec: FormSpec
) -> Callable[[str, str], Path]:
    """The table and paragraph forms as .docx, converted once to .doc and once to .pdf (two soffice calls)."""
    root = tmp_path_factory.mktemp("office-copies")
    profile = tmp_path_factory.mktemp("office-copies-profile")
    values = distinct_values(spec)
    sources = [write_form(root / "table.docx", spec, values, HEADER, Style(layout="table", split_rows=False)),
               write_form(root / "paragraphs.docx", spec, values, HEADER,
                          Style(layout="paragraphs", wording="fixed", brackets=("(", ")")))]
    convert(soffice, sources, root / "doc", "doc", profile)
    convert(soffice, sources, root / "pdf", "pdf", profile)

    def copy(layout: str, extension: str) -> Path:
        return root / extension / f"{layout}.{extension}"

    return copy


@pytest.mark.soffice
@pytest.mark.parametrize("layout", ["table", "paragraphs"])
def test_text_pdf_of_the_form_reads_back(office_copies: Callable[[str, str], Path], spec: FormSpec, layout: str) -> None:
    """A PDF saved from the Word form (LibreOffice, Chinese fonts) gives every blank and the header back."""
    got = read_word_form(office_copies(layout, "pdf"), "pdf", spec)
    values = expected(distinct_values(spec))
    assert got.read_as == PDF_ORIGINAL
    assert got.missing == ()
    assert got.values == values
    assert {k: re.sub(r"\s", "", v or "") for k, v in got.header.items()} == HEADER


@pytest.mark.soffice
def test_doc_and_wps_read_through_libreoffice(
    office_copies: Callable[[str, str], Path], spec: FormSpec, soffice: str, tmp_path: Path
) -> None:
    """The form saved as .doc, and the same file named .wps, are converted in a private profile and read in full."""
    doc = office_copies("table", "doc")
    wps = tmp_path / "附件1 统计表.wps"
    shutil.copyfile(office_copies("paragraphs", "doc"), wps)
    for path, kind in ((doc, "doc"), (wps, "wps")):
        got = read_word_form(path, kind, spec, soffice=soffice)
        assert got.read_as == WORD_ORIGINAL
        assert got.missing == (), path.name
        assert got.values == expected(distinct_values(spec)), path.name
        assert got.header == HEADER, path.name


def test_tidy_pdf_blocks_drops_requirement_text_on_a_sentence_line(spec: FormSpec) -> None:
    """Where a row breaks across pages, 内容要求 text sharing a line with the sentence is dropped, and stray quotes too."""
    section = spec.sections[4]
    values = {f.id: str(40 + i) for i, f in enumerate(section.fields)}
    text = filled(section.sentence, values)
    cut = text.index("（46）")
    lines = [text[:cut], "”诊 等线上活动。 " + text[cut:], "填报日期：", "2023 年6 月28 日"]
    tidy = tidy_pdf_blocks(lines, spec)
    assert tidy[1].startswith("（46）")
    assert tidy[3] == "2023 年6 月28 日"
    got = match_form(tidy, spec)
    assert {f.id: got.values[f.id] for f in section.fields} == values
    assert match_form(lines, spec).found == ()
