"""``python -m pipeline fields``: the CSV list of every blank, checked against the spec and a template."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from office import defined_cells

from pipeline.cli import main
from pipeline.forms.spec import FormSpec
from pipeline.settings.roster import Roster, Unit

REPO = Path(__file__).resolve().parents[1]
HEADER = "form,field_id,section,label,unit,kind,sheet,cell"


@pytest.fixture(scope="module")
def listing() -> str:
    """The command's output, run as a user would, from another folder."""
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "fields", "--campaign", str(REPO / "campaign.toml")],
        capture_output=True, text=True, check=False, timeout=120, cwd=REPO.parent,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


@pytest.fixture(scope="module")
def rows(listing: str) -> list[dict[str, str]]:
    """The listing parsed as CSV."""
    return list(csv.DictReader(io.StringIO(listing)))


def _of(rows: list[dict[str, str]], form_id: str) -> list[dict[str, str]]:
    return [r for r in rows if r["form"] == form_id]


def test_header_is_exact(listing: str) -> None:
    """The first line is exactly the documented column list."""
    assert listing.splitlines()[0] == HEADER


def test_one_row_per_field_in_form_order(rows: list[dict[str, str]], forms: dict[str, FormSpec]) -> None:
    """Each form lists every field once, in the order of the spec (which is also the tab order)."""
    assert [r["form"] for r in rows] == [spec.id for spec in forms.values() for _ in spec.fields]
    for spec in forms.values():
        listed = _of(rows, spec.id)
        assert [r["field_id"] for r in listed] == [f.id for f in spec.fields]
        assert [(r["label"], r["unit"], r["kind"]) for r in listed] == [(f.label, f.unit, f.kind) for f in spec.fields]
        assert {r["sheet"] for r in listed} == {spec.sheet}


def test_annex1_lists_four_header_fields_then_74_counts_and_one_text(rows: list[dict[str, str]]) -> None:
    """附件1 lists 填报单位/联系人/电话/填报日期, then 75 section blanks: 74 counts and 1 text."""
    listed = _of(rows, "annex1")
    header = [r for r in listed if r["section"] == "表头"]
    body = [r for r in listed if r["section"] != "表头"]
    assert [r["label"] for r in header] == ["填报单位", "联系人", "电话", "填报日期"]
    assert Counter(r["kind"] for r in body) == {"count": 74, "text": 1}


def test_annex1_sections_have_the_official_blank_counts(rows: list[dict[str, str]], forms: dict[str, FormSpec]) -> None:
    """Grouped by 活动项目 in listing order, 附件1 has 7, 13, 10, 11, 7, 9, 9 and 9 rows."""
    body = [r["section"] for r in _of(rows, "annex1") if r["section"] != "表头"]
    groups: list[tuple[str, int]] = []
    for title in body:
        if groups and groups[-1][0] == title:
            groups[-1] = (title, groups[-1][1] + 1)
        else:
            groups.append((title, 1))
    assert [n for _, n in groups] == [7, 13, 10, 11, 7, 9, 9, 9]
    assert [t for t, _ in groups] == [s.title for s in forms["annex1"].sections]


def test_annex2_lists_its_seven_fields(rows: list[dict[str, str]]) -> None:
    """附件2 lists seven blanks: 单位名称 and the liaison's details."""
    labels = [r["label"] for r in _of(rows, "annex2")]
    assert labels == ["单位名称", "姓名", "职务", "办公电话", "手机", "电子邮箱", "备注"]


def test_cells_match_the_defined_names_of_generated_templates(
    rows: list[dict[str, str]], template: Callable[[str, Unit | None], Path], roster: Roster
) -> None:
    """The sheet and cell of every row are where the defined name points, in unit and generic templates."""
    for form_id in ("annex1", "annex2"):
        listed = {r["field_id"]: (r["sheet"], r["cell"]) for r in _of(rows, form_id)}
        for unit in (roster.units[0], None):
            wb = openpyxl.load_workbook(template(form_id, unit))
            assert defined_cells(wb) == listed, (form_id, unit)
            wb.close()


def test_main_prints_the_same_listing(capsys: pytest.CaptureFixture[str], listing: str) -> None:
    """Calling the CLI in-process gives the same output as the subprocess, and exit code 0."""
    assert main(["fields", "--campaign", str(REPO / "campaign.toml")]) == 0
    captured = capsys.readouterr()
    assert captured.out == listing
    assert captured.err == ""


def test_bad_campaign_file_gives_exit_code_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A missing campaign.toml is a clean Chinese error with exit code 2, not a traceback."""
    missing = tmp_path / "campaign.toml"
    assert main(["fields", "--campaign", str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("错误：")
    assert str(missing) in captured.err
