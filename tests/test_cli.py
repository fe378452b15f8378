"""Tests for the command line's own help and complaints, which the staff read in Chinese."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_help_is_chinese_and_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` exits 0 with a Chinese usage line and each command's Chinese summary."""
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("用法：python -m pipeline [-h] 命令 ...\n")
    for command in ("templates", "fields", "rollup", "check", "mail", "demo"):
        assert f"    {command}" in out
    assert "显示本说明后退出" in out
    assert "usage:" not in out and "show this help" not in out


def test_sub_command_help_has_one_usage_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    """A sub-command's help starts with a single “用法：” and names its options in Chinese."""
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("用法：python -m pipeline check ")
    assert "用法：用法" not in out
    assert "活动设置文件（默认 campaign.toml）" in out


def test_a_wrong_command_line_says_so_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command exits 2 with a Chinese message pointing to --help."""
    with pytest.raises(SystemExit) as stop:
        main(["nonsense"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "错误：命令行参数有误" in err
    assert err.rstrip().endswith("运行 python -m pipeline --help 查看用法。")


# How each launcher starts the program: python -m pipeline (every Makefile target) and the aqscy console command.
LAUNCHERS = {"python -m pipeline": ["-m", "pipeline"], "aqscy": ["-c", "from pipeline.cli.entry import run; run()"]}


@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_python_m_pipeline_delivers_all_it_printed_and_its_exit_code(tmp_path: Path, launcher: str,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m pipeline`` and ``aqscy`` end without tearing down their modules, yet the output is whole, the log
    written and the exit code kept."""
    from returns import CAMPAIGN_TOML, UNITS_CSV, clean_values, count_ids, make_return

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *LAUNCHERS[launcher], *args], capture_output=True, text=True,
                              check=False, cwd=tmp_path, env=env)

    # Buffered output, as on a user's PC (a PYTHONUNBUFFERED set around the tests would hide a lost buffer).
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}, "PYTHONPATH": str(REPO)}

    fields = run("fields", "--campaign", str(CAMPAIGN_TOML))
    assert main(["fields", "--campaign", str(CAMPAIGN_TOML)]) == 0
    assert fields.returncode == 0 and fields.stdout == capsys.readouterr().out and fields.stdout.count("\n") > 75
    values = clean_values("annex1")
    values[next(iter(count_ids()))] = -3  # a negative count: an 错误, so check exits 1
    bad = make_return(tmp_path / "inbox", "annex1", "U001", values)
    checked = run("check", "--campaign", str(CAMPAIGN_TOML), "--roster", str(UNITS_CSV), str(bad))
    assert checked.returncode == 1 and "[错误]" in checked.stdout.splitlines()[-1], checked.stdout
    wrong = run("rollup", "--campaign", str(tmp_path / "none.toml"))
    assert wrong.returncode == 2 and "none.toml" in wrong.stdout + wrong.stderr


def test_aqscy_ends_its_process_as_python_m_pipeline_does(tmp_path: Path) -> None:
    """The aqscy command ends through end_process, skipping Python's teardown: an atexit handler never runs."""
    from returns import CAMPAIGN_TOML

    code = ("import atexit\natexit.register(lambda: print('TEARDOWN'))\n"
            "from pipeline.cli.entry import run\nrun()\n")
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code, "fields", "--campaign", str(CAMPAIGN_TOML)], capture_output=True,
                          text=True, check=False, cwd=tmp_path, env=env)
    assert done.returncode == 0 and done.stdout.count("\n") > 75, done.stderr
    assert "TEARDOWN" not in done.stdout
