"""Untrusted returns: hostile and broken files, tampering, injection — nothing lost, never a crash.

The corpus (tests/corpus.py) is built by code into one inbox together with clean returns of
five units, and rolled up ONCE through ``python -m pipeline rollup`` (module fixture); most
tests read that run's outputs. Caps are small in this campaign copy (1 MB files, 2 MB
unzipped) so that a zip bomb needs megabytes, not gigabytes.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import openpyxl
import pytest
from corpus import (
    CASES,
    INJECTED,
    REPO,
    SHEET_PART,
    VALID_UNITS,
    Case,
    Kit,
    billion_laughs,
    build_corpus,
    build_valid,
    edit,
    named_cell,
    ole_file,
    read_csv,
    rewrite_zip,
    snapshot,
    workbook_values,
    write_settings,
)
from hypothesis import given, settings
from returns import rollup_of, settled_rollup

import pipeline.safety.guards as guards
import pipeline.workbook.read as reader
from pipeline.checks.validate import validate
from pipeline.faults import MACHINE_FAULT_NOTE, TIMEOUT_RULE
from pipeline.intake.batch import read_all, read_file
from pipeline.intake.scan import new_submission
from pipeline.job import write_outputs
from pipeline.model import Outcome, RawCell, Severity, Submission
from pipeline.outputs.report import FORMULA_TRIGGERS
from pipeline.safety.sniff import sniff
from pipeline.settings.campaign import Limits
from pipeline.store.atomic import KILL_ENV, KILLED_EXIT
from pipeline.values.normalise import normalise_submission

CSV_NAMES = ("records.csv", "issues.csv", "status.csv", "materials.csv", "files.csv")
SUMMARY_RE = re.compile(r"收到文件 (\d+) 个 = (.+)")
SUMMARY_LABELS = {"采用": Outcome.ACCEPTED, "已被替代": Outcome.SUPERSEDED, "退回": Outcome.REJECTED, "无法识别": Outcome.UNSUPPORTED,
                  "重复": Outcome.DUPLICATE, "忽略": Outcome.IGNORED, "材料": Outcome.MATERIAL}


def rollup_cli(settings_files: tuple[Path, Path], inbox: Path, outbox: Path, *, env: dict[str, str] | None = None,
               wait: bool = True) -> Any:
    """Run ``python -m pipeline rollup`` in a subprocess (a Popen when ``wait`` is False)."""
    campaign, roster = settings_files
    command = [sys.executable, "-m", "pipeline", "rollup", "--campaign", str(campaign), "--roster", str(roster),
               "--inbox", str(inbox), "--outbox", str(outbox)]
    # This checkout's package, whatever an editable install elsewhere points at (cwd is the outbox's parent).
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))
    environment = {**os.environ, "PYTHONPATH": path, **(env or {})}
    if not wait:
        return subprocess.Popen(command, cwd=outbox.parent, env=environment, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    return subprocess.run(command, cwd=outbox.parent, env=environment, capture_output=True, text=True, timeout=300,
                          check=False)


@dataclass
class World:
    """The corpus inbox and the outputs of one CLI rollup over it."""

    root: Path
    settings: tuple[Path, Path]
    kit: Kit
    inbox: Path
    outbox: Path
    cases: dict[str, Case]
    before: dict[str, tuple[str, int, int]]
    after: dict[str, tuple[str, int, int]]
    listing: tuple[list[str], list[str]]
    proc: subprocess.CompletedProcess[str]

    def csv(self, name: str) -> list[dict[str, str]]:
        """Rows of one output CSV."""
        return read_csv(self.outbox / name)

    @property
    def files(self) -> dict[str, dict[str, str]]:
        """files.csv by file."""
        return {row["file"]: row for row in self.csv("files.csv")}


def _workbook(outbox: Path) -> Path:
    books = list(outbox.glob("*.xlsx"))
    assert len(books) == 1, books
    return books[0]


def _listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def kit_settings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Kit, tuple[Path, Path]]:
    """The small-caps campaign copy and the roster with the corpus units."""
    files = write_settings(tmp_path_factory.mktemp("settings"))
    return Kit.load(*files), files


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, kit_settings: tuple[Kit, tuple[Path, Path]]) -> World:
    """Corpus plus clean returns in one inbox, rolled up once by the CLI."""
    kit, files = kit_settings
    root = tmp_path_factory.mktemp("hostile")
    inbox, outbox = root / "inbox", root / "outbox"
    cases = build_corpus(inbox, kit)
    build_valid(inbox, kit)
    before, listing = snapshot(inbox), _listing(inbox)
    proc = rollup_cli(files, inbox, outbox)
    return World(root, files, kit, inbox, outbox, cases, before, snapshot(inbox), (listing, _listing(inbox)), proc)


def _issues_of(world: World, file: str) -> list[str]:
    return [f"{row['rule']}：{row['message']}" for row in world.csv("issues.csv") if row["file"] == file]


# ----------------------------------------------------------------------------- the corpus, case by case


@pytest.mark.parametrize("case", CASES, ids=[f"{c.number:02d}-{i}" for i, c in enumerate(CASES)])
def test_corpus_case(world: World, case: Case) -> None:
    """Each corpus file ends with its expected outcome, form and message fragments, and the run goes on."""
    file = guards.safe_name(case.file)
    row = world.files[file]
    issues = _issues_of(world, file)
    assert row["outcome"] == case.outcome, (row, issues)
    if case.form:
        assert row["form"] == case.form, row
    for fragment in case.fragments:
        assert any(fragment in text for text in issues), (fragment, issues)
    if case.note:
        assert case.note in row["note"], row
    for text in issues:  # every message names the file and says what to do
        assert f"文件“{file}”" in text and "。" in text, text
    if case.outcome == Outcome.UNSUPPORTED:
        assert [row["severity"] for row in world.csv("issues.csv") if row["file"] == file] == [Severity.ERROR], issues


def test_whole_inbox_run_exits_0_and_accounts_for_every_file(world: World) -> None:
    """Corpus plus valid returns: exit 0, files.csv lists every inbox file once, and the summary balances."""
    assert world.proc.returncode == 0, world.proc.stderr
    on_disk = sorted(guards.safe_name(name) for name in world.before)
    listed = [row["file"] for row in world.csv("files.csv")]
    assert sorted(listed) == on_disk and len(set(listed)) == len(listed)
    match = SUMMARY_RE.search(world.proc.stdout)
    assert match, world.proc.stdout
    parts = {SUMMARY_LABELS[label]: int(n) for label, n in re.findall(r"(\S+) (\d+)", match.group(2))}
    assert int(match.group(1)) == sum(parts.values()) == len(on_disk), match.group(0)
    outcomes = Counter(row["outcome"] for row in world.csv("files.csv"))
    assert parts == {outcome: outcomes.get(outcome, 0) for outcome in SUMMARY_LABELS.values()}
    for file, row in world.files.items():  # a file that is not used says why, in issues.csv
        if row["outcome"] in (Outcome.REJECTED, Outcome.UNSUPPORTED):
            assert any(r["severity"] == Severity.ERROR for r in world.csv("issues.csv") if r["file"] == file), file


def test_valid_totals_are_the_same_without_the_corpus(world: World, tmp_path: Path) -> None:
    """The clean returns' records are identical in a run over the clean returns alone."""
    inbox = tmp_path / "inbox"
    shutil.copytree(world.inbox / "valid", inbox / "valid")
    proc = rollup_cli(world.settings, inbox, tmp_path / "outbox")
    assert proc.returncode == 0, proc.stderr

    def valid(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return [r for r in rows if r["unit_code"] in VALID_UNITS]

    alone = read_csv(tmp_path / "outbox" / "records.csv")
    assert valid(world.csv("records.csv")) == alone and len(alone) > 100


def test_inbox_is_never_modified(world: World) -> None:
    """Every inbox file has the same bytes and mtime after the run, and nothing was added or removed."""
    assert world.after == world.before
    assert world.listing[0] == world.listing[1]


def test_ledger_records_hash_first_seen_outcome_and_run(world: World) -> None:
    """The ledger holds every file's sha256, first-seen time and latest outcome, and each run's outcomes."""
    with sqlite3.connect(world.outbox / "ledger.sqlite") as db:
        files = {f: (sha, seen, outcome, run) for sha, f, seen, outcome, run in db.execute(
            "SELECT sha256, file, first_seen, last_outcome, last_run FROM files")}
        runs = [r for (r,) in db.execute("SELECT run_id FROM runs ORDER BY started, rowid")]
        per_run = dict(db.execute("SELECT run_id, COUNT(*) FROM outcomes GROUP BY run_id").fetchall())
    for file, row in world.files.items():
        sha, seen, outcome, run = files[file]
        assert (sha, outcome, run) == (row["sha256"], row["outcome"], runs[-1]), file
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", seen), seen
    assert all(per_run[r] == len(world.files) for r in runs)
    assert all(len(row["sha256"]) == 64 for row in world.files.values())


def test_second_run_gives_identical_outputs(world: World) -> None:
    """Running again over the same inbox gives byte-identical CSVs, the same workbook values and first-seen times."""
    workbook = _workbook(world.outbox)
    header = [k for k, v in workbook_values(workbook).items() if isinstance(v, str) and "填报日期：" in v]
    csvs = {name: (world.outbox / name).read_bytes() for name in CSV_NAMES}
    values = workbook_values(workbook, skip=header)
    with sqlite3.connect(world.outbox / "ledger.sqlite") as db:
        seen = db.execute("SELECT file, first_seen FROM files ORDER BY file").fetchall()

    proc = rollup_cli(world.settings, world.inbox, world.outbox)

    assert proc.returncode == 0, proc.stderr
    assert {name: (world.outbox / name).read_bytes() for name in CSV_NAMES} == csvs
    assert workbook_values(workbook, skip=header) == values
    with sqlite3.connect(world.outbox / "ledger.sqlite") as db:
        assert db.execute("SELECT file, first_seen FROM files ORDER BY file").fetchall() == seen
    assert snapshot(world.inbox) == world.before


# ----------------------------------------------------------------------------- injection


def test_rollup_workbook_has_no_formula_and_no_link_from_unit_text(world: World) -> None:
    """Unit text starting with = + - @ or looking like a URL is a plain, quote-prefixed string in the rollup."""
    path = _workbook(world.outbox)
    materials = {row["file"] for row in world.files.values() if row["outcome"] == Outcome.MATERIAL}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            text = archive.read(name).decode("utf-8", "replace")
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                assert not re.search(r"<f[ >]", text), name
            # The only links are the 材料清单's links to material files in the inbox, made from their paths.
            for target in re.findall(r'Type="[^"]*/hyperlink" Target="([^"]*)"', text):
                linked = (world.outbox / target.replace("\\", "/")).resolve()
                assert linked.relative_to(world.inbox.resolve()).as_posix() in materials, target
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                links = re.findall(r"<hyperlink [^>]*>", text)
                assert all(" r:id=" in link for link in links), links  # no in-document or formula links

    wb = openpyxl.load_workbook(path)
    try:
        found = [(ws.title, c) for ws in wb.worksheets for row in ws.iter_rows() for c in row
                 if c.value in INJECTED.values()]
    finally:
        wb.close()
    assert {c.value for _, c in found} >= {INJECTED["case"], INJECTED["title"], INJECTED["note"], INJECTED["name"]}
    for title, cell in found:
        assert cell.data_type == "s", (title, cell.coordinate)
        if str(cell.value).startswith(FORMULA_TRIGGERS):
            assert cell.quotePrefix, (title, cell.coordinate, cell.value)


def test_csv_cells_never_start_a_formula(world: World) -> None:
    """In every CSV, text that a spreadsheet would evaluate is prefixed with a quote; numbers stay numbers."""
    for name in CSV_NAMES:
        with (world.outbox / name).open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    assert not cell.startswith(FORMULA_TRIGGERS) or re.fullmatch(r"-\d+(\.\d+)?", cell), (name, cell)
    records = {(r["unit_code"], r["form"], r["field_id"]): r["value"] for r in world.csv("records.csv")}
    assert records[("T20", "annex2", "note")] == "'" + INJECTED["note"]
    assert records[("T20", "annex2", "name")] == "'" + INJECTED["name"]
    assert records[("T20", "annex1", "contact")] == "'" + INJECTED["contact"]
    assert records[("T20", "annex1", "s4_case_details")] == "'" + INJECTED["case"]
    assert records[("T20", "annex2", "title")] == INJECTED["title"]


# ----------------------------------------------------------------------------- crash safety


def _outputs(outbox: Path) -> dict[str, Any]:
    """What must survive a crash: each CSV's rows (without ledger times) and the detail sheet's values."""
    state: dict[str, Any] = {}
    for name in CSV_NAMES:
        rows = read_csv(outbox / name)
        state[name] = [{k: v for k, v in r.items() if k != "first_seen"} for r in rows]
    state["xlsx"] = {k: v for k, v in workbook_values(_workbook(outbox)).items() if k[0] == "分单位明细"}
    return state


def _assert_old_or_new(outbox: Path, old: dict[str, Any], new: dict[str, Any]) -> None:
    now = _outputs(outbox)  # every file must parse completely
    for key, value in now.items():
        assert value in (old[key], new[key]), key


def test_killed_runs_leave_the_previous_outputs_intact(world: World, tmp_path: Path) -> None:
    """Killed after reading and at each output's rename (named kill points): every output stays complete, old or new."""
    inbox, pristine, outbox = tmp_path / "inbox", tmp_path / "pristine", tmp_path / "outbox"
    shutil.copytree(world.inbox / "valid", inbox / "valid")
    assert rollup_cli(world.settings, inbox, pristine).returncode == 0
    old, new = _outputs(pristine), _outputs(world.outbox)
    assert all(old[k] != new[k] for k in old)
    # The run dies at once (os._exit, as under kill -9) at the named point of pipeline.store.atomic.kill_point:
    # after the inbox is read, and with the workbook, the first, second and last CSV written but not yet renamed.
    points = ["read", f"rename:{_workbook(world.outbox).name}", *(f"rename:{n}" for n in CSV_NAMES[:2]),
              f"begin:{CSV_NAMES[-1]}", f"rename:{CSV_NAMES[-1]}"]
    states = []
    for point in points:
        shutil.rmtree(outbox, ignore_errors=True)
        shutil.copytree(pristine, outbox)
        proc = rollup_cli(world.settings, world.inbox, outbox, env={KILL_ENV: point})
        assert proc.returncode == KILLED_EXIT, (point, proc.stdout, proc.stderr)
        _assert_old_or_new(outbox, old, new)
        states.append(tuple(v == new[k] for k, v in _outputs(outbox).items()))
    assert len(set(states)) > 2, states  # the kills did land at different points of the writing
    assert rollup_cli(world.settings, world.inbox, outbox).returncode == 0
    assert _outputs(outbox) == new
    with sqlite3.connect(outbox / "ledger.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


class _Killed(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the pipeline catches it."""


def test_crash_at_each_rename_leaves_every_output_old_or_new(world: World, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash just before each atomic rename leaves complete files and no temporary file behind.

    The outputs are written in one process here so that every rename is reached in turn; the
    forked workbook writer is killed for real in the test above.
    """
    kit = world.kit
    old_rollup = rollup_of(world.inbox / "valid", kit.forms, kit.campaign, kit.roster)
    new_rollup = rollup_of(world.inbox, kit.forms, kit.campaign, kit.roster)
    write_outputs(tmp_path / "new", new_rollup)
    outbox = tmp_path / "outbox"
    write_outputs(outbox, old_rollup)
    old, new = _outputs(outbox), _outputs(tmp_path / "new")
    real_replace = Path.replace
    for crash_at in range(len(CSV_NAMES) + 1):
        calls = []

        def replace(self: Path, target: Any, crash_at: int = crash_at, calls: list[int] = calls) -> Path:
            if len(calls) == crash_at:
                raise _Killed
            calls.append(1)
            return real_replace(self, target)

        monkeypatch.setattr(Path, "replace", replace)
        with pytest.raises(_Killed):
            write_outputs(outbox, new_rollup, parallel=False)
        monkeypatch.undo()
        _assert_old_or_new(outbox, old, new)
        assert not [p.name for p in outbox.iterdir() if p.name.endswith(".tmp")]
    write_outputs(outbox, new_rollup)
    assert _outputs(outbox) == new


# ----------------------------------------------------------------------------- guards


def test_program_refuses_to_start_without_defusedxml(world: World, tmp_path: Path) -> None:
    """With openpyxl's defusedxml switched off the CLI stops with a clear error before reading anything."""
    proc = rollup_cli(world.settings, world.inbox, tmp_path / "outbox", env={"OPENPYXL_DEFUSEDXML": "False"})
    assert proc.returncode == 2
    assert "defusedxml" in proc.stderr and "拒绝运行" in proc.stderr
    assert not (tmp_path / "outbox").exists()


def test_defusedxml_stops_entities_even_past_the_prescan(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the DTD pre-scan switched off, defusedxml itself refuses the entity expansion."""
    monkeypatch.setattr(guards, "_scan_xml_part", lambda *args: None)
    path = world.inbox / "c08" / "附件1.xlsx"
    sub = read_file(path, world.inbox, world.kit.forms, world.kit.campaign, world.kit.roster)
    assert sub.outcome == Outcome.UNSUPPORTED
    assert [f.rule for f in sub.findings] == ["不安全内容"], [f.text for f in sub.findings]


def test_huge_dimension_and_far_cells_cost_nothing(world: World) -> None:
    """A sheet declaring A1:XFD1048576 with a cell and a merge out there is read without allocating for that range.

    How long it takes is measured by ``make bench`` (bench/run.py, scenario “far cells”), not here.
    """
    import tracemalloc

    tracemalloc.start()
    try:
        sub = read_file(world.inbox / "c09" / "附件1.xlsx", world.inbox, world.kit.forms, world.kit.campaign,
                        world.kit.roster)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20  # a grid for A1:XFD1048576 would need terabytes; the bounded grid a few megabytes
    assert sub.errors == 0 and sub.values["s1_center_study_times"] == 3
    assert [f.rule for f in sub.findings] == ["范围外内容"]


def test_slow_file_is_stopped_and_reported(kit_settings: tuple[Kit, tuple[Path, Path]], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A file still unread after seconds_per_file has its worker killed: 处理超时 (本机问题), and the next file reads normally."""
    files = write_settings(tmp_path / "settings", {"seconds_per_file": 1})
    kit = Kit.load(*files)
    first = kit.filled(tmp_path / "inbox" / "a.xlsx", "annex1", "T31")
    second = kit.filled(tmp_path / "inbox" / "b.xlsx", "annex1", "T32")
    real_load = reader.load_xlsx
    monkeypatch.setenv("PIPELINE_READER", "full")  # the slow stand-in replaces the full reader

    def slow(path: Path, limits: Limits) -> Any:
        if path == first:  # never returns by itself: only killing its process can end it
            threading.Event().wait()
        return real_load(path, limits)

    monkeypatch.setattr(reader, "load_xlsx", slow)  # the workers are forked: they inherit the stand-in
    slow_sub, fine = read_all([new_submission(p, first.parent) for p in (first, second)], kit.forms, kit.campaign,
                              kit.roster)
    assert (slow_sub.outcome, slow_sub.machine_fault, slow_sub.findings) == (Outcome.UNSUPPORTED, TIMEOUT_RULE, [])
    assert "1 秒" in slow_sub.note and slow_sub.note.startswith(MACHINE_FAULT_NOTE)
    assert not fine.outcome and fine.errors == 0


def test_tag_cap_refuses_a_sheet_far_bigger_than_the_grid(world: World, tmp_path: Path) -> None:
    """A part with more XML tags than max_rows x max_columns cells allow is refused before any parser runs."""
    path = tmp_path / "big.xlsx"
    shutil.copy(world.inbox / "valid" / "U001_附件1.xlsx", path)
    rewrite_zip(path, add={"customXml/item1.xml": b"<a>" + b"<b/>" * 70_000 + b"</a>"})
    small = Limits(max_rows=100, max_columns=10)
    with pytest.raises(guards.GuardError) as refused:
        guards.check_package(path, small)
    assert refused.value.rule == "内容过多" and "customXml/item1.xml" in refused.value.message
    guards.check_package(world.inbox / "valid" / "U001_附件1.xlsx", small)  # a real return passes


def test_entity_file_is_refused_by_the_prescan(world: World, tmp_path: Path) -> None:
    """The DTD pre-scan names the part that declares entities."""
    path = tmp_path / "laughs.xlsx"
    shutil.copy(world.inbox / "valid" / "U002_附件1.xlsx", path)
    billion_laughs(path)
    with pytest.raises(guards.GuardError) as refused:
        guards.check_package(path, Limits())
    assert refused.value.rule == "不安全内容" and SHEET_PART in refused.value.message


def test_safe_name_escapes_bad_bytes_and_control_characters() -> None:
    """A file name with invalid UTF-8, ESC and newline becomes printable and encodable."""
    name = guards.safe_name("a/\udcff\x1b[31m\n.xlsx")
    assert name == "a/\\xff\\x1b[31m\\x0a.xlsx"
    name.encode("utf-8")


# ----------------------------------------------------------------------------- more tampering


def _rename_sheet(wb: Any) -> None:
    wb["附件1"].title = "Sheet1"
    for defn in wb.defined_names.values():  # Excel and WPS carry the names along with the sheet
        defn.attr_text = defn.attr_text.replace("'附件1'!", "'Sheet1'!")


def _other_units_name(path: Path) -> None:
    def change(wb: Any) -> None:
        named_cell(wb, "unit_name").value = "清河县测试单位37有限公司"

    edit(path, change)


TAMPERING: list[tuple[str, Callable[[Path], object], str, str]] = [
    ("connections", lambda p: rewrite_zip(p, add={"xl/connections.xml": b"<connections/>"}), "数据连接", Outcome.ACCEPTED),
    ("embedded", lambda p: rewrite_zip(p, add={"xl/embeddings/oleObject1.bin": b"\x00" * 10}), "嵌入对象", Outcome.ACCEPTED),
    ("macrosheet", lambda p: rewrite_zip(p, add={"xl/macrosheets/sheet1.xml": b"<xm/>"}), "含有宏", Outcome.ACCEPTED),
    ("renamed", lambda p: edit(p, _rename_sheet), "工作表改名", Outcome.ACCEPTED),
    ("extra-sheet", lambda p: edit(p, lambda wb: wb.create_sheet("草稿").cell(1, 1, "随便写写")), "多出工作表",
     Outcome.ACCEPTED),
    ("other-unit", _other_units_name, "单位不一致", Outcome.ACCEPTED),  # counted for the unit that filled it
]


@pytest.mark.parametrize(("name", "tamper", "rule", "outcome"), TAMPERING, ids=[t[0] for t in TAMPERING])
def test_tampering_is_reported(kit_settings: tuple[Kit, tuple[Path, Path]], tmp_path: Path, name: str,
                               tamper: Callable[[Path], object], rule: str, outcome: str) -> None:
    """Connections, embedded objects, macro sheets, renamed or extra sheets and another unit's name are findings."""
    kit, _ = kit_settings
    path = kit.filled(tmp_path / "inbox" / f"{name}.xlsx", "annex1", "T36")
    tamper(path)
    subs = [read_file(path, path.parent, kit.forms, kit.campaign, kit.roster)]
    settled_rollup(subs, kit.forms, kit.campaign, kit.roster)
    assert subs[0].outcome == outcome, [f.text for f in subs[0].findings]
    assert rule in [f.rule for f in subs[0].findings], [f.text for f in subs[0].findings]
    assert subs[0].values["s1_film_people"] == 3


# ----------------------------------------------------------------------------- sniffing


def _zip(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buffer.getvalue()


SNIFF_CASES: list[tuple[str, Callable[[], bytes], str, str]] = [
    ("a.xlsx", lambda: _zip({"word/document.xml": b"<w/>"}), "docx", "material"),
    ("b.xlsx", lambda: _zip({"ppt/presentation.xml": b"<p/>"}), "pptx", "material"),
    ("c.xlsx", lambda: _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
                             "content.xml": b"<c/>"}), "ods", "form"),
    ("d.xlsx", lambda: _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<c/>"}),
     "odt", "material"),
    ("e.xlsx", lambda: _zip({"Index/Document.iwa": b"\x00", "Metadata/Properties.plist": b""}), "numbers",
     "spreadsheet"),
    ("f.xlsx", lambda: _zip({"xl/workbook.bin": b"\x00"}), "xlsb", "form"),
    ("g.xlsx", lambda: _zip({"photos/1.jpg": b"\xff\xd8\xff"}), "zip", "archive"),
    ("h.xlsx", lambda: _zip({"xl/workbook.xml": b"<w/>", "xl/vbaProject.bin": b"\x00"}), "macro-workbook", "form"),
    ("i.xls", lambda: (b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">'
                       b"</Workbook>"), "xml-spreadsheet", "spreadsheet"),
    ("j.xls", lambda: b"<html><body><table><tr><td>1</td></tr></table></body></html>", "html", "spreadsheet"),
    ("k.xlsx", lambda: "单位\t场次\n顺达\t3\n".encode("utf-16"), "text", "material"),
    ("l.xlsx", lambda: "活动总结：本单位认真开展安全生产月活动。".encode("gb18030"), "text", "material"),
    ("m.xlsx", lambda: b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2", "video", "material"),
    ("n.xlsx", lambda: b"\x00\x00\x00\x08moov", "video", "material"),
    ("o.xlsx", lambda: b"\x1f\x8b\x08\x00" + b"\x00" * 20, "gzip", "archive"),
    ("p.xlsx", lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "image", "material"),
    ("q.xlsx", lambda: ole_file({"WordDocument": b"\x00"}), "doc", "material"),
    ("r.et", lambda: ole_file({"ETExtData": b"\x00"}), "ole", "spreadsheet"),
    ("r2.et", lambda: ole_file({"Workbook": b"\x00", "ETExtData": b"\x00"}), "et", "form"),
    ("s.xlsx", lambda: ole_file({"Contents": b"\x00"}), "ole", "spreadsheet"),
    ("t.xlsx", lambda: ole_file({"EncryptionInfo": b"\x00", "EncryptedPackage": b"\x00"}), "encrypted", "broken"),
    ("u.xls", lambda: ole_file({"Workbook": b"\x00"}), "xls", "form"),
    ("v.xlsx", lambda: b"PK\x03\x04" + b"\x00" * 40, "broken", "broken"),
    ("w.xlsx", lambda: b"", "empty", "broken"),
    ("x.xlsx", lambda: b"\x00\x01\x02garbage\xff" * 10, "unknown", "unknown"),
]


@pytest.mark.parametrize(("name", "make", "kind", "category"), SNIFF_CASES, ids=[c[0] for c in SNIFF_CASES])
def test_sniff_tells_content_not_extension(tmp_path: Path, name: str, make: Callable[[], bytes], kind: str,
                                           category: str) -> None:
    """Each file is classified by its bytes, with a category the materials reader can hook into."""
    path = tmp_path / name
    path.write_bytes(make())
    sniffed = sniff(path)
    assert (sniffed.kind, sniffed.category) == (kind, category)
    assert sniffed.readable == (category == "form")
    if not sniffed.readable:
        assert sniffed.message.endswith("。"), sniffed.message


def test_unreadable_ole_workbook_gets_the_resave_message(world: World, tmp_path: Path) -> None:
    """An OLE file with a Workbook stream that xlrd cannot parse is reported, with the re-save advice."""
    path = tmp_path / "inbox" / "附件1.xls"
    path.parent.mkdir()
    path.write_bytes(ole_file({"Workbook": b"\x09\x08garbage"}))
    sub = read_file(path, path.parent, world.kit.forms, world.kit.campaign, world.kit.roster)
    assert sub.outcome == Outcome.UNSUPPORTED and sub.kind == "xls"
    assert "另存为“Excel 工作簿(*.xlsx)”" in sub.findings[0].message


# ----------------------------------------------------------------------------- legacy .xls


@pytest.mark.soffice
def test_legacy_xls_holding_the_form_is_read(kit_settings: tuple[Kit, tuple[Path, Path]], tmp_path: Path,
                                             soffice: str, office_profile: Path) -> None:
    """A return saved as Excel 97-2003 (.xls) by LibreOffice is read with xlrd: same values, one 旧版格式 警告."""
    from office import convert

    kit, _ = kit_settings
    values = {"s1_center_study_times": 7, "s1_center_study_people": 70, "report_date": "2023-06-27"}
    sources = [kit.filled(tmp_path / "src" / "T33_附件1.xlsx", "annex1", "T33", values),
               kit.filled(tmp_path / "src" / "T33_附件2.xlsx", "annex2", "T33")]
    converted = convert(soffice, sources, tmp_path / "inbox", "xls", office_profile)
    subs = [read_file(p, p.parent, kit.forms, kit.campaign, kit.roster) for p in converted]
    settled_rollup(subs, kit.forms, kit.campaign, kit.roster)
    for sub in subs:
        assert (sub.kind, sub.outcome, sub.unit.code if sub.unit else None) == ("xls", Outcome.ACCEPTED, "T33"), sub.findings
        assert [f.rule for f in sub.findings] == ["旧版格式"], [f.text for f in sub.findings]
    annex1 = next(s for s in subs if s.form_id == "annex1")
    assert annex1.values["s1_center_study_times"] == 7 and annex1.values["s1_film_people"] == 3
    assert str(annex1.values["report_date"]) == "2023-06-27"
    annex2 = next(s for s in subs if s.form_id == "annex2")
    assert annex2.values["mobile"] == "13812345678"


# ----------------------------------------------------------------------------- odd values never crash


_ODD = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.datetimes(), st.sampled_from(["=1+2", "#DIV/0!", "１２", "约300", "十二", "2023-02-30", "\x00\x1b", "-"]),
)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_cell_values_normalise_and_validate_without_raising(kit_settings: tuple[Kit, tuple[Path, Path]],
                                                                data: st.DataObject) -> None:
    """Whatever a cell holds, normalising and validating it yields findings, never an exception."""
    kit, _ = kit_settings
    form_id = data.draw(st.sampled_from(["annex1", "annex2"]))
    spec = kit.forms[form_id]
    sub = Submission(file="x.xlsx", path=Path("x.xlsx"), sha256="0" * 64, mtime=0.0, form_id=form_id,
                     unit=kit.unit("T34"))
    for f in data.draw(st.lists(st.sampled_from(spec.fields), max_size=8, unique_by=lambda f: f.id)):
        formula = data.draw(st.sampled_from([None, "=A1"]))
        sub.raw[f.id] = RawCell(data.draw(_ODD), "D7", formula)
    normalise_submission(sub, spec)
    validate([sub], spec, kit.campaign)
    assert all(f.message for f in sub.findings)
