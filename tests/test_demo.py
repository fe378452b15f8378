"""`python -m pipeline demo`: a synthetic inbox whose rollup matches the demo's own answer key."""

from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from returns import CAMPAIGN_TOML, UNITS_CSV, read_csv, spec

from pipeline.cli import main
from pipeline.demo.build import MARKER, marker_path
from pipeline.model import Outcome, Status

PATHS = ("--campaign", str(CAMPAIGN_TOML), "--roster", str(UNITS_CSV))
WORKBOOK = "清河县2023年安全生产月活动情况汇总.xlsx"


@dataclass
class Run:
    """One finished demo run."""

    code: int
    out: list[str]
    err: str
    inbox: Path
    outbox: Path
    truth: dict[str, Any]


def _demo(inbox: Path, outbox: Path, *extra: str) -> tuple[int, list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["demo", *PATHS, "--inbox", str(inbox), "--outbox", str(outbox), *extra])
    return code, out.getvalue().splitlines(), err.getvalue()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The demo, run once into fresh folders."""
    base = tmp_path_factory.mktemp("demo")
    code, out, err = _demo(base / "inbox", base / "outbox")
    truth = json.loads((base / "truth.json").read_text(encoding="utf-8")) if code == 0 else {}
    return Run(code, out, err, base / "inbox", base / "outbox", truth)


@pytest.mark.slow
def test_demo_runs_and_prints_the_rollup_summary(demo: Run) -> None:
    """The demo exits 0, says what it wrote, prints the rollup summary (feedback included) and the answer key."""
    assert demo.code == 0, demo.err
    assert demo.err == ""
    assert demo.out[0] == (
        f"已在 {demo.inbox} 生成演示来件 46 个（报表 39 个、活动材料 7 个）：20 个单位中 18 个报送附件1、17 个报送附件2，另有 1 个名录外单位；"
        "含自动更正、退回重报、重复文件、逾期、Word 原文和自制表格等常见情况。")
    for line, form in zip(demo.out[2:4], ("annex1", "annex2"), strict=True):
        rows = [r for r in demo.truth["status"] if r["form"] == form]
        by = {k: sum(r["status"] == k for r in rows) for k in Status if k != Status.MISMATCH}
        annex = "附件1" if form == "annex1" else "附件2"
        assert line.startswith(f"{annex}：应报 {len(rows)} 个单位，" + "，".join(f"{k.value} {n}" for k, n in by.items()))
    assert f"汇总表已生成：{demo.outbox / WORKBOOK}" in demo.out[-4]
    returned = sum(r["status"] == Status.RETURNED for r in demo.truth["status"])
    warned = sum(r["status"] == Status.WARNED for r in demo.truth["status"])
    assert demo.out[-2].startswith("单位名录 ") and demo.out[-2].endswith(" 个单位，编码 UTF-8。")
    assert demo.out[-3].startswith(f"审核反馈表已生成 {returned + warned} 份（退回 {returned} 份、有警告 {warned} 份），"
                                   f"保存在 {demo.outbox / 'feedback'}/")
    key = demo.inbox.parent / "truth.json"
    assert demo.out[-1] == f"演示的标准答案（应得的全县合计、各单位状态和各文件去向）：{key}"


@pytest.mark.slow
def test_file_outcomes_match_the_answer_key(demo: Run) -> None:
    """Each file's outcome in files.csv, and the summary's count of each outcome, are the answer key's."""
    expected = demo.truth["outcomes"]
    line = demo.out[1]
    assert line.startswith(f"收到文件 {sum(expected.values())} 个 = ")
    listed = dict(re.findall(r"(\S+) (\d+)", line.split(" = ", 1)[1]))
    assert {Outcome(word): int(n) for word, n in listed.items() if int(n)} == expected
    assert {o.value for o in Outcome if o != Outcome.UNPACKED} <= set(listed)  # the usual outcomes always show
    on_disk = {p.relative_to(demo.inbox).as_posix() for p in demo.inbox.rglob("*") if p.is_file()}
    assert on_disk == set(demo.truth["files"])
    files = {r["file"]: r["outcome"] for r in read_csv(demo.outbox / "files.csv")}
    assert files == demo.truth["files"]
    assert marker_path(demo.inbox).is_file() and not (demo.inbox / MARKER).exists()  # beside the inbox, not in it
    assert sum(expected.values()) == int(re.findall(r"生成演示来件 (\d+) 个", demo.out[0])[0])
    assert expected[Outcome.DUPLICATE] == 1 and expected[Outcome.SUPERSEDED] == 1


@pytest.mark.slow
def test_records_and_totals_match_the_answer_key(demo: Run) -> None:
    """records.csv holds each counted unit's numbers, and they and the 分单位明细 totals row sum to the key's totals."""
    totals = demo.truth["totals"]["annex1"]
    assert len(totals) == 74
    rows = [r for r in read_csv(demo.outbox / "records.csv") if r["form"] == "annex1" and r["field_id"] in totals]
    counted: dict[str, dict[str, int]] = {}
    for r in rows:
        counted.setdefault(r["unit_code"], {})[r["field_id"]] = int(r["value"])
    assert counted == demo.truth["counts"]
    assert {fid: sum(c.get(fid, 0) for c in counted.values()) for fid in totals} == totals

    wb = openpyxl.load_workbook(demo.outbox / WORKBOOK, read_only=True)
    try:
        detail = list(wb["分单位明细"].iter_rows(values_only=True))
    finally:
        wb.close()
    total_row = next(r for r in detail if r[0] == "合计")
    assert total_row[1] == f"{len(demo.truth['counts'])} 个单位"
    for col, f in enumerate(spec("annex1").body_fields, start=4):
        if f.kind == "count":
            assert total_row[col] == totals[f.id], f.id


@pytest.mark.slow
def test_statuses_match_the_answer_key(demo: Run) -> None:
    """Each unit's status, counted file and on-time answer in status.csv is the one the demo planned."""
    got = [{k: r[k] for k in ("unit_code", "unit_name", "form", "status", "file", "on_time")}
           for r in read_csv(demo.outbox / "status.csv")]
    assert got == demo.truth["status"]
    statuses = {(r["unit_code"], r["form"]): r["status"] for r in got}
    assert statuses[("U008", "annex1")] == statuses[("U008", "annex2")] == "未报送"
    assert statuses[("U010", "annex1")] == "已通过"  # its first return was 退回, the corrected one counts
    assert statuses[("U012", "annex1")] == "有警告"  # late 填报日期
    assert statuses[("U004", "annex1")] == "退回"


@pytest.mark.slow
def test_rerun_is_identical_and_replaces_only_its_own_files(demo: Run) -> None:
    """Run again into the same folders: it clears its previous files and writes the same inbox and answer key."""
    before_key = (demo.inbox.parent / "truth.json").read_bytes()
    before_times = {name: (demo.inbox / name).stat().st_mtime for name in demo.truth["files"]}
    before_csv = {name: read_csv(demo.outbox / name) for name in ("records.csv", "status.csv", "issues.csv")}

    code, out, err = _demo(demo.inbox, demo.outbox)

    assert (code, err) == (0, "")
    assert out == demo.out
    assert (demo.inbox.parent / "truth.json").read_bytes() == before_key
    assert {p.relative_to(demo.inbox).as_posix() for p in demo.inbox.rglob("*") if p.is_file()} == set(before_times)
    assert {name: (demo.inbox / name).stat().st_mtime for name in before_times} == before_times
    assert {name: read_csv(demo.outbox / name) for name in before_csv} == before_csv


def test_demo_refuses_an_inbox_holding_other_files(tmp_path: Path) -> None:
    """An inbox with files the demo did not write stops the demo (exit 2) before it writes anything."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    inbox.mkdir()
    (inbox / "顺达公司附件1.xlsx").write_bytes(b"a real return")

    code, out, err = _demo(inbox, outbox)

    assert code == 2
    assert out == []
    assert err == (f"错误：演示用的来件目录 {inbox} 中已有不是演示程序生成的文件（如“顺达公司附件1.xlsx”等 1 个）。"
                   "为防止演示数据混入真实来件和汇总结果，演示已停止。请指定一个空文件夹（--inbox、--outbox），"
                   "或使用默认的 demo/ 目录。\n")
    assert _files(inbox) == {"顺达公司附件1.xlsx": b"a real return"}
    assert not outbox.exists()
    assert not (tmp_path / "truth.json").exists()


def test_demo_refuses_a_foreign_file_in_its_own_inbox(tmp_path: Path) -> None:
    """A file dropped into an earlier demo's inbox is not the demo's: the demo stops and deletes nothing."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    (inbox / "2023-06-28").mkdir(parents=True)
    marker_path(inbox).write_text(json.dumps({"written_by": "python -m pipeline demo", "files": ["2023-06-28/a.xlsx"]}),
                                encoding="utf-8")
    (inbox / "2023-06-28" / "a.xlsx").write_bytes(b"demo")
    (inbox / "2023-06-28" / "b.xlsx").write_bytes(b"real")
    before = _files(inbox)

    code, _, err = _demo(inbox, outbox)

    assert code == 2
    assert "（如“2023-06-28/b.xlsx”等 1 个）" in err
    assert _files(inbox) == before


def test_demo_refuses_a_real_outbox(tmp_path: Path) -> None:
    """An outbox holding a real rollup is refused as well, so the demo never overwrites real results."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "records.csv").write_text("real", encoding="utf-8")

    code, _, err = _demo(inbox, outbox)

    assert code == 2
    assert err.startswith(f"错误：演示用的输出目录 {outbox} 中已有不是演示程序生成的文件（如“records.csv”等 1 个）。")
    assert not inbox.exists()
    assert (outbox / "records.csv").read_text(encoding="utf-8") == "real"


def test_demo_refuses_nested_folders_and_a_foreign_answer_key(tmp_path: Path) -> None:
    """The inbox and outbox must be apart, and an existing truth file not written by the demo is kept."""
    code, _, err = _demo(tmp_path / "x", tmp_path / "x" / "out")
    assert code == 2
    assert "不能相同，也不能互相包含" in err

    key = tmp_path / "answers.json"
    key.write_text("{}", encoding="utf-8")
    code, _, err = _demo(tmp_path / "in", tmp_path / "out", "--truth", str(key))
    assert code == 2
    assert err == f"错误：{key} 已存在且不是演示程序写的标准答案，为免覆盖已停止。请用 --truth 另行指定。\n"
    assert key.read_text(encoding="utf-8") == "{}"
    assert not (tmp_path / "in").exists() and not (tmp_path / "out").exists()
