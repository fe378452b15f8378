"""Resubmissions (pipeline.checks.resubmit, issue #15 item 7 and #13 item 5): which return is newest, and warnings."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import given
from hypothesis import settings as settings_
from returns import clean_values, count_ids, make_return, outcomes, read_csv, rollup, settings, statuses, submission

from pipeline.checks.rollup import build_rollup
from pipeline.intake.settle import settle
from pipeline.model import Outcome, Submission

OLD_DAY, NEW_DAY = dt.date(2023, 6, 25), dt.date(2023, 6, 28)


def _at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00")


def _issues(outbox: Path, rule: str) -> list[dict[str, str]]:
    return [i for i in read_csv(outbox / "issues.csv") if i["rule"] == rule]


def test_correction_with_an_invalid_date_is_ranked_by_arrival(tmp_path: Path) -> None:
    """A good return dated 6/25, then a correction dated “2023-06-31” arriving 6/29: the correction counts, with a
    警告 saying it was ordered by arrival (#13 item 5)."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    make_return(inbox, "annex1", "U001", clean_values("annex1", report_date=OLD_DAY), name="附件1.xlsx",
                received=_at("2023-06-25"))
    make_return(inbox, "annex1", "U001", clean_values("annex1", report_date="2023-06-31", s1_film_sessions=7),
                name="附件1（2）.xlsx", received=_at("2023-06-29"))

    result = rollup(inbox, outbox)

    assert outcomes(result) == {"附件1.xlsx": Outcome.SUPERSEDED, "附件1（2）.xlsx": Outcome.ACCEPTED}
    assert result.totals("annex1")["s1_film_sessions"] == 7
    assert statuses(outbox)[("U001", "annex1")]["status"] == "有警告"
    [warning] = _issues(outbox, "多次报送")
    assert warning["file"] == "附件1（2）.xlsx" and "无法识别" in warning["message"] and "文件时间" in warning["message"]


def test_newer_return_without_a_date_is_ranked_by_arrival(tmp_path: Path) -> None:
    """A later return whose 填报日期 is blank replaces the earlier dated one (it is no longer ranked oldest)."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    make_return(inbox, "annex1", "U001", clean_values("annex1", report_date=OLD_DAY), name="a.xlsx",
                received=_at("2023-06-25"))
    make_return(inbox, "annex1", "U001", clean_values("annex1", report_date=None, s1_film_sessions=9), name="b.xlsx",
                received=_at("2023-06-27"))

    result = rollup(inbox, outbox)

    assert outcomes(result) == {"a.xlsx": Outcome.SUPERSEDED, "b.xlsx": Outcome.ACCEPTED}
    assert result.totals("annex1")["s1_film_sessions"] == 9


def test_tied_date_is_settled_by_the_date_folder_before_the_file_time(tmp_path: Path) -> None:
    """Same 填报日期: the correction filed under a later date folder wins over an older file touched later."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    make_return(inbox / "2023-06-26", "annex1", "U001", clean_values("annex1"), name="附件1.xlsx",
                received=_at("2023-06-30"))
    make_return(inbox / "2023-06-28", "annex1", "U001", clean_values("annex1", s1_film_sessions=8), name="附件1.xlsx",
                received=_at("2023-06-28"))

    result = rollup(inbox, outbox)

    assert outcomes(result) == {"2023-06-26/附件1.xlsx": Outcome.SUPERSEDED, "2023-06-28/附件1.xlsx": Outcome.ACCEPTED}
    assert result.totals("annex1")["s1_film_sessions"] == 8
    [warning] = _issues(outbox, "多次报送")
    assert "填报日期相同" in warning["message"] and "日期文件夹" in warning["message"]


def test_tied_date_and_time_is_settled_by_a_correction_word_in_the_name(tmp_path: Path) -> None:
    """Same 填报日期, folder and file time: the file whose name says 更正 is the newest."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    same = _at("2023-06-28")
    make_return(inbox, "annex1", "U001", clean_values("annex1"), name="附件1.xlsx", received=same)
    make_return(inbox, "annex1", "U001", clean_values("annex1", s1_film_sessions=6), name="更正附件1.xlsx",
                received=same)

    result = rollup(inbox, outbox)

    assert outcomes(result) == {"附件1.xlsx": Outcome.SUPERSEDED, "更正附件1.xlsx": Outcome.ACCEPTED}
    [warning] = _issues(outbox, "多次报送")
    assert "更正" in warning["message"]


def test_later_report_date_still_decides_without_a_warning(tmp_path: Path) -> None:
    """Distinct valid 填报日期 decide on their own, even against the file time, and need no 多次报送 警告."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    make_return(inbox, "annex1", "U001", clean_values("annex1", report_date=NEW_DAY, s1_film_sessions=5),
                name="a.xlsx", received=_at("2023-06-28"))
    make_return(inbox, "annex1", "U001", clean_values("annex1", report_date=OLD_DAY), name="b.xlsx",
                received=_at("2023-06-29"))

    result = rollup(inbox, outbox)

    assert outcomes(result) == {"a.xlsx": Outcome.ACCEPTED, "b.xlsx": Outcome.SUPERSEDED}
    assert _issues(outbox, "多次报送") == []


def test_supplement_filling_few_items_counts_with_a_warning(tmp_path: Path) -> None:
    """A later “补充” filling 2 of the items a full return filled still counts, with “本次报送比上次少填了 N 项”."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    counts = count_ids()
    make_return(inbox, "annex1", "U001", clean_values("annex1", report_date=OLD_DAY), name="附件1.xlsx")
    sparse = clean_values("annex1", **dict.fromkeys(counts[2:]))
    make_return(inbox, "annex1", "U001", sparse, name="附件1补充.xlsx")

    result = rollup(inbox, outbox)

    assert outcomes(result)["附件1补充.xlsx"] == Outcome.ACCEPTED
    [warning] = _issues(outbox, "比上次少填")
    assert warning["file"] == "附件1补充.xlsx"
    assert f"本次报送比上次少填了 {len(counts) - 2} 项" in warning["message"]
    assert statuses(outbox)[("U001", "annex1")]["status"] == "有警告"


def test_resubmission_filling_half_or_more_needs_no_warning(tmp_path: Path) -> None:
    """A later return filling at least half of the earlier one's items is an ordinary replacement."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    counts = count_ids()
    make_return(inbox, "annex1", "U001", clean_values("annex1", report_date=OLD_DAY), name="a.xlsx")
    make_return(inbox, "annex1", "U001", clean_values("annex1", **dict.fromkeys(counts[: len(counts) // 2])),
                name="b.xlsx")

    rollup(inbox, outbox)

    assert _issues(outbox, "比上次少填") == []


# ----------------------------------------------------------------------------- one total order (issue #20 item 3)

_DAYS = [None, dt.date(2023, 6, 10), dt.date(2023, 6, 20), dt.date(2023, 6, 25)]
_FOLDERS = [None, "2023-06-24", "2023-06-26"]
_TIMES = [_at("2023-06-23").timestamp(), _at("2023-06-24").timestamp(), _at("2023-06-25").timestamp()]
_STEMS = ["附件1", "统计表", "a", "新建 Microsoft Excel 工作表", "U001附件1", "报表（2）", "z"]

# One return: (填报日期, date folder, file time, name says 更正).
_RETURN = st.tuples(st.sampled_from(_DAYS), st.sampled_from(_FOLDERS), st.sampled_from(_TIMES), st.booleans())


def _batch(plan: list[tuple[int, tuple[dt.date | None, str | None, float, bool]]], stems: list[str]) -> list[Submission]:
    """U001's returns as planned (marker, (填报日期, folder, file time, 更正)), each with s1_film_sessions = its marker,
    under the given file stems (folder and correction word kept), settled as intake settles them."""
    forms, campaign, roster = settings()
    subs = []
    for (marker, (day, folder, mtime, corrected)), stem in zip(plan, stems, strict=True):
        name = f"{stem}{'更正' if corrected else ''}.xlsx"
        sub = submission("annex1", clean_values("annex1", report_date=day, s1_film_sessions=marker), "U001",
                         file=f"{folder}/{name}" if folder else name)
        sub.mtime, sub.sha256 = mtime, f"{marker:064x}"
        subs.append(sub)
    settle(subs, forms, campaign, roster)
    return subs


def _counted(subs: list[Submission]) -> int:
    forms, campaign, roster = settings()
    counted = build_rollup(subs, forms, campaign, roster).status("U001", "annex1").counted
    assert counted is not None
    return int(counted.values["s1_film_sessions"])


@settings_(max_examples=60, deadline=None)
@given(returns=st.lists(_RETURN, min_size=2, max_size=5, unique=True), data=st.data())
def test_same_returns_in_any_order_under_any_names_count_the_same(
        returns: list[tuple[dt.date | None, str | None, float, bool]], data: st.DataObject) -> None:
    """Permuting the files and renaming them (folders and 更正 kept) never changes which return is counted."""
    plan = list(enumerate(returns, start=1))
    expected = _counted(_batch(plan, [f"附件1_{i}" for i in range(len(plan))]))
    shuffled = data.draw(st.permutations(plan))
    stems = data.draw(st.lists(st.sampled_from(_STEMS), min_size=len(plan), max_size=len(plan), unique=True))
    assert _counted(_batch(list(shuffled), stems)) == expected


def test_three_returns_no_longer_each_win_by_order() -> None:
    """Dated 6/10 arriving last, undated arriving second, dated 6/20 arriving first: one winner in every order."""
    plan = list(enumerate([(dt.date(2023, 6, 10), None, _TIMES[2], False), (None, None, _TIMES[1], False),
                           (dt.date(2023, 6, 20), None, _TIMES[0], False)], start=1))
    winners = {_counted(_batch(list(order), ["a", "b", "c"])) for order in itertools.permutations(plan)}
    assert len(winners) == 1
