"""make report: the 活动总结 draft and the county's 附件1 (.docx table, .xlsx template), read back and printed."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docx
import numpy as np
import openpyxl
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import qn
from docx.shared import Pt
from office import convert, meta_rows, pdf_page_sizes, pdf_text, sheet_states
from returns import clean_values, count_ids, make_return, settings
from word_forms import write_form as write_word_form

from pipeline.checks.rollup import Rollup
from pipeline.demo.samples import png_bytes
from pipeline.errors import ReportError
from pipeline.forms.generate import FormContent, write_form
from pipeline.forms.spec import TEXT_LIMITS, FormSpec, template_name
from pipeline.job import collect, write_outputs
from pipeline.model import Status
from pipeline.outputs.materials_report import summary_units
from pipeline.report import officedoc
from pipeline.report.annex_docx import annex_name
from pipeline.report.default_template import PARAGRAPHS, TEMPLATE_NAME, build_template, template_bytes
from pipeline.report.package import docx_bytes
from pipeline.report.summary import CASE_CHARS, summary_name
from pipeline.report.upward import FOLDER, report_to_outbox
from pipeline.settings.campaign import Campaign, load_campaign
from pipeline.settings.roster import Roster, load_roster

REPO = Path(__file__).resolve().parents[1]
EPOCH = "1688083200"  # 2023-06-30 00:00 UTC
DAY = dt.date(2023, 6, 28)
UNITS = ("U001", "U002", "U003", "U004", "U005")
_NUMBER = re.compile(r"\d[\d,]*")


# ----------------------------------------------------------------------------- helpers


def campaign_file(folder: Path, county: str = "清河县", extra: str = "", campaign_id: str = "") -> Path:
    """A copy of the repository's campaign.toml for ``county`` (its bureau named after it), with ``extra`` TOML."""
    text = (REPO / "campaign.toml").read_text(encoding="utf-8")
    if campaign_id:
        text, replaced = re.subn(r'(?m)^id = ".*"$', f'id = "{campaign_id}"', text)
        assert replaced == 1
    text = text.replace('county = "清河县"', f'county = "{county}"')
    text = text.replace('bureau = "清河县交通运输局"', f'bureau = "{county}交通运输局"')
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "campaign.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def unit_values(index: int, scale: int = 1) -> dict[str, Any]:
    """Clean answers whose counts differ by unit and field (and rise along each pair, so every rule holds)."""
    return clean_values("annex1", **{fid: scale * (index + 1) * 100 + j for j, fid in enumerate(count_ids())})


def fill_inbox(inbox: Path, units: tuple[str, ...] = UNITS, scale: int = 1, **extra: Any) -> dict[str, int]:
    """Returns of ``units`` in ``inbox``; the sums of what was typed, by field id."""
    sums = dict.fromkeys(count_ids(), 0)
    for index, code in enumerate(units):
        values = {**unit_values(index, scale), **extra.get(code, {})}
        make_return(inbox, "annex1", code, values)
        for fid in sums:
            sums[fid] += values[fid]
    return sums


def run_report(tmp: Path, campaign: Campaign, roster: Roster | None = None, upper: Path | None = None,
               inbox: Path | None = None) -> Path:
    """``make report`` into ``tmp/outbox``; returns the 上报 folder."""
    forms = settings()[0]
    outbox = tmp / "outbox"
    report_to_outbox(inbox or tmp / "inbox", outbox, forms, campaign, roster or settings()[2], DAY, upper)
    return outbox / FOLDER


def spec() -> FormSpec:
    """附件1's spec."""
    return settings()[0]["annex1"]


def numbers(text: str) -> list[int]:
    """The numbers of a text in order (thousands separators allowed)."""
    return [int(n.replace(",", "")) for n in _NUMBER.findall(text)]


def section_paragraphs(path: Path) -> dict[str, str]:
    """Each 活动项目's paragraph in the 总结: the paragraph after its heading “（一）title”."""
    paragraphs = docx.Document(str(path)).paragraphs
    found = {}
    for s in spec().sections:
        index = next(i for i, p in enumerate(paragraphs) if p.text.endswith(s.title) and p.text.startswith("（"))
        found[s.id] = paragraphs[index + 1].text
    return found


def section_sums(s_id: str, sums: Mapping[str, int]) -> list[int]:
    """The sums of one section's count fields in form order."""
    section = next(s for s in spec().sections if s.id == s_id)
    return [sums[f.id] for f in section.fields if f.kind == "count"]


def gray_page(pdf: Path, tmp: Path, dpi: int = 30) -> np.ndarray:
    """Page 1 of ``pdf`` as a grey image (pdftoppm's PGM), rows × columns."""
    stem = tmp / "page"
    subprocess.run(["pdftoppm", "-gray", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)],
                   check=True, timeout=60)
    data = stem.with_suffix(".pgm").read_bytes()
    magic, width, height, depth, *_ = data.split(maxsplit=4)
    assert magic == b"P5" and depth == b"255"
    pixels = np.frombuffer(data[-int(width) * int(height):], dtype=np.uint8)
    return pixels.reshape(int(height), int(width))


# ----------------------------------------------------------------------------- a county with five returns


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int], Rollup]:
    """Five units' returns rolled up and reported: the 上报 folder, the typed sums and the rollup."""
    tmp = tmp_path_factory.mktemp("county")
    sums = fill_inbox(tmp / "inbox")
    campaign = load_campaign(campaign_file(tmp / "settings"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", EPOCH)
        folder = run_report(tmp, campaign)
    rollup = collect(tmp / "inbox", tmp / "outbox", settings()[0], campaign, settings()[2], "test")
    return folder, sums, rollup


def test_writes_the_three_documents(county: tuple[Path, dict[str, int], Rollup]) -> None:
    """The 上报 folder holds the 总结 draft, the 附件1 table and the 附件1 workbook, named after the county."""
    folder, _, rollup = county
    campaign = rollup.campaign
    assert sorted(p.name for p in folder.iterdir()) == sorted([
        summary_name(campaign), annex_name(spec(), campaign, ".docx"), annex_name(spec(), campaign, ".xlsx")])


def test_summary_totals_equal_the_rollup(county: tuple[Path, dict[str, int], Rollup]) -> None:
    """Every 活动项目 paragraph of the 总结 carries the county totals, in the sentence's order, as typed sums."""
    folder, sums, rollup = county
    assert rollup.totals("annex1") == sums
    paragraphs = section_paragraphs(folder / summary_name(rollup.campaign))
    for s in spec().sections:
        sentence = paragraphs[s.id].split("其中，")[0]
        assert numbers(sentence.replace("4·26", ""))[-len(section_sums(s.id, sums)):] == section_sums(s.id, sums)
        assert all(f"{v:,}" in sentence for v in section_sums(s.id, sums) if v >= 1000)


def test_summary_names_the_leading_units_and_the_problems(county: tuple[Path, dict[str, int], Rollup]) -> None:
    """Each item names its largest participants first, and 存在的问题 lists the units that sent nothing."""
    folder, _, rollup = county
    text = "\n".join(p.text for p in docx.Document(str(folder / summary_name(rollup.campaign))).paragraphs)
    largest = rollup.roster.by_code(UNITS[-1])
    assert largest is not None
    for paragraph in section_paragraphs(folder / summary_name(rollup.campaign)).values():
        assert paragraph.split("其中，")[1].startswith(largest.name)
    missing = [u.name for u in rollup.roster if u.code not in UNITS]
    assert f"未报送活动情况统计表的单位（{len(missing)}个）：{'、'.join(missing)}。" in text
    assert "【请填写" in text
    share = f"{len(UNITS) * 100 // len(rollup.roster)}%"  # all five sent clean returns on time
    assert all(f"{rate}{share}" in text for rate in ("报送率", "合格率", "按时率"))


def test_annex_table_totals_equal_the_rollup(county: tuple[Path, dict[str, int], Rollup]) -> None:
    """The 附件1 table has the notice's columns and each 进展情况 cell the totals in its brackets."""
    folder, sums, rollup = county
    document = docx.Document(str(folder / annex_name(spec(), rollup.campaign, ".docx")))
    table, = document.tables
    assert [c.text for c in table.rows[0].cells] == ["活动项目", "内容要求", "进展情况"]
    for row, s in zip(table.rows[1:], spec().sections, strict=True):
        assert row.cells[0].text == s.title
        filled = [int(v) for v in re.findall(r"（(\d+)）", row.cells[2].text)]
        assert filled == section_sums(s.id, sums)
    header = "".join(p.text for p in document.paragraphs)  # the lines above the table
    fonts = {r.get(qn("w:eastAsia")) for r in document.element.body.iter(qn("w:rFonts"))}
    assert fonts == {"黑体", "方正小标宋简体", "仿宋_GB2312"}
    c = rollup.campaign
    assert all(v in header for v in (c.bureau, c.contact_person, c.contact_phone, "2023年6月28日"))


def test_annex_workbook_is_the_template_filled(county: tuple[Path, dict[str, int], Rollup]) -> None:
    """The .xlsx is the template with 填报单位 = the bureau, the totals in the named cells and its identity kept."""
    folder, sums, rollup = county
    path = folder / annex_name(spec(), rollup.campaign, ".xlsx")
    wb = openpyxl.load_workbook(path)
    values = {name: wb[s][r.replace("$", "")].value
              for name, d in wb.defined_names.items() if not name.startswith("_xlnm.")
              for s, r in d.destinations}
    assert {fid: values[fid] for fid in sums} == sums
    assert values["unit_name"] == rollup.campaign.bureau
    assert meta_rows(path)["form_version"] == spec().version
    assert sheet_states(path)["_meta"] == "veryHidden"


def test_summary_layout_reads_back(county: tuple[Path, dict[str, int], Rollup]) -> None:
    """A4, GB/T 9704 margins, East-Asian font names, sizes and the fixed line pitch read back from the .docx."""
    folder, _, rollup = county
    document = docx.Document(str(folder / summary_name(rollup.campaign)))
    section, = document.sections
    sizes = (section.page_width, section.page_height, section.top_margin, section.bottom_margin,
             section.left_margin, section.right_margin)
    assert [round(v.mm, 1) for v in sizes] == [210, 297, 37, 35, 28, 26]
    expected = {officedoc.STYLE_TITLE: ("方正小标宋简体", Pt(22)), officedoc.STYLE_BODY: ("仿宋_GB2312", Pt(16)),
                officedoc.STYLE_HEADING1: ("黑体", Pt(16)), officedoc.STYLE_HEADING2: ("楷体_GB2312", Pt(16))}
    for name, (font, size) in expected.items():
        style = document.styles[name]
        assert style.element.rPr.rFonts.get(qn("w:eastAsia")) == font
        assert style.font.size == size
    body = document.styles[officedoc.STYLE_BODY].paragraph_format
    assert Pt(28) <= body.line_spacing <= Pt(29)
    assert body.first_line_indent == Pt(32)
    used = {p.style.name for p in document.paragraphs}
    assert set(expected) <= used
    assert document.paragraphs[0].style.name == officedoc.STYLE_TITLE
    headings = [p.text for p in document.paragraphs if p.style.name == officedoc.STYLE_HEADING1]
    assert headings[:4] == ["一、基本情况", "二、主要做法和成效", "三、存在的问题", "四、下一步工作打算"]
    assert document.settings.odd_and_even_pages_header_footer
    for footer, align in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT), (section.even_page_footer,
                                                                      WD_ALIGN_PARAGRAPH.LEFT)):
        number = footer.paragraphs[0]
        assert number.text.startswith("— ") and number.text.endswith(" —")
        assert number.style.element.rPr.rFonts.get(qn("w:eastAsia")) == "宋体" and number.style.font.size == Pt(14)
        assert any(i.text.strip() == "PAGE" for i in number._p.iter(qn("w:instrText")))
        assert number.paragraph_format.alignment == align
    fonts = docx.oxml.parse_xml(document.part.part_related_by(RT.FONT_TABLE).blob)
    alternatives = {f.get(qn("w:name")): [a.get(qn("w:val")) for a in f.iterchildren(qn("w:altName"))]
                    for f in fonts.iterchildren(qn("w:font"))}
    assert alternatives["仿宋_GB2312"] == ["仿宋"] and alternatives["楷体_GB2312"] == ["楷体"]  # for a PC without them
    assert [p.text for p in document.paragraphs if p.style.name == officedoc.STYLE_SIGNATURE] == [
        rollup.campaign.bureau, "2023年6月28日"]


def test_report_twice_gives_identical_bytes(tmp_path: Path, county: tuple[Path, dict[str, int], Rollup],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Run again with the same SOURCE_DATE_EPOCH, every file of 上报 has the same bytes."""
    folder, _, rollup = county
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    again = run_report(tmp_path, rollup.campaign, inbox=folder.parent.parent / "inbox")
    for path in folder.iterdir():
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name


def test_default_template_is_built_reproducibly() -> None:
    """default_template builds the same bytes twice, and the committed template has its paragraphs and styles."""
    from lxml import etree

    from pipeline.report.default_template import DEFAULT_TEMPLATE

    assert template_bytes() == template_bytes()
    committed, built = docx.Document(str(DEFAULT_TEMPLATE)), build_template()
    assert [(p.style.name, p.text) for p in committed.paragraphs] == [(p.style.name, p.text) for p in built.paragraphs]
    ours = [n for n in vars(officedoc).values() if isinstance(n, str) and n.startswith("公文")]
    for name in ours:
        assert etree.tostring(committed.styles[name].element) == etree.tostring(built.styles[name].element), name
    assert etree.tostring(committed.sections[0]._sectPr) == etree.tostring(built.sections[0]._sectPr)


# ----------------------------------------------------------------------------- printing (LibreOffice)


@pytest.mark.soffice
def test_printed_totals_pages_and_first_page(county: tuple[Path, dict[str, int], Rollup], tmp_path: Path,
                                             soffice: str, office_profile: Path) -> None:
    """Both .docx print on A4 with every total in the PDF text, the table on no more pages than the notice's own,
    and page 1 of the 总结 keeps its text inside the official margins with the title centred."""
    folder, sums, rollup = county
    c = rollup.campaign
    blank = write_word_form(tmp_path / "notice.docx", spec(), {}, {})
    summary, annex, notice = convert(soffice, [folder / summary_name(c), folder / annex_name(spec(), c, ".docx"),
                                               blank], tmp_path / "pdf", "pdf", office_profile)
    summary_text, annex_text = pdf_text(summary), pdf_text(annex)
    for s in spec().sections:
        for value in section_sums(s.id, sums):
            assert f"（{value}）" in annex_text
            assert f"{value:,}" in summary_text
    pages = pdf_page_sizes(summary)
    assert 2 <= len(pages) <= 12
    assert all(abs(w - 595.3) < 1 and abs(h - 841.9) < 1 for w, h in pages)
    assert len(pdf_page_sizes(annex)) <= len(pdf_page_sizes(notice))
    dpi = 30
    page = gray_page(summary, tmp_path, dpi)
    mm = dpi / 25.4
    assert abs(page.shape[1] / page.shape[0] - 210 / 297) < 0.01
    ink_rows, ink_cols = np.nonzero(page < 160)
    assert ink_cols.min() >= (28 - 2) * mm and ink_cols.max() <= (210 - 26 + 2) * mm
    assert ink_rows.min() >= (37 - 2) * mm
    body_rows = ink_rows[ink_rows < (297 - 35 + 1) * mm]
    assert body_rows.max() > (297 - 35 - 30) * mm  # the first page is full, not a few lines
    title_rows = ink_rows < ink_rows.min() + 10 * mm
    centre = (ink_cols[title_rows].min() + ink_cols[title_rows].max()) / 2
    assert abs(centre - (28 + 156 / 2) * mm) < 4 * mm


# ----------------------------------------------------------------------------- edge cases


def test_no_returns_writes_nothing(tmp_path: Path) -> None:
    """Without any counted return the report stops with a Chinese message and writes no file."""
    (tmp_path / "inbox").mkdir()
    campaign = load_campaign(campaign_file(tmp_path / "settings"))
    with pytest.raises(ReportError, match="还没有任何单位的合格来件") as caught:
        run_report(tmp_path, campaign)
    assert "Error" not in str(caught.value)
    assert not (tmp_path / "outbox" / FOLDER).exists() or not any((tmp_path / "outbox" / FOLDER).iterdir())


def _broken(paragraphs: tuple[tuple[str, str], ...], index: int, text: str) -> tuple[tuple[str, str], ...]:
    return (*paragraphs[:index], (paragraphs[index][0], text), *paragraphs[index + 1:])


_SENTENCE = next(i for i, (_, t) in enumerate(PARAGRAPHS) if t.startswith("{{ s.sentence }}"))
_ENDFOR = PARAGRAPHS.index(next(p for p in PARAGRAPHS if p[1] == "{%p endfor %}"))
_OPENING = 1


@pytest.mark.parametrize(("index", "text", "tag", "blamed"), [
    (_OPENING, "按照{{ edition }活动的部署", "{{ edition }", _OPENING),
    (_OPENING, "本县{{ totl }}个单位", "totl", _OPENING),
    (_SENTENCE, "{{ s.sentense }}", "sentense", _SENTENCE),
    (_ENDFOR, "", "for", _ENDFOR - 3),
])
def test_broken_template_names_the_tag_and_paragraph(tmp_path: Path, index: int, text: str, tag: str,
                                                     blamed: int) -> None:
    """A clerk's template with a broken tag stops the report with the paragraph and the tag named; nothing written."""
    fill_inbox(tmp_path / "inbox", UNITS[:1])
    settings_dir = tmp_path / "settings"
    campaign = load_campaign(campaign_file(settings_dir))
    (settings_dir / TEMPLATE_NAME).write_bytes(docx_bytes(build_template(_broken(PARAGRAPHS, index, text))))
    with pytest.raises(ReportError) as caught:
        run_report(tmp_path, campaign)
    message = str(caught.value)
    assert f"第{blamed + 1}段" in message and tag in message and TEMPLATE_NAME in message
    assert not (tmp_path / "outbox" / FOLDER).exists() or not any((tmp_path / "outbox" / FOLDER).iterdir())


def test_clerks_template_overrides_the_default(tmp_path: Path) -> None:
    """A template beside campaign.toml is used instead of the default, with the “万” filter it asks for."""
    sums = fill_inbox(tmp_path / "inbox", scale=30)
    settings_dir = tmp_path / "settings"
    campaign = load_campaign(campaign_file(settings_dir))
    people = "s1_center_study_people"
    own = ((officedoc.STYLE_TITLE, "本县总结"), (officedoc.STYLE_BODY, f"参与{{{{ totals.{people} | wan }}}}人次"))
    (settings_dir / TEMPLATE_NAME).write_bytes(docx_bytes(build_template(own)))
    folder = run_report(tmp_path, campaign)
    texts = [p.text for p in docx.Document(str(folder / summary_name(campaign))).paragraphs]
    assert sums[people] >= 10_000
    assert texts == ["本县总结", f"参与{round(sums[people] / 10_000, 1):g}万人次"]


def test_twenty_cases_at_the_length_limit(tmp_path: Path) -> None:
    """Twenty units with a 典型案例 at the form's limit: the 总结 lists each, shortened; the forms keep every total."""
    units = tuple(f"U{i:03d}" for i in range(1, 21))
    limit = TEXT_LIMITS["text"][0]
    odd = "<&>{{ x }}"  # markup and tags a unit typed stay text
    cases = {code: {"s4_case_details": f"{code}案例{odd}" + "安" * (limit - 7 - len(odd))} for code in units}
    sums = fill_inbox(tmp_path / "inbox", units, **cases)
    campaign = load_campaign(campaign_file(tmp_path / "settings"))
    folder = run_report(tmp_path, campaign)
    paragraphs = [p.text for p in docx.Document(str(folder / summary_name(campaign))).paragraphs]
    listed = [p for p in paragraphs if re.match(r"\d+．", p)]
    assert len(listed) == 20 and all(len(p) <= CASE_CHARS + 40 for p in listed)
    assert [p.split("：", 1)[1][:4] for p in listed] == [code for code in units]
    assert all(odd in p for p in listed)
    table, = docx.Document(str(folder / annex_name(spec(), campaign, ".docx"))).tables
    filled = [int(v) for row in table.rows[1:] for v in re.findall(r"（(\d+)）", row.cells[2].text)]
    assert filled == [sums[f] for f in count_ids()]
    assert "共20个" in table.rows[4].cells[2].text
    wb = openpyxl.load_workbook(folder / annex_name(spec(), campaign, ".xlsx"))
    (sheet, ref), = wb.defined_names["s4_case_details"].destinations
    text = wb[sheet][ref.replace("$", "")].value
    assert text.startswith("共20个") and len(text) <= limit


def test_photos_are_captioned_and_can_be_turned_off(tmp_path: Path) -> None:
    """A photo received as material appears under 附：活动图片 with its unit; [report] photos = false leaves it out."""
    fill_inbox(tmp_path / "inbox", UNITS[:2])
    owner = settings()[2].by_code("U002")
    assert owner is not None
    (tmp_path / "inbox" / f"U002_{owner.name}_应急演练.png").write_bytes(png_bytes(40, 30))
    shown = load_campaign(campaign_file(tmp_path / "on"))
    document = docx.Document(str(run_report(tmp_path / "a", shown, inbox=tmp_path / "inbox") / summary_name(shown)))
    assert len(document.inline_shapes) == 1
    assert f"图1　{owner.name}" in [p.text for p in document.paragraphs]
    hidden = load_campaign(campaign_file(tmp_path / "off", extra="\n[report]\nphotos = false\n"))
    document = docx.Document(str(run_report(tmp_path / "b", hidden, inbox=tmp_path / "inbox") / summary_name(hidden)))
    assert len(document.inline_shapes) == 0
    assert "附：活动图片" not in [p.text for p in document.paragraphs]


# ----------------------------------------------------------------------------- city level and 同比


def _city(tmp: Path, counties: tuple[str, ...], campaign_id: str = "") -> tuple[Campaign, Roster]:
    rows = ["单位编码,单位名称,类别,邮箱"] + [f"C{i:02d},{c}交通运输局,县区,c{i}@example.com"
                                               for i, c in enumerate(counties, 1)]
    (tmp / "city").mkdir(parents=True)
    (tmp / "city" / "units.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return (load_campaign(campaign_file(tmp / "city", "河间市", campaign_id=campaign_id)),
            load_roster(tmp / "city" / "units.csv"))


@pytest.mark.parametrize("upper", [False, True], ids=["own-template", "upper-template"])
def test_city_reads_three_county_reports(tmp_path: Path, upper: bool) -> None:
    """Three counties' upward workbook and 总结 as a city's inbox: every county 已通过, the city totals are the sums,
    and each 总结 is the county's 活动总结 (material), not a return."""
    counties = ("清河县", "临河县", "平河县")
    # The city's own campaign id is known to the counties only through its template (--upper).
    city_campaign, city_roster = _city(tmp_path, counties, "2023-city-safety-month" if upper else "")
    forms = settings()[0]
    expected = dict.fromkeys(count_ids(), 0)
    for index, name in enumerate(counties):
        work = tmp_path / f"county{index}"
        sums = fill_inbox(work / "inbox", UNITS[: index + 2], scale=index + 1)
        expected = {k: expected[k] + sums[k] for k in expected}
        issued = None
        if upper:  # the city's own template for this county, as the city would send it down
            unit = city_roster.by_code(f"C{index + 1:02d}")
            issued = write_form(tmp_path / "issued" / template_name(spec(), unit), spec(), city_campaign,
                                FormContent(unit=unit))
        folder = run_report(work, load_campaign(campaign_file(work / "settings", name)), upper=issued)
        workbook = next(folder.glob("*.xlsx"))
        if upper:
            assert issued is not None and workbook.name == issued.name
            assert meta_rows(workbook) == meta_rows(issued)
        sent = tmp_path / "city" / "inbox" / f"{name}交通运输局"  # each county's mail saved in its own folder
        sent.mkdir(parents=True)
        for path in (workbook, *folder.glob("*总结*.docx")):
            shutil.copy(path, sent / path.name)
    rollup = collect(tmp_path / "city" / "inbox", tmp_path / "city" / "outbox", forms, city_campaign, city_roster,
                     "test")
    states = {st.unit.code: st.status for st in rollup.statuses if st.form_id == "annex1"}
    assert states == dict.fromkeys(states, Status.PASSED) and len(states) == 3
    assert rollup.totals("annex1") == expected
    assert summary_units(rollup) == {u.code for u in city_roster}  # each 总结 counts as the county's 活动总结


def test_year_over_year(tmp_path: Path) -> None:
    """With [compare] previous naming last year's outbox, each item's participation 同比 is stated, an item last year
    did not have says so, and the rollup workbook gets a 同比 sheet of every count field."""
    last = tmp_path / "last"
    fill_inbox(last / "inbox", UNITS[:2])
    forms, campaign, roster = settings()
    write_outputs(last / "outbox", collect(last / "inbox", last / "outbox", forms, campaign, roster, "test"))
    newest = spec().sections[-1]
    records = last / "outbox" / "records.csv"
    kept = [line for line in records.read_text(encoding="utf-8-sig").splitlines(keepends=True)
            if f",{newest.id}_" not in line]  # as if last year's form had no such item
    records.write_text("".join(kept), encoding="utf-8-sig")
    before = dict.fromkeys(count_ids(), 0)
    for index in range(2):
        for fid in before:
            before[fid] += unit_values(index)[fid]
    now = fill_inbox(tmp_path / "inbox", UNITS[:3])
    this = load_campaign(campaign_file(tmp_path / "settings", extra=f'\n[compare]\nprevious = "{last / "outbox"}"\n'))
    paragraphs = section_paragraphs(run_report(tmp_path, this) / summary_name(this))
    for s in spec().sections:
        if s is newest:
            assert "本项为今年新增" in paragraphs[s.id] and "同比" not in paragraphs[s.id]
            continue
        people = [f.id for f in s.fields if f.kind == "count" and f.unit in ("人次", "人")] or [
            f.id for f in s.fields if f.kind == "count"]
        rate = (sum(now[f] for f in people) - sum(before[f] for f in people)) * 100 / sum(before[f] for f in people)
        assert f"同比增长{float(f'{rate:.1f}'):g}%" in paragraphs[s.id]
    workbook = write_outputs(tmp_path / "outbox", collect(tmp_path / "inbox", tmp_path / "outbox", forms, this, roster,
                                                          "test"))[0]
    rows = list(openpyxl.load_workbook(workbook)["同比"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(count_ids())
    for row, fid in zip(rows, count_ids(), strict=True):
        assert row[3] == now[fid]
        if fid.startswith(f"{newest.id}_"):
            assert row[4].startswith("本年新增")
        else:
            assert row[4:6] == (before[fid], now[fid] - before[fid])


def test_unreadable_template_and_upper_file_are_explained(tmp_path: Path) -> None:
    """A template that is no .docx, and an upper file that is not our 附件1 template, each stop with a Chinese message."""
    fill_inbox(tmp_path / "inbox", UNITS[:1])
    settings_dir = tmp_path / "settings"
    campaign = load_campaign(campaign_file(settings_dir))
    (settings_dir / TEMPLATE_NAME).write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ReportError, match="不是可以读取的 Word 文件"):
        run_report(tmp_path, campaign)
    (settings_dir / TEMPLATE_NAME).unlink()
    other = write_form(tmp_path / "annex2.xlsx", settings()[0]["annex2"], campaign, FormContent())
    with pytest.raises(ReportError, match="不是本程序生成的“附件1”模板"):
        run_report(tmp_path, campaign, upper=other)
    with pytest.raises(ReportError, match="找不到上级下发的模板"):
        run_report(tmp_path, campaign, upper=tmp_path / "无此文件.xlsx")
    assert not (tmp_path / "outbox" / FOLDER).exists() or not any((tmp_path / "outbox" / FOLDER).iterdir())


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`report` on the command line: without returns exit 2 with a Chinese message; with returns the files and a summary."""
    from pipeline.cli import main

    campaign = campaign_file(tmp_path / "settings")
    (tmp_path / "inbox").mkdir()
    args = ["report", "--campaign", str(campaign), "--roster", str(REPO / "units.csv"), "--inbox",
            str(tmp_path / "inbox"), "--outbox", str(tmp_path / "outbox"), "--date", "2023-06-28"]
    assert main(args) == 2
    assert "还没有任何单位的合格来件" in capsys.readouterr().err
    fill_inbox(tmp_path / "inbox", UNITS[:2])
    assert main(args) == 0
    out = capsys.readouterr().out
    written = sorted(p.name for p in (tmp_path / "outbox" / FOLDER).iterdir())
    assert len(written) == 3 and all(name in out for name in written)
    with pytest.raises(SystemExit):
        main([*args[:-2], "--date", "2023-6-31"])
    assert "不是日期" in capsys.readouterr().err


def test_a_summary_quoting_the_sentences_is_material_but_a_return_named_so_is_read(tmp_path: Path) -> None:
    """A 总结 quoting every filled sentence without 填报单位 is material; the form with 填报单位, named 总结 too, a return."""
    from returns import REPORT_DATE, read_csv
    from returns import rollup as rollup_to

    inbox = tmp_path / "inbox"
    typed = {f.id: str(i + 1) for i, f in enumerate(spec().body_fields) if f.kind == "count"}
    document = docx.Document()
    for s in spec().sections:
        document.add_paragraph(re.sub(r"（\{([a-z0-9_]+)\}）", lambda m: typed.get(m.group(1), "无"), s.sentence))
    inbox.mkdir()
    document.save(str(inbox / "U002活动总结.docx"))
    header = {"unit_name": "清河县顺达货物运输有限公司", "contact": "李明", "phone": "0311-6627527",
              "report_date": REPORT_DATE.isoformat()}
    write_word_form(inbox / "U001活动总结及统计表.docx", spec(), typed, header)
    result = rollup_to(inbox, tmp_path / "outbox")
    files = {r["file"]: r["outcome"] for r in read_csv(tmp_path / "outbox" / "files.csv")}
    assert files == {"U002活动总结.docx": "材料", "U001活动总结及统计表.docx": "采用"}
    assert summary_units(result) >= {"U002"}


@pytest.mark.program_error
def test_a_program_error_is_logged_and_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug while making the documents is logged with its traceback and reported in Chinese; no file is written."""
    from pipeline.report import upward

    def broken(*_: Any) -> bytes:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(upward, "annex_docx", broken)
    fill_inbox(tmp_path / "inbox", UNITS[:1])
    with pytest.raises(ReportError, match="程序内部错误") as caught:
        run_report(tmp_path, load_campaign(campaign_file(tmp_path / "settings")))
    assert "RuntimeError" not in str(caught.value)
    assert "simulated bug" in (tmp_path / "outbox" / "pipeline.log").read_text(encoding="utf-8")
    assert not (tmp_path / "outbox" / FOLDER).exists() or not any((tmp_path / "outbox" / FOLDER).iterdir())
