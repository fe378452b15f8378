"""The campaign's words in the form: {theme}, {year} and {edition} in a 进展情况 sentence follow campaign.toml."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import openpyxl
from returns import settings

from pipeline.checks.rollup import build_rollup
from pipeline.documents.sentences import match_form
from pipeline.forms.spec import CAMPAIGN_WORDS
from pipeline.outputs.report import write_workbook


def _theme_section_index() -> int:
    forms, _, _ = settings()
    return next(i for i, s in enumerate(forms["annex1"].sections) if "{theme}" in s.sentence)


def test_the_summary_sheet_says_this_campaigns_theme(tmp_path: Path) -> None:
    """With another theme in the campaign, the 汇总表 sentence names it and not the 2023 one."""
    forms, campaign, roster = settings()
    index = _theme_section_index()
    other = dataclasses.replace(campaign, theme="生命至上安全第一", year=campaign.year + 1)
    for camp in (campaign, other):
        path = tmp_path / f"{camp.year}.xlsx"
        write_workbook(path, build_rollup([], forms, camp, roster))
        wb = openpyxl.load_workbook(path)
        try:
            text = str(wb["汇总表"].cell(row=5 + index, column=3).value).replace("\n", "")
        finally:
            wb.close()
        assert f"“{camp.theme}”" in text, text
        assert not any("{" + word + "}" in text for word in CAMPAIGN_WORDS), text
    assert campaign.theme not in other.theme


def test_a_word_return_of_any_years_theme_is_read() -> None:
    """A sentence typed in a Word form with this year's theme, or another year's, gives the same numbers."""
    forms, campaign, _ = settings()
    spec = forms["annex1"]
    section = spec.sections[_theme_section_index()]
    values = {f.id: str(10 + i) for i, f in enumerate(section.fields)}
    found = []
    for theme in (campaign.theme, "安全生产人人有责"):
        worded = spec.for_campaign(campaign.year, theme, campaign.edition).sections[_theme_section_index()]
        text = worded.sentence
        for fid, value in values.items():
            text = text.replace("{" + fid + "}", value)
        assert theme in text
        match = match_form([spec.annex, spec.title, "", text], spec)
        found.append({fid: match.values.get(fid) for fid in values})
    assert found[0] == found[1] == values
