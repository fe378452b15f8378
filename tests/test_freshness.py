"""Tests for skipping a rollup whose inputs have not changed since the last complete run."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from returns import CAMPAIGN_TOML, UNITS_CSV, clean_values, make_return, settings

from pipeline.cli import main
from pipeline.intake.scan import list_inbox, new_submission, stamp_inbox
from pipeline.model import Submission
from pipeline.outputs.report import CSV_NAMES, rollup_name
from pipeline.store.freshness import files_digest, inputs_digest
from pipeline.store.ledger import RACY_NS, Ledger, StatCache

UP_TO_DATE = "来件和设置自上次汇总以来没有变化，没有重新生成任何文件；上次的汇总结果仍是最新的："


def _run(inbox: Path, outbox: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    code = main(["rollup", "--campaign", str(CAMPAIGN_TOML), "--roster", str(UNITS_CSV),
                 "--inbox", str(inbox), "--outbox", str(outbox)])
    assert code == 0
    return capsys.readouterr().out.splitlines()


def _stamps(outbox: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in outbox.iterdir() if p.suffix in (".xlsx", ".csv")}


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """An inbox with two clean returns, and an empty outbox."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    make_return(inbox, "annex1", "U001", clean_values("annex1"))
    make_return(inbox, "annex2", "U002", clean_values("annex2"))
    return inbox, tmp_path / "outbox"


def test_unchanged_inbox_reuses_the_last_results(folders: tuple[Path, Path],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A second run over the same files repeats the summary, says so, and rewrites no output."""
    inbox, outbox = folders
    first = _run(inbox, outbox, capsys)
    before = _stamps(outbox)
    assert set(before) == {*CSV_NAMES, rollup_name_for_tests()}
    second = _run(inbox, outbox, capsys)
    assert first[-1].startswith("单位名录 ")  # printed by every run, after its summary
    workbook = outbox / rollup_name_for_tests()
    assert second[0] == f"{UP_TO_DATE}{workbook}"  # said first
    assert second[1:] == [line for line in first if "已生成" not in line]  # the figures again, nothing “生成”
    assert not any("已生成" in line for line in second)
    assert _stamps(outbox) == before


def rollup_name_for_tests() -> str:
    """The rollup workbook's file name for the repository's campaign."""
    from pipeline.checks.rollup import Rollup

    forms, campaign, roster = settings()
    return rollup_name(Rollup(campaign, roster, forms, []))


def test_a_touched_file_or_a_missing_output_runs_again(folders: tuple[Path, Path],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A file whose time changed (same bytes), or an output deleted since, makes the next run a full one."""
    inbox, outbox = folders
    _run(inbox, outbox, capsys)
    path = next(inbox.glob("*.xlsx"))
    later = path.stat().st_mtime + 3600
    os.utime(path, (later, later))
    assert not _run(inbox, outbox, capsys)[0].startswith(UP_TO_DATE)
    assert _run(inbox, outbox, capsys)[0].startswith(UP_TO_DATE)
    (outbox / "status.csv").unlink()
    assert not _run(inbox, outbox, capsys)[0].startswith(UP_TO_DATE)
    assert (outbox / "status.csv").is_file()


def test_a_new_file_runs_again_and_is_counted(folders: tuple[Path, Path],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A file that arrived since the last run is read and shows in the summary's count."""
    inbox, outbox = folders
    _run(inbox, outbox, capsys)
    make_return(inbox, "annex1", "U003", clean_values("annex1"))
    lines = _run(inbox, outbox, capsys)
    assert not lines[0].startswith(UP_TO_DATE)
    assert lines[0].startswith("收到文件 3 个 = 采用 3 ")


def test_digest_depends_on_date_folders_and_bytes(folders: tuple[Path, Path], tmp_path: Path) -> None:
    """The date, the inbox and outbox folders and every file's bytes each change the digest."""
    inbox, outbox = folders
    forms, campaign, roster = settings()
    fresh = files_digest(stamp_inbox(inbox))
    day = dt.date(2023, 6, 30)
    base = inputs_digest(fresh, forms, campaign, roster, inbox, outbox, day)
    assert base == inputs_digest(fresh, forms, campaign, roster, inbox, outbox, day)
    assert base != inputs_digest(fresh, forms, campaign, roster, inbox, outbox, day + dt.timedelta(days=1))
    assert base != inputs_digest(fresh, forms, campaign, roster, inbox, tmp_path / "other", day)
    assert base != inputs_digest(fresh, forms, campaign, roster, tmp_path / "elsewhere", outbox, day)
    with next(inbox.glob("*.xlsx")).open("ab") as handle:
        handle.write(b"\0")
    changed = files_digest(stamp_inbox(inbox))
    assert base != inputs_digest(changed, forms, campaign, roster, inbox, outbox, day)


def test_a_full_run_clears_temporary_files_of_a_killed_run(folders: tuple[Path, Path],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Hidden .tmp files a killed run left in outbox/ are removed by the next full run; other files stay."""
    inbox, outbox = folders
    (outbox / "feedback").mkdir(parents=True)
    stale = [outbox / ".status.abc123.csv.tmp", outbox / "feedback" / ".附件1.x.xlsx.tmp"]
    for path in stale:
        path.write_bytes(b"half")
    keep = outbox / "staff-notes.tmp"
    keep.write_bytes(b"mine")
    _run(inbox, outbox, capsys)
    assert not any(p.exists() for p in stale)
    assert keep.read_bytes() == b"mine"


HEAVY = ("pandas", "pandera", "openpyxl", "numpy")


def test_unchanged_rerun_decides_before_importing_pandas_pandera_or_openpyxl(
        folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """An unchanged re-run, in a fresh interpreter, answers “没有变化” without importing pandas, pandera, openpyxl or numpy."""
    import subprocess
    import sys

    inbox, outbox = folders
    _run(inbox, outbox, capsys)
    script = ("import sys; from pipeline.cli import main; code = main(sys.argv[1:]); "
              f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules), 'email_validator' in sys.modules and "
              "'email_validator'); raise SystemExit(code)")
    args = ["rollup", "--campaign", str(CAMPAIGN_TOML), "--roster", str(UNITS_CSV), "--inbox", str(inbox),
            "--outbox", str(outbox)]
    run = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(UP_TO_DATE.split("：")[0]), run.stdout
    assert "HEAVY []" in run.stdout.splitlines()[-1]
    assert "email_validator" not in run.stdout  # the contact address is checked only when the inbox is read


def _ledger_rows(outbox: Path) -> tuple[list[str], dict[str, list[tuple[str, str, str]]], list[tuple[str, ...]]]:
    from pipeline.store.ledger import LEDGER_NAME, Ledger

    with Ledger(outbox / LEDGER_NAME) as ledger:
        runs = [r for (r,) in ledger.db.execute("SELECT run_id FROM runs ORDER BY started, rowid")]
        outcomes = {r: sorted(ledger.run_outcomes(r)) for r in runs}
        files = sorted(ledger.db.execute("SELECT sha256, file, first_seen, last_outcome, last_run FROM files").fetchall())
    return runs, outcomes, files


def _count(outbox: Path, table: str) -> int:
    import sqlite3

    with sqlite3.connect(outbox / "ledger.sqlite") as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_unchanged_rerun_records_the_same_outcomes_as_a_new_run(folders: tuple[Path, Path],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """An unchanged re-run is a run of its own in the ledger, with every file's outcome exactly as the last full run's."""
    inbox, outbox = folders
    make_return(inbox / "2023-06-20", "annex1", "U003", clean_values("annex1"))
    _run(inbox, outbox, capsys)
    runs, outcomes, files = _ledger_rows(outbox)
    assert len(runs) == 1 and len(outcomes[runs[0]]) == 3
    assert _run(inbox, outbox, capsys)[0].startswith(UP_TO_DATE)
    assert _run(inbox, outbox, capsys)[0].startswith(UP_TO_DATE)
    again, again_outcomes, again_files = _ledger_rows(outbox)
    assert again[0] == runs[0] and len(again) == 3
    assert again_outcomes[again[1]] == again_outcomes[again[2]] == outcomes[runs[0]]
    # First-seen times, latest outcomes and the run that read each file stay; a re-run adds one row, whatever the inbox.
    assert again_files == files and {run for *_, run in files} == {runs[0]}
    assert _count(outbox, "outcomes") == 3


def test_state_left_by_an_older_version_runs_once_in_full(folders: tuple[Path, Path],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A last-run state without a run id (it held the outcomes themselves) is not trusted: one full run, then fresh."""
    import json

    from pipeline.store.freshness import STATE_KEY
    from pipeline.store.ledger import LEDGER_NAME, Ledger

    inbox, outbox = folders
    _run(inbox, outbox, capsys)
    with Ledger(outbox / LEDGER_NAME) as ledger:
        state = json.loads(ledger.cache_get(STATE_KEY) or b"{}")
        run = state.pop("run")
        state["outcomes"] = [list(row) for row in ledger.run_outcomes(run)]
        ledger.cache_put(STATE_KEY, json.dumps(state, ensure_ascii=False).encode("utf-8"))
    assert not _run(inbox, outbox, capsys)[0].startswith(UP_TO_DATE)
    assert _run(inbox, outbox, capsys)[0].startswith(UP_TO_DATE)


def test_stamps_are_the_records_new_submission_makes_of_the_same_files(folders: tuple[Path, Path],
                                                                       tmp_path: Path) -> None:
    """stamp_inbox names, hashes, times and orders the files as new_submission does one by one (check's way), and
    both store the same stats."""
    from pipeline.store.ledger import LEDGER_NAME, Ledger

    inbox, _ = folders
    make_return(inbox / "2023-06-20" / "王五", "annex1", "U003", clean_values("annex1"))
    (inbox / ".gitkeep").write_bytes(b"")
    (inbox / "说明.txt").write_text("附件见邮件", encoding="utf-8")
    paths = [Path(path) for _, path, _ in list_inbox(inbox).files]
    assert [p.relative_to(inbox).as_posix() for p in paths] == sorted(
        p.relative_to(inbox).as_posix() for p in inbox.rglob("*") if p.is_file() and p.name != ".gitkeep")

    def one_by_one(stats: StatCache) -> list[Submission]:
        subs = [new_submission(p, inbox, stats) for p in paths]
        stats.save()
        return subs

    stored: list[set[bytes]] = []
    records = []
    for name, scan in (("a", lambda s: [t.submission() for t in stamp_inbox(inbox, s)]), ("b", one_by_one)):
        with Ledger(tmp_path / name / LEDGER_NAME) as ledger:
            found = scan(ledger.file_stats())
            records.append([(s.file, s.path, s.sha256, s.mtime, s.size) for s in found])
            stored.append({bytes(p) for (p,) in ledger.db.execute("SELECT path FROM file_stats")})
    assert records[0] == records[1]
    assert len(records[0]) == 4 and stored[0] == stored[1]
    stamp = stamp_inbox(inbox)[0]
    sub = stamp.submission()
    assert (sub.file, sub.path, sub.sha256, sub.mtime, sub.size) == (stamp.file, Path(stamp.path), *stamp[2:])


def _own_roster(folder: Path) -> Path:
    """A copy of the test roster in ``folder``, for a test to change."""
    roster = folder / "units.csv"
    roster.write_bytes(UNITS_CSV.read_bytes())
    return roster


def _run_with_roster(inbox: Path, outbox: Path, roster: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["rollup", "--campaign", str(CAMPAIGN_TOML), "--roster", str(roster),
                 "--inbox", str(inbox), "--outbox", str(outbox)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_unchanged_rerun_does_not_load_the_roster(folders: tuple[Path, Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An unchanged re-run knows the roster by its file's bytes and never loads it; its summary still names the roster."""
    import pipeline.job
    from pipeline.settings.roster import load_roster

    inbox, outbox = folders
    roster = _own_roster(tmp_path)
    code, first = _run_with_roster(inbox, outbox, roster, capsys)
    assert code == 0
    loads: list[Path] = []
    monkeypatch.setattr(pipeline.job, "load_roster", lambda path: loads.append(path) or load_roster(path))
    code, second = _run_with_roster(inbox, outbox, roster, capsys)
    assert code == 0 and second.startswith(UP_TO_DATE) and loads == []
    assert first.splitlines()[-1] == second.splitlines()[-1] == f"单位名录 {roster}：{len(load_roster(roster))} 个单位，编码 UTF-8。"


def test_a_roster_edited_since_the_last_run_is_loaded_and_checked_again(
        folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One changed byte in the roster file makes a full run, and a roster broken since the last run is refused, not replayed."""
    inbox, outbox = folders
    roster = tmp_path / "units.csv"
    text = UNITS_CSV.read_text(encoding="utf-8")
    roster.write_text(text, encoding="utf-8")
    assert _run_with_roster(inbox, outbox, roster, capsys)[0] == 0
    roster.write_text(text.replace("U001,", "U0001,", 1), encoding="utf-8")  # same size class, other bytes
    code, out = _run_with_roster(inbox, outbox, roster, capsys)
    assert code == 0 and not out.startswith(UP_TO_DATE)
    duplicate = text.splitlines()[1]
    roster.write_text(text + duplicate + "\n", encoding="utf-8")  # the same unit twice: load_roster refuses it
    code, out = _run_with_roster(inbox, outbox, roster, capsys)
    assert code != 0 and "重复" in out and UP_TO_DATE not in out


def test_a_roster_file_and_the_roster_loaded_from_it_digest_alike(tmp_path: Path) -> None:
    """The settings digest is the same for a roster given as its file and for the roster loaded from that file."""
    from pipeline.settings.roster import load_roster
    from pipeline.store.freshness import settings_digest

    forms, campaign, _ = settings()
    roster = _own_roster(tmp_path)
    assert settings_digest(forms, campaign, roster) == settings_digest(forms, campaign, load_roster(roster))
    elsewhere = tmp_path / "copy" / "units.csv"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(roster.read_bytes())  # the summary names the roster's place: another place, another digest
    assert settings_digest(forms, campaign, roster) != settings_digest(forms, campaign, elsewhere)


def test_a_missing_roster_is_named_before_any_output_is_made(folders: tuple[Path, Path], tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A --roster that does not exist stops the rollup with the Chinese message naming it, and no outbox is made."""
    inbox, outbox = folders
    missing = tmp_path / "名录.csv"
    code, out = _run_with_roster(inbox, outbox, missing, capsys)
    assert code == 2 and f"找不到单位名录 {missing}" in out
    assert not outbox.exists()


def _clock_after(inbox: Path, offset_ns: int) -> Callable[[], int]:
    """A clock standing ``offset_ns`` after the newest time (written or changed) of any file below ``inbox``."""
    newest = max(max(p.stat().st_mtime_ns, p.stat().st_ctime_ns) for p in inbox.rglob("*") if p.is_file())
    return lambda: newest + offset_ns


def _listing_clock(monkeypatch: pytest.MonkeyPatch, clock: Callable[[], int]) -> list[int]:
    """Make the rollup list the inbox with ``clock``; the returned list gets one item each time it hashes files."""
    from pipeline import job
    from pipeline.intake import scan

    stamped: list[int] = []
    real = job._stamped

    def counting(ledger: Ledger, listing: scan.Listing) -> tuple[list[scan.Stamp], bool]:
        stamped.append(len(listing.files))
        return real(ledger, listing)

    monkeypatch.setattr(job, "list_inbox", lambda inbox: scan.list_inbox(inbox, clock))
    monkeypatch.setattr(job, "_stamped", counting)
    return stamped


def test_a_settled_unchanged_inbox_is_decided_by_its_listing_alone(folders: tuple[Path, Path],
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Files hashed outside the racy window and stat'ed the same next time are not looked up again; any new stat is."""
    inbox, outbox = folders
    stamped = _listing_clock(monkeypatch, _clock_after(inbox, 2 * RACY_NS))
    first = _run(inbox, outbox, capsys)
    assert stamped == [2] and not first[0].startswith(UP_TO_DATE)
    assert _run(inbox, outbox, capsys)[0].startswith(UP_TO_DATE)
    assert stamped == [2]  # neither the stat cache nor any file was read
    # The same bytes written again: a new change time, so the files are stamped again; the answer stands.
    target = next(inbox.glob("*.xlsx"))
    before = target.stat()
    target.write_bytes(target.read_bytes())
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    stamped = _listing_clock(monkeypatch, _clock_after(inbox, 2 * RACY_NS))
    assert _run(inbox, outbox, capsys)[0].startswith(UP_TO_DATE)
    assert stamped == [2]
    # Another byte, same size and modification time: only the change time tells, and the run is done again.
    data = target.read_bytes()
    target.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    stamped = _listing_clock(monkeypatch, _clock_after(inbox, 2 * RACY_NS))
    assert not _run(inbox, outbox, capsys)[0].startswith(UP_TO_DATE)
    assert stamped == [2]


def test_files_within_the_racy_window_are_looked_up_again_next_time(folders: tuple[Path, Path],
                                                                    capsys: pytest.CaptureFixture[str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that hashed a file written within RACY_NS of it leaves no listing to trust: the next run stamps again."""
    inbox, outbox = folders
    stamped = _listing_clock(monkeypatch, _clock_after(inbox, RACY_NS - 1))
    _run(inbox, outbox, capsys)
    assert _run(inbox, outbox, capsys)[0].startswith(UP_TO_DATE)
    assert stamped == [2, 2]


def test_same_files_with_other_settings_are_read_again(folders: tuple[Path, Path], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """With the listing unchanged but the roster changed, the run is done in full; the next one goes by the listing."""
    inbox, outbox = folders
    roster = _own_roster(tmp_path)
    stamped = _listing_clock(monkeypatch, _clock_after(inbox, 2 * RACY_NS))
    assert _run_with_roster(inbox, outbox, roster, capsys)[0] == 0
    roster.write_bytes(UNITS_CSV.read_bytes() + "U999,新增单位,局属单位,u999@example.com\n".encode())
    code, out = _run_with_roster(inbox, outbox, roster, capsys)
    assert code == 0 and not out.startswith(UP_TO_DATE) and "单位名录" in out
    assert stamped == [2, 2]  # the second run stamped its files to read them
    code, out = _run_with_roster(inbox, outbox, roster, capsys)
    assert code == 0 and out.startswith(UP_TO_DATE)
    assert stamped == [2, 2]


def test_a_bad_contact_address_stops_a_rollup_as_load_campaign_does(folders: tuple[Path, Path], tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """make rollup checks the contact address only when it must read the inbox, with load_campaign's own message."""
    from pipeline.errors import CampaignError
    from pipeline.settings.campaign import check_contact, load_campaign

    inbox, outbox = folders
    campaign = tmp_path / "campaign.toml"
    text = CAMPAIGN_TOML.read_text(encoding="utf-8")
    campaign.write_text(re.sub(r"(?m)^email = .*$", 'email = "yqjt6623055-163.com"', text), encoding="utf-8")
    with pytest.raises(CampaignError) as caught:
        load_campaign(campaign)
    with pytest.raises(CampaignError) as later:
        check_contact(load_campaign(campaign, check_email=False))
    assert str(later.value) == str(caught.value)
    code = main(["rollup", "--campaign", str(campaign), "--roster", str(UNITS_CSV), "--inbox", str(inbox),
                 "--outbox", str(outbox)])
    assert code != 0 and str(caught.value) in capsys.readouterr().err
    assert not (outbox / rollup_name_for_tests()).exists()
