"""The performance layer: the calamine fast reader, the parallel parse, the parse cache, unchanged feedback.

Nothing here is timed (performance is measured by ``make bench`` only). These tests pin down
that the shortcuts change nothing: the fast reader and the openpyxl reader give the same
outputs, a parallel parse equals a serial one, a cached parse equals a fresh one and is
dropped whenever anything it depends on changes, and feedback workbooks are only rewritten
when their content changes.

One mixed inbox (valid, warned, rejected, tampered and hostile returns of both forms, built
by tests/corpus.py) is built once per module and rolled up by the CLI with each reader.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import pickle
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from corpus import PDF, Kit, build_corpus, build_valid, edit, named_cell, workbook_values, write_settings
from hypothesis import given, settings
from office import convert
from openpyxl.utils.cell import column_index_from_string, get_column_letter
from readers import COMPARED_CSVS, assert_same_csvs, book_differences, rollup_both
from readers import plain_value as _plain
from returns import CAMPAIGN_TOML, UNITS_CSV, clean_values, make_return, rollup_of

import pipeline.intake.batch as ingest
import pipeline.intake.scan as scan
import pipeline.outputs.report as report
import pipeline.program as program
import pipeline.store.freshness as freshness
import pipeline.workbook.fastread as fastread
import pipeline.workbook.sheetxml as sheetxml
from pipeline.cli import main
from pipeline.forms.spec import FormSpec
from pipeline.job import write_outputs
from pipeline.model import Outcome, Submission
from pipeline.outputs.feedback import FEEDBACK_DIR
from pipeline.safety.guards import check_package
from pipeline.settings.campaign import Campaign, Limits
from pipeline.settings.roster import Roster, Unit
from pipeline.store.ledger import LEDGER_NAME, RACY_NS, Ledger
from pipeline.workbook.book import Book

EPOCH = "1685491200"  # 2023-05-31: feedback notices are dated the campaign's first day
OLD_NS = 1_600_000_000 * 10**9  # a file time no run can produce (2020-09-13)


# ----------------------------------------------------------------------------- the mixed inbox


def _participants_below_sessions(path: Path, kit: Kit) -> None:
    kit.filled(path, "annex1", "T26", {"s1_center_study_times": 10, "s1_center_study_people": 2})


def _protection_removed(path: Path, kit: Kit) -> None:
    kit.filled(path, "annex1", "T27")
    edit(path, lambda wb: setattr(wb[kit.forms["annex1"].sheet].protection, "sheet", False))


def _extra_sheets(path: Path, kit: Kit) -> None:
    kit.filled(path, "annex1", "T28")

    def change(wb: Any) -> None:
        wb.create_sheet("备注")["A1"] = "另附说明"
        hidden = wb.create_sheet("草稿")
        hidden["A1"], hidden["B1"] = "真实场次", 999
        hidden.sheet_state = "hidden"

    edit(path, change)


def _label_is_a_date(path: Path, kit: Kit) -> None:
    """A field's label overtyped with a date: the 文字被改动 message quotes the cell as the reader returns it."""
    kit.filled(path, "annex1", "T29")

    def change(wb: Any) -> None:
        cell = named_cell(wb, "s1_center_study_times")
        wb[kit.forms["annex1"].sheet].cell(cell.row, cell.column - 1).value = dt.datetime(2023, 6, 28)

    edit(path, change)


def _dates_everywhere(path: Path, kit: Kit) -> None:
    """Dates in a text field and a count field, and a 填报日期 with a time of day."""
    kit.filled(path, "annex1", "T30", {"contact": dt.datetime(2023, 6, 1), "s1_film_people": dt.datetime(2023, 6, 2),
                                        "report_date": dt.datetime(2023, 6, 28, 10, 30)})


EXTRA: dict[str, Callable[[Path, Kit], None]] = {
    "extra/T26_人次少于场次.xlsx": _participants_below_sessions,
    "extra/T27_保护被取消.xlsx": _protection_removed,
    "extra/T28_多出工作表.xlsx": _extra_sheets,
    "extra/T29_说明改成日期.xlsx": _label_is_a_date,
    "extra/T30_日期.xlsx": _dates_everywhere,
}


@dataclass
class Mixed:
    """The mixed inbox, its settings, and the CLI rollup of it with each reader."""

    root: Path
    settings: tuple[Path, Path]
    kit: Kit
    inbox: Path
    outboxes: dict[str, Path]
    runs: dict[str, subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Mixed:
    """The hostile corpus, clean returns of five units and the extra cases above, rolled up with each reader."""
    root = tmp_path_factory.mktemp("perf")
    settings = write_settings(root / "settings")
    kit = Kit.load(*settings)
    inbox = root / "inbox"
    build_corpus(inbox, kit)
    build_valid(inbox, kit)
    for name, build in EXTRA.items():
        (inbox / name).parent.mkdir(parents=True, exist_ok=True)
        build(inbox / name, kit)
    outboxes, runs = rollup_both(settings, inbox, root)
    return Mixed(root, settings, kit, inbox, outboxes, runs)


# ----------------------------------------------------------------------------- fast reader == full reader


def test_fast_and_full_readers_write_identical_csvs(mixed: Mixed) -> None:
    """The CLI rollup of the mixed inbox writes byte-identical records, issues, status and files CSVs with either reader."""
    for reader, run in mixed.runs.items():
        assert run.returncode == 0, (reader, run.stderr)
    assert_same_csvs(mixed.outboxes)
    files = (mixed.outboxes["fast"] / "files.csv").read_text(encoding="utf-8-sig")
    status = (mixed.outboxes["fast"] / "status.csv").read_text(encoding="utf-8-sig")
    for outcome in (Outcome.ACCEPTED, Outcome.REJECTED, Outcome.UNSUPPORTED):
        assert f",{outcome}," in files, outcome  # the inbox really is mixed
    for label in ("已通过", "有警告", "退回"):
        assert f",{label}," in status, label


def test_cli_runs_used_the_reader_they_were_asked_for(mixed: Mixed, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each run's parse cache is keyed by its own reader setting, so PIPELINE_READER reached the subprocess."""
    forms, campaign, roster = mixed.kit.forms, mixed.kit.campaign, mixed.kit.roster
    for reader, outbox in mixed.outboxes.items():
        monkeypatch.setenv(program.READER_ENV, reader)
        expected = freshness.settings_digest(forms, campaign, roster)
        with sqlite3.connect(outbox / LEDGER_NAME) as db:
            digests = {key.split(":")[1] for (key,) in db.execute("SELECT key FROM cache") if key.startswith("parse:")}
        assert digests == {expected}, reader
    monkeypatch.setenv(program.READER_ENV, "full")
    full = freshness.settings_digest(forms, campaign, roster)
    monkeypatch.setenv(program.READER_ENV, "fast")
    assert freshness.settings_digest(forms, campaign, roster) != full


def test_fast_reader_answers_for_plain_returns_and_declines_formulas(mixed: Mixed) -> None:
    """load_xlsx_fast returns a Book for a clean filled template and None for a return with a formula or far cells."""
    limits = mixed.kit.campaign.limits
    clean = mixed.inbox / "valid" / "U001_附件1.xlsx"
    assert isinstance(fastread.load_xlsx_fast(clean, check_package(clean, limits), limits), Book)
    for name in ("c17/附件1_公式有值.xlsx", "c17/附件1_公式无值.xlsx", "c09/附件1.xlsx"):
        path = mixed.inbox / name
        assert fastread.load_xlsx_fast(path, check_package(path, limits), limits) is None, name


def test_fast_book_equals_full_book_file_by_file(mixed: Mixed) -> None:
    """Wherever the fast reader answers, its sheets, states, protection, cells and names equal the openpyxl reader's."""
    answered: list[str] = []
    declined: list[str] = []
    problems: dict[str, list[str]] = {}
    for path in scan_inbox(mixed.inbox):
        name = path.relative_to(mixed.inbox).as_posix()
        result = book_differences(path, mixed.kit.campaign.limits)
        if result is None:
            continue
        used, diffs = result
        (answered if used else declined).append(name)
        if diffs:
            problems[ascii(name)] = diffs[:10]
    assert not problems, problems
    for name in (*EXTRA, "valid/U001_附件1.xlsx", "valid/U005_附件2.xlsx", "c10/附件1.xlsx", "c11/附件1.xlsx",
                 "c12/附件1.xlsx", "c26/附件1.xlsx"):
        assert name in answered, (name, declined)  # the comparison is not vacuous
    assert {"c17/附件1_公式有值.xlsx", "c17/附件1_公式无值.xlsx", "c09/附件1.xlsx"} <= set(declined)
    assert any("\udcff" in name for name in answered), "a name that is not valid UTF-8 is read by the fast reader too"


@pytest.mark.soffice
def test_fast_and_full_readers_agree_on_libreoffice_resaved_returns(
    mixed: Mixed, soffice: str, office_profile: Path, tmp_path: Path
) -> None:
    """Returns re-saved by LibreOffice are read by the fast reader into the same Book and the same CSVs."""
    sources = {"U001_附件1": "valid/U001_附件1.xlsx", "U002_附件2": "valid/U002_附件2.xlsx",
               "T26_附件1": "extra/T26_人次少于场次.xlsx", "T11_附件1": "c18/附件1_文字日期.xlsx",
               "T15_附件1": "c11/附件1.xlsx", "T07_附件1": "c15/附件1.xlsx", "T09_附件1": "c17/附件1_公式有值.xlsx"}
    staged = tmp_path / "staged"
    staged.mkdir()
    for stem, name in sources.items():
        (staged / f"{stem}.xlsx").write_bytes((mixed.inbox / name).read_bytes())
    inbox = tmp_path / "inbox"
    convert(soffice, sorted(staged.iterdir()), inbox / "lo", "xlsx", office_profile)
    limits = mixed.kit.campaign.limits
    results = {p.name: book_differences(p, limits) for p in sorted((inbox / "lo").iterdir())}
    assert all(r is not None and not r[1] for r in results.values()), results
    assert results["U001_附件1.xlsx"] == (True, []) and results["U002_附件2.xlsx"] == (True, [])
    assert results["T09_附件1.xlsx"] == (False, [])  # LibreOffice keeps the formula: left to the full reader
    outboxes, runs = rollup_both(mixed.settings, inbox, tmp_path)
    for reader, run in runs.items():
        assert run.returncode == 0, (reader, run.stderr)
    assert_same_csvs(outboxes)
    assert f",{Outcome.ACCEPTED},U001,annex1," in (outboxes["fast"] / "files.csv").read_text(encoding="utf-8-sig")


# ----------------------------------------------------------------------------- parallel == serial


def snapshot_of(sub: Submission) -> tuple[Any, ...]:
    """Everything a parse produces for one file, in comparable form."""
    return (sub.file, sub.sha256, sub.size, sub.outcome, sub.note, sub.kind, sub.material_kind, sub.form_id,
            sub.unit.code if sub.unit else None, sub.sheet, sub.located_by, sorted(sub.meta.items()),
            sorted((k, _plain(c.value), c.address, c.formula) for k, c in sub.raw.items()),
            sorted((k, _plain(v)) for k, v in sub.values.items()),
            [dataclasses.astuple(f) for f in sub.findings])


def scan_inbox(inbox: Path) -> list[Path]:
    """Every file below ``inbox``, in the order the rollup lists them."""
    return [Path(path) for _, path, _ in scan.list_inbox(inbox).files]


def read_inbox(paths: list[Path], inbox: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
               cache: Ledger | None = None) -> list[Submission]:
    """Hash ``paths`` and read them with :func:`pipeline.intake.batch.read_all`, as the rollup does."""
    return ingest.read_all([scan.new_submission(p, inbox) for p in paths], forms, campaign, roster, cache=cache)


def test_parallel_parse_equals_serial_parse(mixed: Mixed, monkeypatch: pytest.MonkeyPatch) -> None:
    """read_all over the mixed inbox, parsed by a pool of two workers, equals read_file on each file in turn."""
    forms, campaign, roster = mixed.kit.forms, mixed.kit.campaign, mixed.kit.roster
    paths = scan_inbox(mixed.inbox)
    assert len(paths) >= ingest.PARALLEL_MIN_FILES
    pools: list[int] = []
    real = ingest.parse_killable

    def counting(subs: list[Submission], parse: Any, settings: Any, seconds: float, workers: int,
                 budgets: Any = None, meanwhile: Any = None) -> Any:
        pools.append(workers)
        return real(subs, parse, settings, seconds, workers, budgets, meanwhile)

    monkeypatch.setattr(ingest, "parse_killable", counting)
    monkeypatch.setattr(ingest.os, "cpu_count", lambda: 2)  # two workers even on a one-core runner
    parallel = read_inbox(paths, mixed.inbox, forms, campaign, roster)
    assert pools == [2], "two workers were not used"
    serial = [ingest.read_file(p, mixed.inbox, forms, campaign, roster) for p in paths]
    assert [s.path for s in parallel] == paths
    for a, b in zip(parallel, serial, strict=True):
        assert snapshot_of(a) == snapshot_of(b), a.file


def _wait_for_meanwhile(sub: Submission, *settings: object) -> bytes:
    """A stand-in parse that marks itself started, then waits (at most 60 s) for the parent's ``meanwhile``."""
    folder = sub.path.parent
    (folder / f"started-{sub.file}").touch()
    for _ in range(600):
        if (folder / "meanwhile-done").exists():
            sub.note = "overlapped"
            break
        time.sleep(0.1)
    return pickle.dumps(sub)


def test_meanwhile_runs_once_while_the_workers_parse(tmp_path: Path) -> None:
    """parse_killable calls ``meanwhile`` once, in the parent, after the workers have started on their files:
    the parse and the parent's own work (check imports pandas and pandera there) overlap."""
    from returns import settings as repo_settings

    from pipeline.intake.workers import parse_killable

    subs = [Submission(file=f"{n}.xlsx", path=tmp_path / f"{n}.xlsx", sha256="", mtime=0.0) for n in ("a", "b")]
    calls: list[bool] = []

    def meanwhile() -> None:
        for _ in range(600):  # the first worker has begun its first file before this runs
            if (tmp_path / "started-a.xlsx").exists():
                break
            time.sleep(0.1)
        calls.append((tmp_path / "started-a.xlsx").exists())
        (tmp_path / "meanwhile-done").touch()

    results = dict(parse_killable(subs, _wait_for_meanwhile, repo_settings(), 120, 1, meanwhile=meanwhile))
    assert calls == [True]
    assert [pickle.loads(results[i]).note for i in range(2)] == ["overlapped", "overlapped"]


# ----------------------------------------------------------------------------- the parse cache


@pytest.fixture
def small_inbox(tmp_path: Path) -> Path:
    """Five files: a clean 附件1, a warned one, a rejected 附件2, a PDF and an Office lock file."""
    inbox = tmp_path / "inbox"
    make_return(inbox, "annex1", "U001", clean_values("annex1"), name="U001_附件1.xlsx")
    make_return(inbox, "annex1", "U002", clean_values("annex1", s1_center_study_people="12次"), name="U002_附件1.xlsx")
    make_return(inbox, "annex2", "U003", clean_values("annex2", mobile="1381234567"), name="U003_附件2.xlsx")
    (inbox / "U001_活动总结.pdf").write_bytes(PDF)
    (inbox / "~$U001_附件1.xlsx").write_bytes(b"\x04Li Ming" + b"\x00" * 100)
    return inbox


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the file of every parse from now on (each file sent to the worker processes)."""
    parsed: list[str] = []
    real = ingest.parse_killable

    def spy(subs: list[Submission], *args: Any) -> Any:
        parsed.extend(sub.file for sub in subs)
        return real(subs, *args)

    monkeypatch.setattr(ingest, "parse_killable", spy)
    return parsed


def cached_keys(ledger: Ledger) -> set[str]:
    """The keys of the ledger's parse cache."""
    return {key for (key,) in ledger.db.execute("SELECT key FROM cache") if key.startswith("parse:")}



def test_second_read_parses_nothing_and_equals_the_first(
    small_inbox: Path, tmp_path: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second read_all with the ledger as cache parses no file and returns the same submissions, with fresh file times."""
    parsed = count_parses(monkeypatch)
    paths = scan_inbox(small_inbox)
    with Ledger(tmp_path / LEDGER_NAME) as ledger:
        first = read_inbox(paths, small_inbox, forms, campaign, roster, cache=ledger)
        assert sorted(parsed) == sorted(s.file for s in first) and len(parsed) == len(paths)
        assert cached_keys(ledger) == set(ingest.cache_keys(forms, campaign, roster, first))
        parsed.clear()
        stamp = dt.datetime(2023, 6, 29, 8).timestamp()
        os.utime(small_inbox / "U001_附件1.xlsx", (stamp, stamp))  # touched, not changed
        second = read_inbox(paths, small_inbox, forms, campaign, roster, cache=ledger)
    assert parsed == []
    assert [snapshot_of(s) for s in second] == [snapshot_of(s) for s in first]
    assert [s.path for s in second] == paths
    assert next(s for s in second if s.file == "U001_附件1.xlsx").mtime == stamp
    assert {s.file: s.outcome for s in second}["U001_活动总结.pdf"] == Outcome.MATERIAL


def _other_spec(forms: dict[str, FormSpec]) -> dict[str, FormSpec]:
    return {**forms, "annex1": dataclasses.replace(forms["annex1"], version="x")}


def _other_roster(roster: Roster) -> Roster:
    return Roster([*roster.units, Unit("U999", "清河县新成立的运输公司", "运输企业", "u999@example.com")], roster.path)


def _other_campaign(campaign: Campaign) -> Campaign:
    return dataclasses.replace(campaign, limits=dataclasses.replace(campaign.limits, max_rows=1999))


@pytest.mark.parametrize("change", ["spec", "roster", "program", "campaign"])
def test_cache_is_invalidated_when_settings_change(
    small_inbox: Path, tmp_path: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
    monkeypatch: pytest.MonkeyPatch, change: str,
) -> None:
    """A changed form spec, roster, program digest or campaign makes every file be parsed again; pruning keeps only the new parses."""
    parsed = count_parses(monkeypatch)
    paths = scan_inbox(small_inbox)
    with Ledger(tmp_path / LEDGER_NAME) as ledger:
        read_inbox(paths, small_inbox, forms, campaign, roster, cache=ledger)
        parsed.clear()
        if change == "spec":
            forms = _other_spec(forms)
        elif change == "roster":
            roster = _other_roster(roster)
        elif change == "program":
            monkeypatch.setattr(program, "program_digest", lambda: "the digest of a changed program")
        else:
            campaign = _other_campaign(campaign)
        again = read_inbox(paths, small_inbox, forms, campaign, roster, cache=ledger)
        assert sorted(parsed) == sorted(s.file for s in again) and len(parsed) == len(paths)
        parsed.clear()
        read_inbox(paths, small_inbox, forms, campaign, roster, cache=ledger)
        assert parsed == [], "the new parses are cached in turn"
        assert len(cached_keys(ledger)) == 2 * len(paths)
        ledger.cache_prune(ingest.cache_keys(forms, campaign, roster, again))
        assert cached_keys(ledger) == set(ingest.cache_keys(forms, campaign, roster, again))
    if change == "spec":  # the stale parse would have been wrong: the templates now carry an old version
        u001 = next(s for s in again if s.file == "U001_附件1.xlsx")
        assert "模板版本过期" in {f.rule for f in u001.findings}


def test_program_digest_changes_with_any_line_of_code(tmp_path: Path) -> None:
    """The digest the parse cache is keyed on covers every .py and .toml file of the package, and nothing else."""
    copy = tmp_path / "pipeline"
    shutil.copytree(Path(program.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = program.package_digest(copy)
    assert before == program.program_digest()
    (copy / "notes.txt").write_text("not code", encoding="utf-8")
    assert program.package_digest(copy) == before
    for name in ("values/normalise.py", "forms/annex1.toml"):
        target = copy / name
        original = target.read_bytes()
        target.write_bytes(original + b"\n# one more line\n")
        assert program.package_digest(copy) != before, name
        target.write_bytes(original)
    assert program.package_digest(copy) == before


def test_cache_is_invalidated_for_a_rewritten_or_renamed_file(
    small_inbox: Path, tmp_path: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a file whose bytes changed, or a copy under a new name, is parsed again, and the new bytes are what count."""
    parsed = count_parses(monkeypatch)
    with Ledger(tmp_path / LEDGER_NAME) as ledger:
        read_inbox(scan_inbox(small_inbox), small_inbox, forms, campaign, roster, cache=ledger)
        parsed.clear()
        make_return(small_inbox, "annex1", "U002", clean_values("annex1", s1_center_study_people=40),
                    name="U002_附件1.xlsx")
        copy = small_inbox / "later" / "U001_附件1.xlsx"
        copy.parent.mkdir()
        copy.write_bytes((small_inbox / "U001_附件1.xlsx").read_bytes())
        subs = read_inbox(scan_inbox(small_inbox), small_inbox, forms, campaign, roster, cache=ledger)
    assert sorted(parsed) == ["U002_附件1.xlsx", "later/U001_附件1.xlsx"]
    u002 = next(s for s in subs if s.file == "U002_附件1.xlsx")
    assert u002.values["s1_center_study_people"] == 40 and u002.findings == []


def _rollup_main(inbox: Path, outbox: Path) -> None:
    code = main(["rollup", "--campaign", str(CAMPAIGN_TOML), "--roster", str(UNITS_CSV), "--inbox", str(inbox),
                 "--outbox", str(outbox)])
    assert code == 0


def _csv_bytes(outbox: Path) -> dict[str, bytes]:
    return {name: (outbox / name).read_bytes() for name in COMPARED_CSVS}


def test_rollup_command_reuses_the_cache_and_prunes_removed_files(
    small_inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rollups parse only new files and write the same CSVs; a file removed from the inbox leaves the cache."""
    outbox = tmp_path / "outbox"
    parsed = count_parses(monkeypatch)
    _rollup_main(small_inbox, outbox)
    assert len(parsed) == 5
    first = _csv_bytes(outbox)
    parsed.clear()
    _rollup_main(small_inbox, outbox)
    assert parsed == []
    assert _csv_bytes(outbox) == first
    (small_inbox / "U004_附件1.xlsx").write_bytes(b"")  # a new (broken) file: the run cannot be skipped
    _rollup_main(small_inbox, outbox)
    assert parsed == ["U004_附件1.xlsx"], "only the new file is parsed"
    (small_inbox / "U004_附件1.xlsx").unlink()
    parsed.clear()
    _rollup_main(small_inbox, outbox)
    assert parsed == []
    assert _csv_bytes(outbox) == first
    with sqlite3.connect(outbox / LEDGER_NAME) as db:
        before = {key for (key,) in db.execute("SELECT key FROM cache") if key.startswith("parse:")}
    assert len(before) == 5
    (small_inbox / "U002_附件1.xlsx").unlink()
    _rollup_main(small_inbox, outbox)
    assert parsed == []
    with sqlite3.connect(outbox / LEDGER_NAME) as db:
        after = {key for (key,) in db.execute("SELECT key FROM cache") if key.startswith("parse:")}
    assert after < before and len(after) == 4
    assert not any(key.endswith(":U002_附件1.xlsx") for key in after)
    capsys.readouterr()


# ----------------------------------------------------------------------------- feedback workbooks


def test_unchanged_feedback_workbooks_are_not_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Re-running the rollup leaves feedback workbooks alone; a changed return rewrites only its unit's; a passed unit's is removed."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    make_return(inbox, "annex1", "U001", clean_values("annex1", s1_center_study_times=-1), name="U001_附件1.xlsx")
    make_return(inbox, "annex1", "U002", clean_values("annex1", s1_center_study_people="12次"), name="U002_附件1.xlsx")
    make_return(inbox, "annex2", "U003", clean_values("annex2", mobile="1381234567"), name="U003_附件2.xlsx")
    folder = outbox / FEEDBACK_DIR
    _rollup_main(inbox, outbox)
    books = sorted(p.name for p in folder.glob("*.xlsx"))
    assert len(books) == 3
    u001, u002, u003 = (next(b for b in books if f"_{code}_" in b) for code in ("U001", "U002", "U003"))
    for name in books:
        os.utime(folder / name, ns=(OLD_NS, OLD_NS))

    def times() -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.xlsx")}

    _rollup_main(inbox, outbox)
    assert times() == dict.fromkeys(books, OLD_NS)
    make_return(inbox, "annex1", "U004", clean_values("annex1"), name="U004_附件1.xlsx")  # forces a full run
    _rollup_main(inbox, outbox)
    assert times() == dict.fromkeys(books, OLD_NS), "unchanged feedback is not rewritten by a full run either"

    before = (folder / u001).read_bytes()
    make_return(inbox, "annex1", "U001", clean_values("annex1", s1_center_study_times="abc"), name="U001_附件1.xlsx")
    _rollup_main(inbox, outbox)
    now = times()
    assert now[u001] != OLD_NS and (folder / u001).read_bytes() != before
    assert (now[u002], now[u003]) == (OLD_NS, OLD_NS)

    make_return(inbox, "annex1", "U002", clean_values("annex1"), name="U002_附件1.xlsx")
    _rollup_main(inbox, outbox)
    assert times() == {u001: now[u001], u003: OLD_NS}
    capsys.readouterr()


# ----------------------------------------------------------------------------- PIPELINE_READER=full


def test_reader_full_disables_the_fast_reader(
    small_inbox: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With PIPELINE_READER=full the fast reader is never called and the return is still read in full."""
    calls: list[Path] = []

    def refuse(path: Path, *args: Any) -> Book | None:
        calls.append(path)
        raise AssertionError("the fast reader must not be called")

    path = small_inbox / "U001_附件1.xlsx"
    monkeypatch.setattr(fastread, "load_xlsx_fast", refuse)
    monkeypatch.setenv(program.READER_ENV, "full")
    assert program.fast_reader_enabled() is False
    sub = ingest.read_file(path, small_inbox, forms, campaign, roster)
    assert calls == []
    assert sub.form_id == "annex1" and sub.unit is not None and sub.unit.code == "U001" and sub.findings == []
    assert sub.values["s1_center_study_times"] == 3
    monkeypatch.delenv(program.READER_ENV)
    assert program.fast_reader_enabled() is True
    ingest.read_file(path, small_inbox, forms, campaign, roster)
    assert calls == [path], "the spy does see the fast reader when it is enabled"


def test_cache_entries_that_no_longer_load_are_parsed_again(
    small_inbox: Path, tmp_path: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cached parse that fails to unpickle, or is not a Submission, counts as a miss and the file is parsed afresh."""
    parsed = count_parses(monkeypatch)
    paths = scan_inbox(small_inbox)
    with Ledger(tmp_path / LEDGER_NAME) as ledger:
        first = read_inbox(paths, small_inbox, forms, campaign, roster, cache=ledger)
        keys = dict(zip((s.file for s in first), ingest.cache_keys(forms, campaign, roster, first), strict=True))
        ledger.cache_put(keys["U001_附件1.xlsx"], b"\x80\x05not a pickle")
        ledger.cache_put(keys["U002_附件1.xlsx"], pickle.dumps({"written by": "another version"}))
        parsed.clear()
        second = read_inbox(paths, small_inbox, forms, campaign, roster, cache=ledger)
        assert sorted(parsed) == ["U001_附件1.xlsx", "U002_附件1.xlsx"]
        parsed.clear()
        read_inbox(paths, small_inbox, forms, campaign, roster, cache=ledger)
    assert parsed == [], "the fresh parses replaced the stale entries"
    assert [snapshot_of(s) for s in second] == [snapshot_of(s) for s in first]


def test_forked_workbook_writer_and_its_in_process_fallback(
    small_inbox: Path, tmp_path: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The workbook is written by the forked child; when the child fails, the parent writes the same workbook itself."""
    rollup = rollup_of(small_inbox, forms, campaign, roster)
    expected, _ = write_outputs(tmp_path / "serial", rollup, parallel=False)
    parent, real = os.getpid(), report.write_workbook
    in_parent: list[Path] = []

    def write(path: Path, rollup: Any, fail_in_child: bool) -> None:
        if os.getpid() == parent:
            in_parent.append(path)
        elif fail_in_child:
            raise RuntimeError("the forked writer failed")
        real(path, rollup)

    for fail_in_child, parent_writes in ((False, 0), (True, 1)):
        in_parent.clear()
        monkeypatch.setattr(report, "write_workbook", lambda p, r, f=fail_in_child: write(p, r, f))
        outbox = tmp_path / f"outbox-{fail_in_child}"
        path, _ = write_outputs(outbox, rollup)
        assert len(in_parent) == parent_writes
        assert workbook_values(path) == workbook_values(expected)
        assert not [p.name for p in outbox.iterdir() if p.name.endswith(".tmp")]


def _window_reference(refs: list[tuple[str, int]], limits: Limits) -> bool:
    return all(row <= limits.max_rows and column_index_from_string(col) <= limits.max_columns for col, row in refs)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 18278), st.integers(1, 3000)), max_size=12),
       st.integers(1, 800), st.integers(1, 2500))
def test_window_check_agrees_with_a_cell_by_cell_check(cells: list[tuple[int, int]], max_columns: int,
                                                        max_rows: int) -> None:
    """The fast reader's vectorised window check says what checking every cell reference one by one says (a cell twice is refused)."""
    limits = Limits(max_rows=max_rows, max_columns=max_columns)
    refs = [(get_column_letter(col), row) for col, row in cells]
    expected = _window_reference(refs, limits) and len(set(refs)) == len(refs)
    assert sheetxml._within(tuple(f"{col}{row}" for col, row in refs), max_rows, max_columns) is expected


def settled_clock(folder: Path) -> Callable[[], int]:
    """A clock that stands well past the racy window of every file in ``folder`` (as a later run would)."""
    newest = max(max(p.stat().st_mtime_ns, p.stat().st_ctime_ns) for p in folder.rglob("*"))
    return lambda: newest + 2 * RACY_NS


def digest_calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every file whose bytes are read for its sha256 from now on."""

    calls: list[Path] = []
    real = scan.file_digest

    def spy(path: Path) -> str:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(scan, "file_digest", spy)
    return calls


def test_unchanged_files_are_not_read_again_for_their_hash(small_inbox: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """With the ledger's stat cache a second stamp_inbox reads no file; a rewritten or removed file is noticed."""
    calls = digest_calls(monkeypatch)
    paths = scan_inbox(small_inbox)
    later = settled_clock(small_inbox)  # the files were hashed long after they were written
    with Ledger(tmp_path / LEDGER_NAME) as ledger:
        first = scan.stamp_inbox(small_inbox, ledger.file_stats(), clock=later)
        assert sorted(calls) == sorted(paths)
        calls.clear()
        second = scan.stamp_inbox(small_inbox, ledger.file_stats(), clock=later)
        assert calls == []
        assert [(s.file, s.sha256, s.size, s.mtime) for s in second] == [(s.file, s.sha256, s.size, s.mtime)
                                                                          for s in first]
        # Same size, same modification time, new bytes: only the change time (ctime) tells.
        target = small_inbox / "U001_活动总结.pdf"
        before = target.stat()
        target.write_bytes(target.read_bytes().replace(b"%PDF", b"%pdf", 1))
        os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
        (small_inbox / "U002_附件1.xlsx").unlink()
        third = scan.stamp_inbox(small_inbox, ledger.file_stats(), clock=settled_clock(small_inbox))
        assert calls == [target]
        assert next(s for s in third if Path(s.path) == target).sha256 == hashlib.sha256(target.read_bytes()).hexdigest()
        stored = {bytes(p) for (p,) in ledger.db.execute("SELECT path FROM file_stats")}
    assert stored == {os.fsencode(p) for p in scan_inbox(small_inbox)}


def test_files_written_just_before_hashing_are_hashed_every_time(small_inbox: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A file whose times lie within RACY_NS of its hashing may still change in the same clock tick: it is read again."""
    calls = digest_calls(monkeypatch)
    paths = scan_inbox(small_inbox)
    newest = max(max(p.stat().st_mtime_ns, p.stat().st_ctime_ns) for p in paths)
    just_after = lambda: newest + RACY_NS - 1  # noqa: E731  (hashed within the racy window of the newest file)
    with Ledger(tmp_path / LEDGER_NAME) as ledger:
        scan.stamp_inbox(small_inbox, ledger.file_stats(), clock=just_after)
        calls.clear()
        scan.stamp_inbox(small_inbox, ledger.file_stats(), clock=just_after)
    racy = [p for p in paths if max(p.stat().st_mtime_ns, p.stat().st_ctime_ns) >= just_after() - RACY_NS]
    assert racy and sorted(calls) == sorted(racy)  # the newest file at least; older ones outside the window are not
