"""Printed pages, measured on the PDF LibreOffice renders: page counts of 分单位明细, font sizes, 汇总表 rows."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pdfplumber
import pytest
from feedback_kit import good_values
from office import convert, fill, squeeze
from returns import CAMPAIGN_TOML, UNITS_CSV

from pipeline.cli import main
from pipeline.forms.generate import generate_templates
from pipeline.forms.spec import FormSpec, load_forms, template_name
from pipeline.outputs.printing import NO_LINE_END, NO_LINE_START
from pipeline.settings.campaign import Campaign, load_campaign
from pipeline.settings.roster import load_roster

WORKBOOK = "清河县2023年安全生产月活动情况汇总.xlsx"
DEMO_DETAIL_PAGES = 6  # the demo's 20 units
FEW_UNITS = 5
FEW_DETAIL_PAGES = 4
MIN_PT = 9.0
SECOND_CJK_FONT = "WenQuanYi Zen Hei"  # Debian fonts-wqy-zenhei: wraps CJK differently from Noto Sans CJK


def _quiet(*args: str) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(list(args))


@pytest.fixture(scope="module")
def demo_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's rollup workbook (20 units)."""
    base = tmp_path_factory.mktemp("pages-demo")
    assert _quiet("demo", "--campaign", str(CAMPAIGN_TOML), "--roster", str(UNITS_CSV), "--inbox",
                  str(base / "inbox"), "--outbox", str(base / "outbox")) == 0
    return base / "outbox" / WORKBOOK


@pytest.fixture(scope="module")
def few_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rollup workbook of a campaign of five units, four of which sent both forms (one of them a bad count)."""
    base = tmp_path_factory.mktemp("pages-few")
    lines = UNITS_CSV.read_text(encoding="utf-8").splitlines()[: FEW_UNITS + 1]
    roster_file = base / "units.csv"
    roster_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    forms, campaign, roster = load_forms(), load_campaign(CAMPAIGN_TOML), load_roster(roster_file)
    generate_templates(forms, campaign, roster, base / "templates")
    (base / "inbox").mkdir()
    for index, unit in enumerate(list(roster)[:-1]):
        for spec in forms.values():
            bad = {"s1_film_sessions": "二十多"} if index == 2 and spec.id == "annex1" else {}
            values = good_values(spec, campaign) | bad
            fill(base / "templates" / template_name(spec, unit), base / "inbox" / f"{unit.code}_{spec.annex}.xlsx",
                 values)
    assert _quiet("rollup", "--campaign", str(CAMPAIGN_TOML), "--roster", str(roster_file), "--inbox",
                  str(base / "inbox"), "--outbox", str(base / "outbox")) == 0
    return base / "outbox" / WORKBOOK


def _sheet_pages(document: pdfplumber.PDF) -> dict[str, list[pdfplumber.page.Page]]:
    """The PDF's pages by the sheet each footer names (“分单位明细　第 2 页”); the 汇总表's footer names none."""
    pages: dict[str, list[pdfplumber.page.Page]] = {}
    for page in document.pages:
        footers = [re.fullmatch(r"(\S*?)第\d+页，共\d+页", squeeze(line))
                   for line in (page.extract_text() or "").splitlines()]
        match = next((m for m in footers if m), None)
        name = match.group(1) if match and match.group(1) else "汇总表"
        pages.setdefault(name, []).append(page)
    return pages


@pytest.mark.soffice
@pytest.mark.slow
@pytest.mark.parametrize(("which", "most"), [("demo", DEMO_DETAIL_PAGES), ("few", FEW_DETAIL_PAGES)])
def test_detail_prints_in_few_pages_with_a_title_and_nothing_below_nine_points(
        which: str, most: int, demo_book: Path, few_book: Path, soffice: str, office_profile: Path,
        tmp_path: Path) -> None:
    """分单位明细 takes at most 6 pages for the demo's 20 units and 4 for 5 units, each under its title; no table
    sheet prints a character below 9 pt."""
    book = demo_book if which == "demo" else few_book
    pdf = convert(soffice, [book], tmp_path, "pdf", office_profile)[0]
    with pdfplumber.open(pdf) as document:
        _measure_detail(_sheet_pages(document), most)


def _measure_detail(pages: dict[str, list[pdfplumber.page.Page]], most: int) -> None:
    detail = pages["分单位明细"]
    assert 0 < len(detail) <= most, len(detail)
    for page in detail:
        assert "分单位明细" in squeeze(page.extract_text() or "").split("第")[0]  # the title, in the page header
    measured = {}
    for name, sheet_pages in pages.items():
        if name == "汇总表":
            continue  # the official form keeps its one-page width (see the README on fonts)
        measured[name] = min(char["size"] for page in sheet_pages for char in page.chars)
    assert {"分单位明细", "报送情况", "校验问题", "材料清单", "联络员表"} <= set(measured)
    assert all(size >= MIN_PT - 0.05 for size in measured.values()), measured


def test_detail_headers_never_break_a_bracket_off(demo_book: Path) -> None:
    """No header line of 分单位明细 starts with a closing mark or ends with an opening one, and units have a row."""
    wb = openpyxl.load_workbook(demo_book)
    try:
        ws = wb["分单位明细"]
        heads = [str(c.value) for row in ws.iter_rows(min_row=1, max_row=3) for c in row if c.value]
    finally:
        wb.close()
    lines = [line for head in heads for line in head.split("\n")]
    assert lines
    assert not [line for line in lines if line[0] in NO_LINE_START or line[-1] in NO_LINE_END]
    assert "人次" in heads and "场" in heads  # the units row


def _fontconfig_with(tmp_path: Path, family: str) -> Path:
    """A fontconfig file offering ``family``'s folder and DejaVu only, so that LibreOffice must use that CJK font."""
    listing = subprocess.run(["fc-list", f":family={family}", "file"], capture_output=True, text=True,
                             check=False).stdout
    files = [line.split(":")[0] for line in listing.splitlines() if line.strip()]
    if not files:
        why = f"the CJK font “{family}” is not installed (Debian package fonts-wqy-zenhei)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, so this test must run, but {why}", pytrace=False)
        pytest.skip(why)
    folders = sorted({str(Path(f).parent) for f in files} | {"/usr/share/fonts/truetype/dejavu"})
    conf = tmp_path / "fonts.conf"
    conf.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
                    + "".join(f"  <dir>{d}</dir>\n" for d in folders)
                    + '  <include ignore_missing="yes">/etc/fonts/conf.d</include>\n'  # the usual aliases
                    + f"  <cachedir>{tmp_path / 'fc-cache'}</cachedir>\n</fontconfig>\n", encoding="utf-8")
    return conf


def _sentences(forms: dict[str, FormSpec], campaign: Campaign, book: Path) -> list[str]:
    wb = openpyxl.load_workbook(book, read_only=True)
    try:
        rows = list(wb["汇总表"].iter_rows(min_row=5, max_row=4 + len(forms["annex1"].sections), values_only=True))
    finally:
        wb.close()
    return [squeeze(str(row[2])) for row in rows]


@pytest.mark.soffice
@pytest.mark.slow
@pytest.mark.parametrize(("font", "embedded"), [("Noto Sans CJK SC", "NotoSansCJK"),
                                               (SECOND_CJK_FONT, "WenQuanYiZenHei")])
def test_summary_rows_keep_every_sentence_whole_with_a_line_to_spare(
        font: str, embedded: str, demo_book: Path, soffice: str, tmp_path: Path, forms: dict[str, FormSpec],
        campaign: Campaign, monkeypatch: pytest.MonkeyPatch) -> None:
    """With either CJK font, every 汇总表 sentence prints whole (its last “。” included) and its row keeps at
    least most of a line free below its last line."""
    monkeypatch.setenv("FONTCONFIG_FILE", str(_fontconfig_with(tmp_path, font)))
    profile = tmp_path / "profile"
    pdf = convert(soffice, [demo_book], tmp_path / "pdf", "pdf", profile)[0]
    assert embedded in subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                                                   check=True).stdout
    sentences = _sentences(forms, campaign, demo_book)
    with pdfplumber.open(pdf) as document:
        checked = _check_sentences(_sheet_pages(document)["汇总表"], sentences, font)
    assert checked == len(sentences), f"{len(sentences) - checked} sentences not printed whole with {font}"


def _reading_order(chars: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Characters line by line (a line: tops within 2 pt of its first character's), left to right."""
    lines: list[list[dict[str, Any]]] = []
    for char in sorted(chars, key=lambda c: c["top"]):
        if lines and char["top"] - lines[-1][0]["top"] < 2:
            lines[-1].append(char)
        else:
            lines.append([char])
    return [c for line in lines for c in sorted(line, key=lambda c: c["x0"])]


def _check_sentences(pages: list[pdfplumber.page.Page], sentences: list[str], font: str) -> int:
    """How many sentences print whole with most of a line free below their last line."""
    checked = 0
    for page in pages:
        starts = [w["x0"] for w in page.extract_words() for sentence in sentences
                  if len(squeeze(w["text"])) > 4 and sentence.startswith(squeeze(w["text"]))]
        if not starts:
            continue
        left = min(starts) - 1  # column C: where the sentences begin
        chars = _reading_order([c for c in page.chars if c["x0"] >= left and c["text"].strip()])
        text = "".join(c["text"] for c in chars)
        owner = [c for c in chars for _ in c["text"]]  # a glyph may stand for two characters (“——”)
        borders = sorted(line["top"] for line in page.lines if abs(line["top"] - line["bottom"]) < 0.5
                         and line["x1"] > left + 20)
        for sentence in sentences:
            at = text.find(sentence)
            if at < 0:
                continue
            last = owner[at + len(sentence) - 1]
            below = min(b for b in borders if b > last["bottom"] - 0.5)
            assert below - last["bottom"] >= 0.6 * (last["bottom"] - last["top"]), (font, sentence[-12:])
            checked += 1
    return checked


def test_ci_installs_the_second_cjk_font() -> None:
    """The CI script installs the second CJK font the row-height test renders with."""
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert "fonts-wqy-zenhei" in ci and shutil.which("bash") is not None


def test_summary_sentences_are_broken_by_the_program_never_inside_a_number(demo_book: Path) -> None:
    """Each 汇总表 sentence is written in lines the program chose: none starts with a closing mark, and no total
    is split from its brackets."""
    wb = openpyxl.load_workbook(demo_book, read_only=True)
    try:
        cells = [str(r[2]) for r in wb["汇总表"].iter_rows(min_row=5, max_row=12, values_only=True)]
    finally:
        wb.close()
    lines = [line for cell in cells for line in cell.split("\n")]
    assert len(lines) > len(cells)
    assert not [line for line in lines if line[0] in NO_LINE_START or line[-1] in NO_LINE_END]
    assert not [line for line in lines if re.search(r"（\d*$|^\d+）", line)]
