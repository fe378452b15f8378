"""Shared fixtures: the real spec, campaign and roster, templates generated once, and LibreOffice."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from program_errors import _no_program_errors  # noqa: F401  (autouse: a logged program error fails the test)

from pipeline.forms.generate import generate_templates
from pipeline.forms.spec import FormSpec, load_forms, template_name
from pipeline.settings.campaign import Campaign, load_campaign
from pipeline.settings.roster import Roster, Unit, load_roster

REPO = Path(__file__).resolve().parents[1]
CAMPAIGN_TOML = REPO / "campaign.toml"
UNITS_CSV = REPO / "units.csv"
# 2023-05-31 00:00 UTC, the campaign's first day: templates generated in tests carry this date.
EPOCH = 1685491200
# Programs the LibreOffice tests run; all come with the packages .ci/run installs.
OFFICE_TOOLS = ("soffice", "pdfinfo", "pdftotext")


@pytest.fixture(scope="session")
def forms() -> dict[str, FormSpec]:
    """The real form specs, keyed by form id."""
    return load_forms()


@pytest.fixture(scope="session")
def campaign() -> Campaign:
    """The repository's campaign.toml."""
    return load_campaign(CAMPAIGN_TOML)


@pytest.fixture(scope="session")
def roster() -> Roster:
    """The repository's units.csv."""
    return load_roster(UNITS_CSV)


@pytest.fixture(scope="session")
def template_dir(
    tmp_path_factory: pytest.TempPathFactory, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster
) -> Path:
    """Every template (each unit's two forms and the two generic ones), generated once per session.

    Tests must only read these files; a test that fills one writes its own copy.
    """
    out = tmp_path_factory.mktemp("templates")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
        generate_templates(forms, campaign, roster, out)
    return out


@pytest.fixture(scope="session")
def template(template_dir: Path, forms: dict[str, FormSpec]) -> Callable[[str, Unit | None], Path]:
    """Look up a generated template by form id and unit (None for the generic one)."""

    def find(form_id: str, unit: Unit | None) -> Path:
        path = template_dir / template_name(forms[form_id], unit)
        assert path.is_file(), f"not generated: {path.name}"
        return path

    return find


@pytest.fixture(scope="session")
def soffice() -> str:
    """Path of LibreOffice's ``soffice``; the poppler tools must be there too.

    When CI is "true" the LibreOffice tests are mandatory: a missing program fails them
    (pytest reports the failed fixture as an error). Elsewhere they are skipped.
    """
    missing = [tool for tool in OFFICE_TOOLS if shutil.which(tool) is None]
    if missing:
        why = f"{', '.join(missing)} not found on PATH (install libreoffice-calc-nogui and poppler-utils)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, so the LibreOffice tests must run, but {why}", pytrace=False)
        pytest.skip(why)
    path = shutil.which("soffice")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def office_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LibreOffice user profile private to this test session."""
    return tmp_path_factory.mktemp("lo-profile")
