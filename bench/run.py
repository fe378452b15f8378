"""make bench: time the rollup against the naive read_excel loop on N generated returns.

Every figure is the median of --repeat runs measured in this one process tree, so the
ratios compare like with like on the same machine at the same moment.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.forms.generate import FormContent, write_form  # noqa: E402
from pipeline.forms.spec import load_forms  # noqa: E402
from pipeline.settings.campaign import load_campaign  # noqa: E402  (path set up above)
from pipeline.settings.roster import Unit  # noqa: E402

PY = sys.executable
PROGRAM = ""  # the digest of pipeline/ when the bench started (pipeline.program.package_digest)


def machine_line() -> str:
    """One line describing the machine the figures come from."""
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def synthetic_roster(n: int, directory: Path) -> Path:
    """A roster of n fictional units, written as CSV."""
    lines = ["单位编码,单位名称,类别,邮箱"]
    lines += [f"B{i:05d},测试运输有限公司{i:05d},运输企业,b{i:05d}@example.com" for i in range(n)]
    path = directory / "units.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _fill_one(job: tuple[int, str, Path, Path, Path]) -> None:
    """One unit's return: its real template, filled and saved with openpyxl."""
    import openpyxl  # after the pipeline package, which has told openpyxl to parse through defusedxml

    i, line, inbox, seed_dir, campaign_path = job
    spec = load_forms()["annex1"]
    campaign = load_campaign(campaign_path)
    rng = random.Random(2023 + i)
    code, name, category, email = line.split(",")
    template = seed_dir / f"{code}.xlsx"
    write_form(template, spec, campaign, FormContent(unit=Unit(code, name, category, email)))
    wb = openpyxl.load_workbook(template)
    for field_id, defn in wb.defined_names.items():
        sheet, ref = next(iter(defn.destinations))
        f = spec.field(field_id)
        if f.kind == "count":
            # Participants (人次/人) always outnumber sessions, as in a real return.
            wb[sheet][ref] = rng.randint(5, 40) * 10 if f.unit in ("人次", "人") else rng.randint(1, 40)
        elif f.kind == "person":
            wb[sheet][ref] = "王五"
        elif f.kind == "phone":
            wb[sheet][ref] = "0311-6627527"
        elif f.kind == "date":
            wb[sheet][ref] = "2023-06-2" + str(i % 9 + 1)
        elif f.kind == "text":
            wb[sheet][ref] = "某企业违规动火作业被处罚"
    wb.save(inbox / f"附件1_{code}.xlsx")
    template.unlink()


def make_returns(n: int, inbox: Path, roster_path: Path, campaign_path: Path) -> None:
    """n filled 附件1 returns, made on every core."""
    seed_dir = inbox.parent / "seed"
    seed_dir.mkdir(parents=True, exist_ok=True)
    inbox.mkdir(parents=True, exist_ok=True)
    lines = roster_path.read_text(encoding="utf-8").splitlines()[1:]
    jobs = [(i, line, inbox, seed_dir, campaign_path) for i, line in enumerate(lines[:n])]
    with multiprocessing.Pool() as pool:
        pool.map(_fill_one, jobs, chunksize=16)
    shutil.rmtree(seed_dir)


def timed(func: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``func`` over ``repeat`` runs."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


# The CLI runs as on a user's machine, where Python keeps compiled bytecode between runs.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
PEAKS: dict[str, float] = {}  # scenario label -> peak resident memory (MB) of its CLI runs
STALE: list[str] = []  # runs of an unchanged inbox (b, B) that did not answer “没有变化”: their times are not b's
UNCHANGED = "来件和设置自上次汇总以来没有变化"  # how an unchanged re-run's summary starts (pipeline.job.unchanged_lines)


# Children are started by this small process, started before the bench holds anything: on Linux a child's peak
# memory (ru_maxrss) includes the peak of the process it was forked from, which for the bench itself reaches
# hundreds of MB once it has parsed every return (scenario P), and would be taken for the child's own.
SPAWNER_CODE = """
import json, os, subprocess, sys
for line in sys.stdin:
    job = json.loads(line)
    with open(job["out"], "wb") as out:
        proc = subprocess.Popen(job["argv"], cwd=job["cwd"], stdout=out, env=job["env"])
        _, status, usage = os.wait4(proc.pid, 0)
    print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss]), flush=True)
"""
SPAWNER: list[subprocess.Popen[str]] = []


def start_spawner() -> None:
    """Start the process that runs every timed child (see SPAWNER_CODE), while this one is still small."""
    SPAWNER.append(subprocess.Popen([PY, "-c", SPAWNER_CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    text=True, env=CHILD_ENV))


def run_child(argv: list[str], label: str = "") -> bytes:
    """Run one child process to its end, failing loudly on a non-zero exit; its peak memory goes to PEAKS[label].

    The peak is the child's own maximum resident set, or that of the largest process it waited for
    (its worker processes), as ``wait4`` reports it. Returns the first KiB of its output.
    """
    if not SPAWNER:
        start_spawner()
    spawner = SPAWNER[0]
    assert spawner.stdin is not None and spawner.stdout is not None
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        job = {"argv": argv, "cwd": str(ROOT), "env": CHILD_ENV, "out": str(out)}
        spawner.stdin.write(json.dumps(job) + "\n")
        spawner.stdin.flush()
        code, maxrss = json.loads(spawner.stdout.readline())
        head = out.read_bytes()[:1024]
    if code != 0:
        raise subprocess.CalledProcessError(code, argv)
    if label:
        PEAKS[label] = max(PEAKS.get(label, 0.0), maxrss / 1024)
    return head


def run_cli(*args: str, label: str = "") -> None:
    """Run the pipeline CLI as a user would."""
    run_child([PY, "-m", "pipeline", *args], label)


def run_unchanged(*args: str, label: str) -> None:
    """Run the CLI's rollup on an inbox unchanged since its last run; note it when the run was not a fresh answer."""
    head = run_child([PY, "-m", "pipeline", "rollup", *args], label).decode("utf-8", "replace")
    if not head.startswith(UNCHANGED):  # (checked after the run only when it was not fresh: b's time stays b's)
        from pipeline.program import package_digest

        changed = package_digest(ROOT / "pipeline") != PROGRAM  # edited since the bench started
        why = "本次测量期间程序文件（pipeline/）被修改，缓存全部失效" if changed else "原因见该次输出与 outbox/pipeline.log"
        first = head.splitlines()[0][:120] if head else ""
        STALE.append(f"场景 {label} 的一次运行没有得到“没有变化”的结果（{why}；其输出首行：{first}）："
                     "其用时不是无变化再次汇总的用时")


def import_pandas() -> None:
    """A fresh interpreter that imports pandas and exits: the start-up every pandas program pays."""
    run_child([PY, "-c", "import pandas"])


def calamine_parse(paths: list[Path]) -> None:
    """Every sheet of every file read with calamine (``to_python``), in this process: the parsing floor."""
    for path in paths:
        workbook_sheets(path)


def check_floor(path: Path) -> None:
    """A fresh interpreter that imports pandas and parses one file with calamine: the floor for ``check``."""
    run_child([PY, "-c", "import sys, pandas; from python_calamine import CalamineWorkbook as W; "
               "b = W.from_path(sys.argv[1]); [b.get_sheet_by_name(n).to_python() for n in b.sheet_names]",
               str(path)])


def naive_baseline(inbox: Path) -> None:
    """The usual alternative: read_excel every sheet of every file, then concat."""
    import pandas as pd

    frames = []
    for path in sorted(inbox.glob("*.xlsx")):
        for frame in pd.read_excel(path, sheet_name=None, engine="openpyxl").values():
            frames.append(frame)
    pd.concat(frames, ignore_index=True)


def workbook_sheets(path: Path) -> list[tuple[str, list[list[Any]]]]:
    """Every sheet of a workbook as rows of cell values, read with calamine."""
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    return [(name, book.get_sheet_by_name(name).to_python(skip_empty_area=False)) for name in book.sheet_names]


def plain_xlsxwriter(sheets: list[tuple[str, list[list[Any]]]], target: Path) -> None:
    """The same cell values written with xlsxwriter alone: one format, no layout, no checks.

    This is the writer's own cost for the rollup workbook's cells, a floor for any rollup that
    writes its workbook through xlsxwriter.
    """
    import xlsxwriter

    book = xlsxwriter.Workbook(str(target), {"strings_to_formulas": False, "strings_to_urls": False,
                                             "strings_to_numbers": False})
    fmt = book.add_format({"border": 1})
    for name, rows in sheets:
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if type(value) is float or type(value) is int:
                    sheet.write_number(r, c, value, fmt)
                elif type(value) is str:
                    if value:
                        sheet.write_string(r, c, value, fmt)
                else:
                    sheet.write(r, c, value, fmt)
    book.close()


def far_cells_read(source: Path, work: Path, roster: Path) -> None:
    """Read one return whose sheet declares A1:XFD1048576 with a cell and a merge out there (was a test's 2 s assert)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from corpus import far_cells

    from pipeline.job import collect_files
    from pipeline.settings.roster import load_roster

    folder = work / "far"
    folder.mkdir(exist_ok=True)
    target = folder / source.name
    if not target.is_file():
        shutil.copy(source, target)
        far_cells(target)
    campaign = load_campaign(ROOT / "campaign.toml")
    collect_files([target], folder, load_forms(), campaign, load_roster(roster))


def report(results: list[tuple[str, float, int]], n: int, cells: int) -> list[str]:
    """The table of medians, then each target of issue #24 as a ratio to its floor measured in this same run."""
    sec = {label.split(".")[0]: seconds for label, seconds, _ in results}
    lines = [f"{'场景':<34}{'中位数(s)':>10}{'个/秒':>10}"]
    for label, seconds, files in results:
        rate = f"{files / seconds:.0f}" if files else "-"
        lines.append(f"{label:<34}{seconds:>10.2f}{rate:>10}")
    lines.append(f"g 为汇总表中 {cells:,} 个单元格由 xlsxwriter 单独写出的时间（不含本工具的任何处理）")
    if "d" in sec:
        lines.append(f"基线 d ÷ 冷启动 a = {sec['d'] / sec['a']:.1f}×")
    peak_abc = max(PEAKS.get(k, 0.0) for k in "abc")
    checks = [
        (f"a ÷ (P + g) = {sec['a'] / (sec['P'] + sec['g']):.2f}", sec["a"] / (sec["P"] + sec["g"]) <= 1.5, "≤ 1.5"),
        (f"b ÷ I = {sec['b'] / sec['I']:.2f}（N = {n}）", sec["b"] / sec["I"] < 0.5, "< 0.5"),
        (f"B ÷ I = {sec['B'] / sec['I']:.2f}（演示来件）", sec["B"] / sec["I"] < 0.5, "< 0.5"),
        (f"c − g = {sec['c'] - sec['g']:.2f} s", sec["c"] - sec["g"] <= 1.5, "≤ 1.5 s"),
        (f"f ÷ F = {sec['f'] / sec['F']:.2f}", sec["f"] / sec["F"] <= 2.0, "≤ 2"),
        (f"a/b/c 峰值内存 {peak_abc:.0f} MB", peak_abc <= 500, "≤ 500 MB（N = 10000 时）"),
    ]
    lines.append("目标（issue #24，与同一次运行中测得的下限相比）：")
    lines += [f"  {text}，目标 {target}：{'达到' if ok else '未达到'}" for text, ok, target in checks]
    order = [k for k in "abBc" if k in PEAKS] + sorted(set(PEAKS) - set("abBc"))  # as the table lists them
    lines.append("各场景峰值内存（MB）：" + "，".join(f"{k} {PEAKS[k]:.0f}" for k in order))
    return lines


def main() -> int:
    """Generate the returns, time each scenario and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--reuse", action="store_true", help="reuse returns generated by an earlier run with the same --n")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive read_excel baseline (d)")
    parser.add_argument("--scans", type=int, default=20, help="scanned returns for scenario i (0: leave it out)")
    args = parser.parse_args()
    global PROGRAM
    from pipeline.program import package_digest

    PROGRAM = package_digest(ROOT / "pipeline")
    start_spawner()
    work: Path = args.work
    campaign = ROOT / "campaign.toml"
    spares = args.repeat
    inbox, outbox, spare_dir = work / "inbox", work / "outbox", work / "spare"
    print(f"机器：{machine_line()}")
    # Returns made from an older form spec would all be rejected as outdated: reuse only same-version ones.
    versions = " ".join(f"{k}={v.version}" for k, v in load_forms().items())
    stamp = work / "form-versions.txt"
    reusable = (args.reuse and len(list(inbox.glob("*.xlsx"))) == args.n and len(list(spare_dir.glob("*.xlsx"))) >= spares
                and stamp.is_file() and stamp.read_text(encoding="utf-8") == versions)
    roster = work / "units.csv"
    if not reusable:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        roster = synthetic_roster(max(args.n + spares, 1000), work)
        start = time.perf_counter()
        make_returns(args.n + spares, inbox, roster, campaign)
        spare_dir.mkdir()
        for path in sorted(inbox.glob("*.xlsx"))[args.n:]:
            path.rename(spare_dir / path.name)  # returns of units that have not reported yet
        stamp.write_text(versions, encoding="utf-8")
        print(f"生成 {args.n} 份来件用时 {time.perf_counter() - start:.1f} s（不计入下表）")
    for path in (*(p for p in (work / "roster1000", work / "templates", outbox) if p.exists()),):
        shutil.rmtree(path)
    common = ("--campaign", str(campaign), "--roster", str(roster), "--inbox", str(inbox), "--outbox", str(outbox))

    def cold() -> None:
        shutil.rmtree(outbox, ignore_errors=True)
        run_cli("rollup", *common, label="a")

    results: list[tuple[str, float, int]] = []
    results.append(("a. 首次汇总（冷启动，含启动）", timed(cold, args.repeat), args.n))
    sheets = workbook_sheets(next(outbox.glob("*.xlsx")))
    cells = sum(1 for _, rows in sheets for row in rows for value in row if value != "")
    returns = sorted(inbox.glob("*.xlsx"))
    results.append(("P. 仅 calamine 解析全部来件（下限）", timed(lambda: calamine_parse(returns), args.repeat), args.n))
    results.append(("g. 仅 xlsxwriter 写同样单元格（下限）",
                    timed(lambda: plain_xlsxwriter(sheets, work / "floor.xlsx"), args.repeat), 0))
    results.append(("I. 新进程 import pandas（下限）", timed(import_pandas, args.repeat), 0))
    results.append(("b. 无变化再次汇总", timed(lambda: run_unchanged(*common, label="b"), args.repeat), args.n))
    demo_inbox, demo_outbox = work / "demo" / "inbox", work / "demo" / "outbox"
    run_cli("demo", "--campaign", str(campaign), "--roster", str(ROOT / "units.csv"), "--inbox", str(demo_inbox),
            "--outbox", str(demo_outbox))
    demo_files = sum(1 for p in demo_inbox.rglob("*") if p.is_file())
    results.append(("B. 演示来件无变化再次汇总", timed(lambda: run_unchanged(
        "--campaign", str(campaign), "--roster", str(ROOT / "units.csv"), "--inbox", str(demo_inbox),
        "--outbox", str(demo_outbox), label="B"), args.repeat), demo_files))
    arrivals = iter(sorted(spare_dir.glob("*.xlsx")))

    def one_new() -> None:
        arrival = next(arrivals)
        shutil.copy(arrival, inbox / arrival.name)
        run_cli("rollup", *common, label="c")

    results.append(("c. 新到一个文件后再次汇总", timed(one_new, args.repeat), args.n + 1))
    for path in spare_dir.glob("*.xlsx"):
        (inbox / path.name).unlink(missing_ok=True)
    one_file = returns[0]
    results.append(("f. check 检查单个文件（含启动）", timed(
        lambda: run_cli("check", "--campaign", str(campaign), "--roster", str(roster), str(one_file)),
        args.repeat), 1))
    results.append(("F. import pandas + calamine 解析该文件（下限）", timed(lambda: check_floor(one_file), args.repeat), 1))
    if not args.skip_naive:
        results.append(("d. 朴素基线 read_excel 循环", timed(lambda: naive_baseline(inbox), args.repeat), args.n))
    templates_dir, roster_dir = work / "templates", work / "roster1000"
    roster_dir.mkdir()
    roster_1000 = synthetic_roster(1000, roster_dir)
    results.append(("e. 生成 1000 个单位的模板", timed(
        lambda: run_cli("templates", "--campaign", str(campaign), "--roster", str(roster_1000),
                        "--templates", str(templates_dir)), args.repeat), 2002))
    results.append(("h. 读取声明 A1:XFD1048576 的单个文件", timed(lambda: far_cells_read(one_file, work, roster),
                                                           args.repeat), 1))
    from bench.scans import scan_lines, scan_scenario
    from pipeline.documents.extract import find_soffice

    scans = scan_scenario(returns[:args.scans], work, find_soffice(),
                          lambda scan_inbox, scan_outbox: run_cli(
                              "rollup", "--campaign", str(campaign), "--roster", str(roster),
                              "--inbox", str(scan_inbox), "--outbox", str(scan_outbox)))
    for line in report(results, args.n, cells):
        print(line)
    for line in STALE:
        print(line)
    for line in scan_lines(scans, args.scans):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
