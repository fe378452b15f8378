"""Returns as units send them back, for the ingest tests.

A return is a real template (pipeline.forms.generate.write_form) filled in with openpyxl through its
defined names, which equal the field ids. Also: clean answers, in-memory submissions for the
validation tests, and running the rollup into temporary folders and reading its CSVs back.
Kept free of pytest fixtures so that hypothesis tests can call it directly.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import openpyxl

from pipeline.checks.rollup import Rollup, build_rollup
from pipeline.forms.generate import FormContent, write_form
from pipeline.forms.layout import build_layout
from pipeline.forms.spec import FormSpec, load_forms, template_name
from pipeline.intake.settle import settle
from pipeline.job import collect, write_outputs
from pipeline.model import RawCell, Submission
from pipeline.settings.campaign import Campaign, load_campaign
from pipeline.settings.roster import Roster, Unit, load_roster
from pipeline.values.normalise import normalise_submission

REPO = Path(__file__).resolve().parents[1]
CAMPAIGN_TOML = REPO / "campaign.toml"
UNITS_CSV = REPO / "units.csv"
REPORT_DATE = dt.date(2023, 6, 28)


@functools.cache
def settings() -> tuple[dict[str, FormSpec], Campaign, Roster]:
    """The repository's form specs, campaign.toml and units.csv."""
    return load_forms(), load_campaign(CAMPAIGN_TOML), load_roster(UNITS_CSV)


def spec(form_id: str) -> FormSpec:
    """One form spec."""
    return settings()[0][form_id]


def roster_unit(code: str) -> Unit:
    """A unit of the repository's roster, by code."""
    return unit(settings()[2], code)


def unit(roster: Roster, code: str) -> Unit:
    """A unit of ``roster`` by code (failing the test when there is none)."""
    found = roster.by_code(code)
    assert found is not None, code
    return found


def address(form_id: str, field_id: str) -> str:
    """The A1 address of a field's input cell in the template."""
    return build_layout(spec(form_id), settings()[1].year).address(field_id)


def pairs(form_id: str = "annex1") -> dict[str, str]:
    """Participants field -> its sessions field, from the spec's rules."""
    return {second: first for rule in spec(form_id).rules for first, second in rule.pairs}


def count_ids(form_id: str = "annex1") -> list[str]:
    """The count fields of a form, in form order."""
    return [f.id for f in spec(form_id).fields if f.kind == "count"]


def clean_values(form_id: str, **overrides: Any) -> dict[str, Any]:
    """A complete, error- and warning-free set of answers (the unit name is prefilled, so not here)."""
    if form_id == "annex1":
        values: dict[str, Any] = {"contact": "李明", "phone": "0311-6627527", "report_date": REPORT_DATE}
        values.update(dict.fromkeys(count_ids(), 3))  # 3 sessions, 3 participants: every rule holds
    else:
        values = {"name": "王建国", "title": "安全员", "office_phone": "0311-6627001", "mobile": "13812345678",
                  "email": "wangjianguo@163.com", "note": None}
    values.update(overrides)
    return values


def template(folder: Path, form_id: str, unit_code: str | None = None, name: str | None = None) -> Path:
    """Generate a unit's template (or the generic one) into ``folder``."""
    forms, campaign, _ = settings()
    owner = roster_unit(unit_code) if unit_code else None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or template_name(forms[form_id], owner))
    return write_form(path, forms[form_id], campaign, FormContent(unit=owner))


def fill(path: Path, values: Mapping[str, Any], *, formulas: bool = False) -> Path:
    """Type ``values`` into the workbook at ``path`` by defined name, as a unit would, and save it.

    None leaves a cell blank. Text starting with “=” is stored as text unless ``formulas`` is set,
    in which case openpyxl stores it as a formula without a cached value.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(path)
    try:
        for name, value in values.items():
            (sheet, ref), = wb.defined_names[name].destinations
            cell = wb[sheet][ref.replace("$", "")]
            cell.value = value
            if isinstance(value, str) and value.startswith("=") and not formulas:
                cell.data_type = "s"
        wb.save(path)
    finally:
        wb.close()
    return path


def make_return(folder: Path, form_id: str, unit_code: str | None, values: Mapping[str, Any], *,
                name: str | None = None, received: dt.datetime | None = None, formulas: bool = False) -> Path:
    """A filled return in ``folder``; ``received`` sets its file time (when it arrived)."""
    path = fill(template(folder, form_id, unit_code, name), values, formulas=formulas)
    if received is not None:
        stamp = received.timestamp()
        os.utime(path, (stamp, stamp))
    return path


def submit(template_dir: Path, inbox: Path, form: FormSpec, campaign: Campaign, owner: Unit,
           **values: Any) -> Path:
    """The unit's template from ``template_dir``, filled with clean answers overridden by ``values``,
    saved into ``inbox`` under the template's name (used by the feedback and mail tests)."""
    del campaign  # the template already belongs to the campaign
    name = template_name(form, owner)
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / name
    path.write_bytes((template_dir / name).read_bytes())
    return fill(path, clean_values(form.id, **values))


def submission(form_id: str, values: Mapping[str, Any], unit_code: str | None = "U001", *,
               file: str | None = None) -> Submission:
    """An in-memory, normalised submission whose raw cells sit at the template's addresses."""
    form = spec(form_id)
    layout = build_layout(form, settings()[1].year)
    owner = roster_unit(unit_code) if unit_code else None
    name = file or f"{unit_code}_{form_id}.xlsx"
    sub = Submission(file=name, path=Path(name), sha256="", mtime=0.0, form_id=form_id, unit=owner,
                     sheet=form.sheet, located_by="meta")
    all_values = {"unit_name": owner.name if owner else None, **values}
    for fid, value in all_values.items():
        sub.raw[fid] = RawCell(value, layout.address(fid))
    normalise_submission(sub, form, settings()[1].year)
    return sub


def settled_rollup(subs: list[Submission], forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster) -> Rollup:
    """``build_rollup`` of in-memory submissions after settling them as the orchestrator does (pipeline.job)."""
    settle(subs, forms, campaign, roster)
    return build_rollup(subs, forms, campaign, roster)


def rollup_of(inbox: Path, forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster,
              outbox: Path | None = None) -> Rollup:
    """The rollup of ``inbox`` through the one orchestrator, its ledger in ``outbox`` (default: beside the inbox)."""
    return collect(inbox, outbox or inbox.parent / f"{inbox.name}.ledger", forms, campaign, roster, "test")


def rollup(inbox: Path, outbox: Path) -> Rollup:
    """Roll ``inbox`` up into ``outbox`` as ``python -m pipeline rollup`` does (without the freshness shortcut)."""
    forms, campaign, roster = settings()
    result = rollup_of(inbox, forms, campaign, roster, outbox)
    write_outputs(outbox, result)
    return result


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of one of the rollup's CSV files."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def statuses(outbox: Path) -> dict[tuple[str, str], dict[str, str]]:
    """status.csv keyed by (unit code, form)."""
    return {(row["unit_code"], row["form"]): row for row in read_csv(outbox / "status.csv")}


def record_values(outbox: Path, form_id: str = "annex1") -> dict[tuple[str, str], str]:
    """records.csv of one form as (unit code, field id) -> value text."""
    rows = read_csv(outbox / "records.csv")
    return {(r["unit_code"], r["field_id"]): r["value"] for r in rows if r["form"] == form_id}


def outcomes(result: Rollup) -> dict[str, str]:
    """Each file's outcome, by its path below the inbox."""
    return {sub.file: sub.outcome for sub in result.submissions}
