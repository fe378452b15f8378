"""What a file's folders under inbox/ say: the day it arrived and, failing its content, its unit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from returns import UNITS_CSV, settings, submission

from pipeline.checks.rollup import _select
from pipeline.intake.arrival import arrival_date, folder_date
from pipeline.intake.settle import settle
from pipeline.settings.roster import Roster, load_roster
from pipeline.units.attribution import mail_folder_unit

NOON_JULY_1 = dt.datetime(2023, 7, 1, 12).timestamp()


def test_the_mail_date_folder_outranks_the_report_date_and_the_file_time() -> None:
    """Under 邮件/<date>/ the folder's date counts; elsewhere the 填报日期, then the file time."""
    mailed = "邮件/2023-05-28/U001_清河县顺达货物运输有限公司/附件2.xlsx"
    assert arrival_date(mailed, NOON_JULY_1, dt.date(2023, 5, 1)) == dt.date(2023, 5, 28)
    assert arrival_date("附件2.xlsx", NOON_JULY_1, dt.date(2023, 5, 1)) == dt.date(2023, 5, 1)
    assert arrival_date("附件2.xlsx", NOON_JULY_1, None) == dt.date.fromtimestamp(NOON_JULY_1)


@pytest.mark.parametrize(("file", "expected"), [
    ("2023-06-02/a.xlsx", dt.date(2023, 6, 2)),
    ("2023-06-02/2023-06-05/a.xlsx", dt.date(2023, 6, 5)),  # the innermost date folder
    ("2023-02-30/a.xlsx", None),  # not a date
    ("2023-06-02.xlsx", None),  # a file name is not a folder
    ("六月/20230602/a.xlsx", None),
])
def test_folder_date(file: str, expected: dt.date | None) -> None:
    """Only a folder named exactly YYYY-MM-DD with a real date counts."""
    assert folder_date(file) == expected


def test_mail_folder_unit() -> None:
    """A fetch folder 邮件/<date>/“U013_…” names U013; an unknown code, an address folder or any other place names none."""
    roster: Roster = load_roster(UNITS_CSV)
    assert mail_folder_unit("邮件/2023-06-28/U013_清河县公路站/a.xlsx", roster) == roster.by_code("U013")
    assert mail_folder_unit("邮件/2023-06-28/U999_别处/a.xlsx", roster) is None
    assert mail_folder_unit("邮件/2023-06-28/u013@example.com/a.xlsx", roster) is None
    assert mail_folder_unit("U013_a.xlsx", roster) is None
    assert mail_folder_unit("材料/2023-06-28/U013_清河县公路站/a.xlsx", roster) is None


def test_on_time_follows_the_mail_date_not_the_file_time() -> None:
    """The rollup's on-time for a 附件2 (no 填报日期) under a date folder uses the folder, whatever the file time."""
    forms, campaign, roster = settings()
    due = campaign.deadline(forms["annex2"].deadline)
    for day, expected in ((due, True), (due + dt.timedelta(days=1), False)):
        sub = submission("annex2", {}, "U001", file=f"邮件/{day.isoformat()}/U001_x/附件2.xlsx")
        misleading = due + dt.timedelta(days=10 if expected else -10)  # a file time saying the opposite
        sub.mtime = dt.datetime.combine(misleading, dt.time(12)).timestamp()
        assert sub.unit is not None
        settle([sub], forms, campaign, roster)
        assert _select(sub.unit, forms["annex2"], [sub], campaign).on_time is expected, day


def test_roster_addresses(tmp_path: Path) -> None:
    """Several 邮箱 per unit split at “;” or “；”, compared case-insensitively; the first is where mail goes."""
    text = UNITS_CSV.read_text(encoding="utf-8").replace("u002@example.com", "u002@example.com; Boss@X.cn；c@y.cn")
    text = text.replace("u004@example.com", "shared@x.cn").replace("u005@example.com", "SHARED@x.cn")
    (tmp_path / "units.csv").write_text(text, encoding="utf-8")
    roster = load_roster(tmp_path / "units.csv")
    u002 = roster.by_code("U002")
    assert u002 is not None and u002.email == "u002@example.com"
    assert u002.addresses == ("u002@example.com", "Boss@X.cn", "c@y.cn")
    assert roster.by_email("boss@x.CN") is u002 and roster.by_email(" C@Y.CN ") is u002
    assert roster.by_email("shared@x.cn") is None  # two units share it: it identifies neither
    assert roster.by_email("nobody@x.cn") is None
