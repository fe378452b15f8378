"""The generated templates, read back as workbooks: inputs, locking, _meta, validation, bytes."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from office import (
    defined_cells,
    fill,
    is_true,
    meta_rows,
    named_values,
    sample_values,
    sheet_protection,
    sheet_states,
    unlocked_cells,
    unlocked_defaults,
    validations_by_cell,
)
from openpyxl.utils.datetime import from_excel

from pipeline.forms.generate import generate_templates
from pipeline.forms.spec import FormSpec, template_name
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster, Unit

REPO = Path(__file__).resolve().parents[1]
FORM_IDS = ("annex1", "annex2")
CJK = re.compile(r"[\u4e00-\u9fff]")
Template = Callable[[str, Unit | None], Path]


# Each form as a unit's own template (unit name prefilled) and as the generic blank one.
VARIANTS = [(form_id, per_unit) for form_id in FORM_IDS for per_unit in (True, False)]
VARIANT_IDS = [f"{form_id}-{'unit' if per_unit else 'generic'}" for form_id, per_unit in VARIANTS]


def _unit(roster: Roster, per_unit: bool) -> Unit | None:
    return roster.units[0] if per_unit else None


@pytest.mark.parametrize(("form_id", "per_unit"), VARIANTS, ids=VARIANT_IDS)
def test_round_trip_by_defined_names(
    tmp_path: Path, template: Template, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
    form_id: str, per_unit: bool,
) -> None:
    """Filling every input through its defined name and saving gives back identical, correctly typed values."""
    spec, unit = forms[form_id], _unit(roster, per_unit)
    values = sample_values(spec, campaign, unit)
    counts = [f.id for f in spec.fields if f.kind == "count"]
    if counts:  # the edges of the allowed range survive too
        values[counts[0]], values[counts[-1]] = 0, 1_000_000
    filled = tmp_path / "filled.xlsx"
    fill(template(form_id, unit), filled, values)

    back = named_values(filled)
    assert set(back) == {f.id for f in spec.fields}
    for f in spec.fields:
        got = back[f.id]
        if f.kind == "unit" and unit is not None:
            assert got == unit.name
        elif f.kind == "count":
            assert type(got) is int, (f.id, got)
            assert got == values[f.id]
        elif f.kind == "date":
            assert got == dt.datetime.combine(values[f.id], dt.time()), (f.id, got)
        else:
            assert type(got) is str, (f.id, got)
            assert got == values[f.id]


def test_every_defined_name_is_a_field_on_the_form_sheet(template: Template, forms: dict[str, FormSpec]) -> None:
    """The defined names are exactly the field ids, each pointing at one cell of the form's sheet."""
    for spec in forms.values():
        wb = openpyxl.load_workbook(template(spec.id, None))
        cells = defined_cells(wb)
        assert set(cells) == {f.id for f in spec.fields}
        assert {sheet for sheet, _ in cells.values()} == {spec.sheet}
        assert len(set(cells.values())) == len(cells)
        wb.close()


@pytest.mark.parametrize(("form_id", "per_unit"), VARIANTS, ids=VARIANT_IDS)
def test_exactly_the_input_cells_are_unlocked(
    template: Template, forms: dict[str, FormSpec], roster: Roster, form_id: str, per_unit: bool
) -> None:
    """The unlocked cells are the defined-name targets; a unit's own template keeps its prefilled name locked."""
    spec, unit = forms[form_id], _unit(roster, per_unit)
    wb = openpyxl.load_workbook(template(form_id, unit))
    cells = defined_cells(wb)
    ws = wb[spec.sheet]
    unit_cell = {cells[f.id][1] for f in spec.fields if f.kind == "unit"}
    assert len(unit_cell) == 1
    expected = {coord for _, coord in cells.values()}
    if unit is not None:
        expected -= unit_cell
    assert unlocked_cells(ws) == expected
    assert unlocked_defaults(ws) == []
    assert unlocked_cells(wb["_meta"]) == set()
    wb.close()


def test_unit_template_is_prefilled_with_the_unit_name(
    template: Template, forms: dict[str, FormSpec], roster: Roster
) -> None:
    """Each unit's templates show its roster name in the unit field; the generic ones leave it blank."""
    for spec in forms.values():
        (unit_field,) = (f for f in spec.fields if f.kind == "unit")
        for unit in (roster.units[0], roster.units[-1], None):
            values = named_values(template(spec.id, unit))
            assert values[unit_field.id] == (unit.name if unit else None)
            assert all(v is None for k, v in values.items() if k != unit_field.id)


def test_one_template_per_unit_and_form_plus_two_generic(
    template_dir: Path, forms: dict[str, FormSpec], roster: Roster
) -> None:
    """The generator writes 2 × units + 2 files, each named with annex, unit code and unit name."""
    names = sorted(p.name for p in template_dir.iterdir())
    assert len(names) == 2 * len(roster) + 2
    for spec in forms.values():
        for unit in roster:
            matches = [n for n in names if n.startswith(spec.annex) and f"_{unit.code}_{unit.name}." in n]
            assert len(matches) == 1, (spec.id, unit.code)
        assert sum(n.startswith(spec.annex) and "通用空白" in n for n in names) == 1


def test_every_sheet_is_protected(template_dir: Path) -> None:
    """Every sheet of every template carries sheet protection with a password."""
    for path in template_dir.iterdir():
        protection = sheet_protection(path)
        assert len(protection) == 2, path.name
        for sheet, attributes in protection.items():
            assert attributes is not None, (path.name, sheet)
            assert is_true(attributes.get("sheet")), (path.name, sheet)
            assert attributes.get("password"), (path.name, sheet)


def test_meta_sheet_is_very_hidden_and_identifies_the_template(
    template: Template, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster
) -> None:
    """_meta is veryHidden and records form, spec version, campaign, unit and the generation date."""
    for spec in forms.values():
        for unit in [*roster, None]:
            path = template(spec.id, unit)
            assert sheet_states(path) == {spec.sheet: "visible", "_meta": "veryHidden"}, path.name
            meta = meta_rows(path)
            assert meta["form_id"] == spec.id
            assert meta["form_version"] == spec.version
            assert meta["campaign_id"] == campaign.id
            assert meta["unit_code"] == (unit.code if unit else "")
            assert meta["unit_name"] == (unit.name if unit else "")
            assert meta["generated_at"] == "2023-05-31"  # conftest.EPOCH


def test_same_inputs_give_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster
) -> None:
    """Two generations with the same SOURCE_DATE_EPOCH are byte-identical; another date changes them."""
    roster = Roster(roster.units[:2], roster.path)  # unit and generic templates of both forms, quickly
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1685577600")  # 2023-06-01
    first = generate_templates(forms, campaign, roster, tmp_path / "first")
    second = generate_templates(forms, campaign, roster, tmp_path / "second")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1688169600")  # 2023-07-01
    later = generate_templates(forms, campaign, roster, tmp_path / "later")
    assert later[0].read_bytes() != first[0].read_bytes()
    assert meta_rows(later[0])["generated_at"] == "2023-07-01"


@pytest.mark.parametrize(("form_id", "per_unit"), VARIANTS, ids=VARIANT_IDS)
def test_inputs_carry_form_level_validation(
    template: Template, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
    form_id: str, per_unit: bool,
) -> None:
    """Counts allow whole numbers 0..1000000, the date a date, texts a maximum length; all prompt in Chinese."""
    spec, unit = forms[form_id], _unit(roster, per_unit)
    wb = openpyxl.load_workbook(template(form_id, unit))
    cells = defined_cells(wb)
    by_cell = validations_by_cell(wb[spec.sheet])
    low, high = campaign.date_window
    examples = {"phone": "0311-6627527", "mobile": "13812345678", "email": campaign.contact_email}
    for f in spec.fields:
        coord = cells[f.id][1]
        if f.kind == "unit" and unit is not None:
            assert coord not in by_cell, "the locked, prefilled unit name needs no validation"
            continue
        (dv,) = by_cell.get(coord, [None])
        assert dv is not None, f"{f.id} ({coord}) has no data validation"
        assert dv.showInputMessage and dv.showErrorMessage, f.id
        assert dv.errorStyle in (None, "stop"), f.id
        assert CJK.search(dv.prompt or ""), (f.id, dv.prompt)
        assert CJK.search(dv.error or ""), (f.id, dv.error)
        if f.kind == "count":
            assert (dv.type, dv.operator or "between") == ("whole", "between"), f.id
            assert (dv.formula1, dv.formula2) == ("0", "1000000"), f.id
        elif f.kind == "date":
            assert (dv.type, dv.operator or "between") == ("date", "between"), f.id
            first, last = (from_excel(float(v)).date() for v in (dv.formula1, dv.formula2))
            assert (first, last) == (low, high)
            assert first <= campaign.start <= campaign.end <= last
        else:
            assert (dv.type, dv.operator) == ("textLength", "lessThanOrEqual"), f.id
            assert int(dv.formula1) >= len(examples.get(f.kind, "")), f.id
    inputs = {coord for _, coord in cells.values()}
    assert set(by_cell) <= inputs, "validation on a cell that is not an input"
    wb.close()


def test_phone_and_mobile_cells_are_text_formatted(template: Template, forms: dict[str, FormSpec]) -> None:
    """Phone, mobile and e-mail cells use the text format, so a leading 0 or an 11-digit mobile survives typing."""
    for spec in forms.values():
        wb = openpyxl.load_workbook(template(spec.id, None))
        cells = defined_cells(wb)
        for f in spec.fields:
            if f.kind in ("phone", "mobile", "email"):
                sheet, coord = cells[f.id]
                assert wb[sheet][coord].number_format == "@", f.id
        wb.close()


def test_templates_command_writes_every_file_and_reports(
    tmp_path: Path, roster: Roster, forms: dict[str, FormSpec]
) -> None:
    """``python -m pipeline templates`` exits 0, writes 2 × units + 2 files and prints the Chinese summary."""
    out = tmp_path / "模板"
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "templates", "--campaign", str(REPO / "campaign.toml"),
         "--roster", str(REPO / "units.csv"), "--templates", str(out)],
        capture_output=True, text=True, cwd=tmp_path, check=False, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},  # this checkout's package, not an installed one
    )
    assert proc.returncode == 0, proc.stderr
    total = 2 * len(roster) + 2
    assert total == 42
    assert proc.stdout.splitlines() == [
        f"已生成 {total} 个模板文件（{len(roster)} 个单位 × 2 张表 + 2 个通用空白模板），保存在 {out}/",
        f"单位名录 {REPO / 'units.csv'}：{len(roster)} 个单位，编码 UTF-8。",
    ]
    written = sorted(p.name for p in out.iterdir())
    expected = sorted(template_name(spec, u) for spec in forms.values() for u in [*roster, None])
    assert written == expected  # and no stray temporary files


def test_templates_command_reports_roster_errors_cleanly(tmp_path: Path) -> None:
    """A bad roster stops the command with exit code 2, a Chinese message naming the row, and no files."""
    roster = tmp_path / "units.csv"
    roster.write_text("单位编码,单位名称,类别,邮箱\nU001,甲单位,运输企业,\nU001,乙单位,运输企业,\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "templates", "--campaign", str(REPO / "campaign.toml"),
         "--roster", str(roster), "--templates", str(out)],
        capture_output=True, text=True, cwd=tmp_path, check=False, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("错误：")
    assert "第3行" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_templates_command_starts_without_pandas(tmp_path: Path) -> None:
    """``make templates`` never imports pandas or pandera: reading the roster and writing forms need neither."""
    repo = Path(__file__).resolve().parents[1]
    script = (
        "import sys\n"
        "from pipeline.cli import main\n"
        f"code = main(['templates', '--campaign', {str(repo / 'campaign.toml')!r}, '--roster', "
        f"{str(repo / 'units.csv')!r}, '--templates', {str(tmp_path / 'templates')!r}])\n"
        "print(code, sorted(m for m in ('pandas', 'pandera') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False,
                          cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "0 []"
    assert len(list((tmp_path / "templates").glob("*.xlsx"))) > 2
