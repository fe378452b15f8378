"""make bench (bench/run.py): a tiny run goes through every scenario and prints the whole table.

The figures themselves are not checked: performance is judged from ``make bench`` output only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LABELS = ("a. 首次汇总（冷启动，含启动）", "P. 仅 calamine 解析全部来件（下限）", "g. 仅 xlsxwriter 写同样单元格（下限）",
          "I. 新进程 import pandas（下限）", "b. 无变化再次汇总", "B. 演示来件无变化再次汇总", "c. 新到一个文件后再次汇总",
          "f. check 检查单个文件（含启动）", "F. import pandas + calamine 解析该文件（下限）", "d. 朴素基线 read_excel 循环",
          "e. 生成 1000 个单位的模板")
TARGETS = ("a ÷ (P + g)", "b ÷ I", "B ÷ I", "c − g", "f ÷ F", "a/b/c 峰值内存")


@pytest.mark.slow
def test_a_tiny_bench_prints_every_scenario(tmp_path: Path) -> None:
    """Four returns and one scan, one repeat: the run succeeds and prints a timed row for each scenario, the floor note and every target."""
    run = subprocess.run([sys.executable, "bench/run.py", "--n", "4", "--repeat", "1", "--scans", "1", "--work", str(tmp_path)],
                         cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("机器：")
    for label in LABELS:
        [row] = [line for line in lines if line.startswith(label)]
        assert re.fullmatch(r"\s+\d+\.\d\d\s+(\d+|-)", row.removeprefix(label)), row
    assert re.search(r"^g 为汇总表中 [\d,]+ 个单元格由 xlsxwriter 单独写出的时间", run.stdout, re.MULTILINE)
    for target in TARGETS:
        [row] = [line for line in lines if line.strip().startswith(target)]
        assert re.search(r"目标 .+：(达到|未达到)$", row), row
    assert re.search(r"^各场景峰值内存（MB）：a \d+，b \d+，B \d+，c \d+$", run.stdout, re.MULTILINE)
    if shutil.which("soffice"):  # scenario i prints seconds per scanned page
        [row] = [line for line in lines if line.startswith("i. 扫描件首次汇总（每页）")]
        assert re.fullmatch(r"\s+\d+\.\d\d\s+-", row.removeprefix("i. 扫描件首次汇总（每页）")), row
