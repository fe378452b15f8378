"""campaign.toml: the shipped settings, and rejection of missing or mistyped keys."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from pipeline.errors import CampaignError
from pipeline.settings.campaign import Campaign, load_campaign

CAMPAIGN_TOML = Path(__file__).resolve().parents[1] / "campaign.toml"
TEXT = CAMPAIGN_TOML.read_text(encoding="utf-8")


def _mutated(tmp_path: Path, pattern: str, replacement: str) -> Path:
    """A copy of the real campaign.toml with the one line matching ``pattern`` replaced."""
    new, count = re.subn(pattern, replacement, TEXT, count=1, flags=re.MULTILINE)
    assert count == 1, f"{pattern!r} no longer matches campaign.toml"
    path = tmp_path / "campaign.toml"
    path.write_text(new, encoding="utf-8")
    return path


def test_real_campaign_loads(campaign: Campaign) -> None:
    """The shipped campaign.toml is the 2023 campaign, 5-31 to 6-30, with both forms' deadlines."""
    assert campaign.year == 2023
    assert (campaign.start, campaign.end) == (dt.date(2023, 5, 31), dt.date(2023, 6, 30))
    assert campaign.deadlines == {"annex2_due": dt.date(2023, 5, 29), "annex1_due": dt.date(2023, 6, 30)}
    assert campaign.contact_phone == "6627527"


def test_date_window_covers_the_campaign_and_deadlines(campaign: Campaign) -> None:
    """Every date a 填报日期 may reasonably carry (campaign days, deadlines) lies inside the window."""
    low, high = campaign.date_window
    assert low <= campaign.start <= campaign.end <= high
    assert all(low <= d <= high for d in campaign.deadlines.values())


def test_unknown_deadline_key_is_named(campaign: Campaign) -> None:
    """Asking for a deadline campaign.toml does not define names that key."""
    with pytest.raises(CampaignError, match="annex9_due"):
        campaign.deadline("annex9_due")


@pytest.mark.parametrize(
    ("section", "key"),
    [("campaign", "id"), ("campaign", "theme"), ("campaign", "start"), ("contact", "email"), ("contact", "phone")],
)
def test_missing_key_is_named(tmp_path: Path, section: str, key: str) -> None:
    """Deleting one required key gives a CampaignError naming the file, the table and the key."""
    path = _mutated(tmp_path, rf"^{key} = .*\n", "")
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"[{section}] {key}" in message


@pytest.mark.parametrize(
    ("pattern", "replacement", "key"),
    [
        (r"^annex2_due = .*$", 'annex2_due = "2023-05-29"', "annex2_due"),
        (r"^annex1_due = .*$", "annex1_due = 20230630", "annex1_due"),
        (r"^annex1_due = .*$", "annex1_due = 2023-06-30T17:00:00", "annex1_due"),
    ],
    ids=["quoted date", "number", "date-time"],
)
def test_non_date_deadline_is_named(tmp_path: Path, pattern: str, replacement: str, key: str) -> None:
    """A deadline that is not a plain TOML date is rejected naming that deadline's key."""
    path = _mutated(tmp_path, pattern, replacement)
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert str(path) in str(caught.value)
    assert f"[deadlines] {key}" in str(caught.value)


@pytest.mark.parametrize(
    ("pattern", "replacement", "fragment"),
    [
        (r"^year = .*$", 'year = "2023"', "[campaign] year"),
        (r"^year = .*$", "year = true", "[campaign] year"),
        (r"^end = .*$", "end = 2023-05-01", "end"),
        (r"^phone = .*$", "phone = 6627527", "[contact] phone"),
        (r"^max_rows = .*$", "max_row = 2000", "max_row"),
        (r"^max_rows = .*$", 'max_rows = "2000"', "[limits] max_rows"),
    ],
    ids=["year as text", "year as boolean", "end before start", "phone as number", "unknown limit", "limit as text"],
)
def test_mistyped_value_is_named(tmp_path: Path, pattern: str, replacement: str, fragment: str) -> None:
    """Wrongly typed or inconsistent settings are rejected naming the key."""
    path = _mutated(tmp_path, pattern, replacement)
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert fragment in str(caught.value)


def test_missing_deadlines_table_is_rejected(tmp_path: Path) -> None:
    """Without a [deadlines] table the message shows how to write one."""
    path = tmp_path / "campaign.toml"
    path.write_text(re.sub(r"^\[deadlines\]\n(.*\n)*?\n", "", TEXT, count=1, flags=re.MULTILINE), encoding="utf-8")
    assert "annex1_due" not in path.read_text(encoding="utf-8")
    with pytest.raises(CampaignError, match=r"\[deadlines\]"):
        load_campaign(path)


def test_bom_is_accepted(tmp_path: Path, campaign: Campaign) -> None:
    """A campaign.toml saved by Notepad with a byte-order mark loads the same settings."""
    path = tmp_path / "campaign.toml"
    path.write_bytes(b"\xef\xbb\xbf" + CAMPAIGN_TOML.read_bytes())
    loaded = load_campaign(path)
    assert (loaded.id, loaded.deadlines, loaded.limits) == (campaign.id, campaign.deadlines, campaign.limits)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    """A campaign path that does not exist names the path and the --campaign option."""
    path = tmp_path / "nowhere.toml"
    with pytest.raises(CampaignError, match="--campaign") as caught:
        load_campaign(path)
    assert str(path) in str(caught.value)
