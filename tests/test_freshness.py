"""Tests for skipping a rollup whose inputs have not changed since the last complete run."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from returns import CAMPAIGN_TOML, UNITS_CSV, clean_values, make_return, settings

from pipeline.cli import main
from pipeline.intake.scan import hash_all, scan_inbox
from pipeline.outputs.report import CSV_NAMES, rollup_name
from pipeline.store.freshness import inputs_digest

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
    fresh = hash_all(scan_inbox(inbox), inbox)
    day = dt.date(2023, 6, 30)
    base = inputs_digest(fresh, forms, campaign, roster, inbox, outbox, day)
    assert base == inputs_digest(fresh, forms, campaign, roster, inbox, outbox, day)
    assert base != inputs_digest(fresh, forms, campaign, roster, inbox, outbox, day + dt.timedelta(days=1))
    assert base != inputs_digest(fresh, forms, campaign, roster, inbox, tmp_path / "other", day)
    assert base != inputs_digest(fresh, forms, campaign, roster, tmp_path / "elsewhere", outbox, day)
    with next(inbox.glob("*.xlsx")).open("ab") as handle:
        handle.write(b"\0")
    changed = hash_all(scan_inbox(inbox), inbox)
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
              f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules)); raise SystemExit(code)")
    args = ["rollup", "--campaign", str(CAMPAIGN_TOML), "--roster", str(UNITS_CSV), "--inbox", str(inbox),
            "--outbox", str(outbox)]
    run = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(UP_TO_DATE.split("：")[0]), run.stdout
    assert "HEAVY []" in run.stdout.splitlines()[-1]
