"""Tests for the command line's own help and complaints, which the staff read in Chinese."""

from __future__ import annotations

import pytest

from pipeline.cli import main


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
