"""A made-up third form, with its own field ids and roles, goes through templates → fill → rollup unchanged code."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import openpyxl
import pytest
from returns import CAMPAIGN_TOML, UNITS_CSV, fill, read_csv

from pipeline.cli import main
from pipeline.errors import SpecError
from pipeline.forms.spec import FORMS_DIR, load_forms, template_name
from pipeline.settings.roster import load_roster

ANNEX3 = """
[form]
id = "annex3"
annex = "附件3"
title = "{year}年应急演练登记表"
sheet = "附件3"
deadline = "annex3_due"
rollup_sheet = "应急演练登记"

[form.roles]
unit = "org"

[[header]]
id = "org"
label = "单位"
kind = "unit"
required = true

[[sections]]
id = "drills"
title = "应急演练"
requirement = ""
sentence = ""

[[sections.fields]]
id = "drill_times"
label = "演练次数"
unit = "次"
kind = "count"
required = true

[[sections.fields]]
id = "drill_people"
label = "参演人数"
unit = "人"
kind = "count"

[[sections.fields]]
id = "drill_lead"
label = "演练负责人"
kind = "person"
"""


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """A settings folder with the two real forms plus annex3, and a campaign with annex3's deadline."""
    forms = tmp_path / "forms"
    shutil.copytree(FORMS_DIR, forms, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (forms / "annex3.toml").write_text(ANNEX3, encoding="utf-8")
    campaign = CAMPAIGN_TOML.read_text(encoding="utf-8").replace("[deadlines]\n", "[deadlines]\nannex3_due = 2023-06-20\n")
    (tmp_path / "campaign.toml").write_text(campaign, encoding="utf-8")
    return tmp_path


def _args(world: Path, *rest: str) -> list[str]:
    return [*rest, "--forms", str(world / "forms"), "--campaign", str(world / "campaign.toml"), "--roster", str(UNITS_CSV)]


def test_third_form_goes_from_template_to_rollup(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Templates, filled returns and the rollup of annex3 work from the spec alone, with its own field ids."""
    templates, inbox, outbox = world / "templates", world / "inbox", world / "outbox"
    assert main(_args(world, "templates", "--templates", str(templates))) == 0
    spec = load_forms(world / "forms")["annex3"]
    roster = load_roster(UNITS_CSV)
    typed = {"U001": (4, 120, "张强"), "U002": (2, 35, "李华")}
    inbox.mkdir()
    for code, (times, people, lead) in typed.items():
        unit = roster.by_code(code)
        assert unit is not None
        name = template_name(spec, unit)
        shutil.copy(templates / name, inbox / name)
        fill(inbox / name, {"drill_times": times, "drill_people": people, "drill_lead": lead})
    capsys.readouterr()
    assert main(_args(world, "rollup", "--inbox", str(inbox), "--outbox", str(outbox))) == 0
    out = capsys.readouterr().out
    assert f"附件3：应报 {len(roster)} 个单位，已通过 2，" in out
    records = {(r["unit_code"], r["field_id"]): r["value"] for r in read_csv(outbox / "records.csv") if r["form"] == "annex3"}
    for code, (times, people, lead) in typed.items():
        assert records[(code, "drill_times")] == str(times)
        assert records[(code, "drill_people")] == str(people)
        assert records[(code, "drill_lead")] == lead
    workbook = next(outbox.glob("*.xlsx"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(workbook, read_only=True)
    try:
        rows = list(wb["应急演练登记"].iter_rows(min_row=2, values_only=True))
    finally:
        wb.close()
    assert rows[0][:5] == ("序号", "单位名称", "演练次数", "参演人数", "演练负责人")
    unit_one = roster.by_code("U001")
    assert unit_one is not None
    assert next(r for r in rows[1:] if r[1] == unit_one.name)[2:5] == (4, 120, "张强")


def test_a_bad_rule_placeholder_is_named_when_the_spec_loads(world: Path) -> None:
    """A typo in a rule message's placeholder stops loading with the file and the rule named, not a KeyError later."""
    path = world / "forms" / "annex1.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("{second_label}", "{secnd_label}", 1), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_forms(world / "forms")
    assert str(path) in str(caught.value) and "rules[0].message" in str(caught.value)
    assert "secnd_label" in str(caught.value)


def test_a_role_naming_a_missing_field_is_refused(world: Path) -> None:
    """roles.unit must name a field of kind unit in the same form."""
    path = world / "forms" / "annex3.toml"
    path.write_text(ANNEX3.replace('unit = "org"', 'unit = "organisation"'), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_forms(world / "forms")
    assert "form.roles.unit" in str(caught.value) and "organisation" in str(caught.value)
