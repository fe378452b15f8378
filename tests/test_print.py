"""What the demo prints: the terminal lines in order with the demo's own paths, and sheets that print whole."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from office import convert, squeeze
from returns import CAMPAIGN_TOML, UNITS_CSV, read_csv
from tqdm import tqdm

from pipeline.cli import main
from pipeline.demo.build import MARKER
from pipeline.forms.spec import FormSpec
from pipeline.intake.batch import read_all
from pipeline.intake.scan import new_submission
from pipeline.model import Status
from pipeline.outputs.feedback import make_command
from pipeline.outputs.printing import plan_pages
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster

PATHS = ("--campaign", str(CAMPAIGN_TOML), "--roster", str(UNITS_CSV))
WORKBOOK = "清河县2023年安全生产月活动情况汇总.xlsx"
DETAIL_PAGES_BEFORE = 16  # 分单位明细 of the demo, printed through LibreOffice, before it was laid out in pages


@dataclass
class Demo:
    """One demo run: its folders and what it printed."""

    inbox: Path
    outbox: Path
    code: int
    out: list[str]
    err: str


def _demo(inbox: Path, outbox: Path) -> Demo:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["demo", *PATHS, "--inbox", str(inbox), "--outbox", str(outbox)])
    return Demo(inbox, outbox, code, out.getvalue().splitlines(), err.getvalue())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo, run once into fresh folders."""
    base = tmp_path_factory.mktemp("print")
    return _demo(base / "inbox", base / "outbox")


# ----------------------------------------------------------------------------- terminal


def test_progress_bar_reaches_the_number_of_files(tmp_path: Path, forms: dict[str, FormSpec], campaign: Campaign,
                                                  roster: Roster) -> None:
    """The bar over the files read ends at n/n (100%), not one short."""
    paths = []
    for i in range(5):
        path = tmp_path / f"说明{i}.txt"
        path.write_text(f"不是报表 {i}", encoding="utf-8")
        paths.append(path)
    shown = io.StringIO()
    read_all([new_submission(p, tmp_path) for p in paths], forms, campaign, roster,
             progress=lambda files: tqdm(files, file=shown, ascii=True))
    last = re.split(r"[\r\n]", shown.getvalue().strip())[-1]
    assert "100%" in last and f"{len(paths)}/{len(paths)}" in last, last


def test_make_hints_name_folders_other_than_the_makefiles() -> None:
    """The mail hint is plain `make remind` for the Makefile's folders and names any other folder."""
    assert make_command("remind", Path("inbox"), Path("outbox")) == "make remind"
    assert make_command("remind", Path("demo/inbox"), Path("demo/outbox")) == \
        "make remind INBOX=demo/inbox OUTBOX=demo/outbox"
    assert make_command("feedback", None, Path("my out")) == 'make feedback "OUTBOX=my out"'


@pytest.mark.slow
def test_demo_prints_in_order_and_names_its_own_folders(demo: Demo) -> None:
    """The 已生成 line comes first, the answer key last, and the mail hint names the demo's folders."""
    assert demo.code == 0, demo.err
    assert demo.out[0].startswith(f"已在 {demo.inbox} 生成演示来件")
    assert demo.out[-1].startswith("演示的标准答案")
    hint = next(line for line in demo.out if line.startswith("审核反馈表已生成"))
    assert f"make remind INBOX={demo.inbox.as_posix()} OUTBOX={demo.outbox.as_posix()}" in hint
    assert f"make feedback INBOX={demo.inbox.as_posix()} OUTBOX={demo.outbox.as_posix()}" in hint


@pytest.mark.slow
def test_demo_runs_again_over_drafts_written_into_its_outbox(tmp_path: Path) -> None:
    """Mail drafts and a half-written file left in the demo's folders do not stop the next demo; it clears them."""
    first = _demo(tmp_path / "inbox", tmp_path / "outbox")
    assert first.code == 0, first.err
    draft = first.outbox / "mail" / "reminders" / "U001_清河县顺达货物运输有限公司.eml"
    draft.parent.mkdir(parents=True)
    draft.write_bytes(b"X-Unsent: 1\r\n\r\n")
    stale = first.inbox / "2023-06-28" / ".附件1.abc123.xlsx.tmp"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"half")

    again = _demo(first.inbox, first.outbox)

    assert (again.code, again.err) == (0, "")
    assert again.out == first.out
    assert not draft.exists() and not stale.exists()
    assert (first.outbox / MARKER).is_file()


# ----------------------------------------------------------------------------- sheets


@pytest.mark.slow
def test_status_note_gives_the_first_reasons_of_every_returned_and_warned_row(demo: Demo) -> None:
    """status.csv's note names the first problem of each 退回 and 有警告 row, with its cell, and is empty for 已通过."""
    rows = read_csv(demo.outbox / "status.csv")
    issues = read_csv(demo.outbox / "issues.csv")
    flagged = [r for r in rows if r["status"] in (Status.RETURNED, Status.WARNED) and r["file"]]
    assert flagged
    for row in flagged:
        mine = [i for i in issues if i["unit_code"] == row["unit_code"] and i["form"] == row["form"]]
        assert row["note"].startswith(("【错误】", "【警告】", "最新来件")), row
        if any(i["cell"] for i in mine):
            assert any(i["cell"] and i["cell"] in row["note"] for i in mine), row
        else:  # a Word or PDF return has no cells: the note names the problem instead
            assert any(i["rule"] in row["note"] for i in mine), row
    assert all(r["note"] == "" for r in rows if r["status"] == Status.PASSED)


@pytest.mark.slow
def test_sheets_print_at_nine_points_or_more(demo: Demo) -> None:
    """分单位明细 and 报送情况 print on A4 landscape at a fixed scale that keeps 10 pt text at 9 pt or more."""
    wb = openpyxl.load_workbook(demo.outbox / WORKBOOK)
    try:
        for name in ("分单位明细", "报送情况"):
            ws = wb[name]
            assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9, name
            assert not ws.sheet_properties.pageSetUpPr or not ws.sheet_properties.pageSetUpPr.fitToPage, name
            assert 10 * ws.page_setup.scale / 100 >= 9, name
        detail = wb["分单位明细"]
        assert detail.print_title_rows == "$1:$3" and detail.print_title_cols == "$A:$B"
    finally:
        wb.close()


def test_page_plan_keeps_sections_together_when_it_can() -> None:
    """Pages never overflow, and a section that fits the next page is not started at the foot of this one."""
    widths = [10.0] * 12
    pages = plan_pages(widths, repeated=20, room=80, groups=[0, 4, 9])
    assert all(sum(widths[a:b + 1]) <= 60 for a, b in pages)
    assert [a for a, _ in pages] == [0, 4, 9]
    assert plan_pages([100.0, 10.0], repeated=0, room=50) == [(0, 0), (1, 1)]  # too wide: a page of its own


@pytest.mark.soffice
@pytest.mark.slow
def test_detail_sheet_prints_in_few_pages_with_every_unit_named(demo: Demo, soffice: str, office_profile: Path,
                                                                 roster: Roster, tmp_path: Path) -> None:
    """Through LibreOffice, 分单位明细 takes at most half its old 16 pages, each naming every unit of the roster."""
    pdf = convert(soffice, [demo.outbox / WORKBOOK], tmp_path, "pdf", office_profile)[0]
    pages = int(re.search(r"^Pages:\s+(\d+)$", _run("pdfinfo", str(pdf)), re.MULTILINE).group(1))  # type: ignore[union-attr]
    detail = []
    for page in range(1, pages + 1):
        text = squeeze(_run("pdftotext", "-f", str(page), "-l", str(page), "-enc", "UTF-8", str(pdf), "-"))
        if "分单位明细第" in text:  # the sheet's footer: 分单位明细　第 n 页，共 N 页
            detail.append(text)
    assert 0 < len(detail) <= DETAIL_PAGES_BEFORE // 2
    for number, text in enumerate(detail, start=1):
        missing = [u.name for u in roster if squeeze(u.name) not in text]
        assert not missing, f"page {number} of 分单位明细 lacks {missing}"
        assert "单位编码" in text and "单位名称" in text


def _run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout


def test_feedback_form_keeps_the_template_page_break_with_its_notice_on_a_sheet_before_it(
        tmp_path: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster) -> None:
    """A feedback 附件1 opens on 审核意见 and its form sheet breaks where the template's does, at a section."""
    from pipeline.forms.generate import FormContent, write_form
    from pipeline.forms.spec import NOTICE_SHEET

    notice = ("贵单位报送的表经审核存在以下问题：", *(f"{i}.【错误】单元格 D{i + 10}：所填内容有误，请更正。" for i in range(1, 12)))
    path = write_form(tmp_path / "反馈.xlsx", forms["annex1"], campaign, FormContent(unit=roster.units[0], notice=notice))
    blank = write_form(tmp_path / "模板.xlsx", forms["annex1"], campaign, FormContent(unit=roster.units[0]))
    wb, template = openpyxl.load_workbook(path), openpyxl.load_workbook(blank)
    try:
        assert wb.sheetnames[0] == NOTICE_SHEET
        ws = wb[forms["annex1"].sheet]
        breaks = [b.id for b in ws.row_breaks.brk]
        assert breaks == [b.id for b in template[forms["annex1"].sheet].row_breaks.brk] and len(breaks) == 1
        first_row = ws.cell(row=breaks[0] + 1, column=1).value  # the first row of page 2 (openpyxl is 1-based)
        assert isinstance(first_row, str) and re.match(r"^[一二三四五六七八九十]、", first_row), first_row
        assert ws.page_setup.scale and int(ws.page_setup.scale) <= 100
        assert NOTICE_SHEET in (ws.oddHeader.left.text or "")
        lines = [c.value for c in wb[NOTICE_SHEET]["A"][1:len(notice) + 1]]
        assert lines == list(notice)
        assert all(c.alignment.vertical == "top" for c in wb[NOTICE_SHEET]["A"][1:len(notice) + 1])
    finally:
        wb.close()
        template.close()
