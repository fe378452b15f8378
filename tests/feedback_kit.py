"""Test helpers for the feedback and mail tests: units' filled-in forms dropped into an inbox."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from office import fill

from pipeline.forms.spec import FormSpec, template_name
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster, Unit


def good_values(spec: FormSpec, campaign: Campaign) -> dict[str, Any]:
    """Answers that pass every check, for a unit's own template (its name is prefilled)."""
    by_kind: dict[str, Any] = {
        "person": "欧阳明远",
        "phone": "0311-6627527",
        "mobile": "13812345678",
        "email": "liaison@example.com",
        "date": dt.date(campaign.year, 6, 28),
        "count": 3,
        "text": "无",
    }
    return {f.id: by_kind[f.kind] for f in spec.fields if f.kind != "unit"}


def submit(templates: Path, inbox: Path, spec: FormSpec, campaign: Campaign, unit: Unit,
           name: str = "", **changes: Any) -> Path:
    """Fill the unit's template with good answers (``changes`` override some) into ``inbox``."""
    values = good_values(spec, campaign) | changes
    path = inbox / (name or f"{unit.code}_{spec.annex}.xlsx")
    path.parent.mkdir(parents=True, exist_ok=True)
    fill(templates / template_name(spec, unit), path, values)
    return path


def unit(roster: Roster, code: str) -> Unit:
    """The roster unit with this code."""
    found = roster.by_code(code)
    assert found is not None, code
    return found
