"""No stale files: the demo keeps its own templates, old templates and old rollups are moved aside, and
every message that writes files says where."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from returns import CAMPAIGN_TOML, UNITS_CSV

from pipeline.cli import main
from pipeline.store.aside import OLD_ROLLUPS, OLD_TEMPLATES

PATHS = ("--campaign", str(CAMPAIGN_TOML), "--roster", str(UNITS_CSV))


def _run(*args: str) -> tuple[int, list[str]]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    assert err.getvalue() == "" or code != 0, err.getvalue()
    return code, out.getvalue().splitlines()


@pytest.mark.slow
def test_remind_on_the_demo_uses_demo_templates_not_the_real_ones(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`make remind INBOX=demo/inbox OUTBOX=demo/outbox` (templates left at its default) writes no file into
    templates/: the demo's templates go to demo/templates/, and the summary says so."""
    monkeypatch.chdir(tmp_path)
    code, _ = _run("demo", *PATHS)
    assert code == 0
    code, lines = _run("mail", "reminders", *PATHS, "--templates", "templates", "--inbox", "demo/inbox",
                       "--outbox", "demo/outbox")
    assert code == 0
    assert not Path("templates").exists()
    made = sorted(Path("demo/templates").glob("*.xlsx"))
    assert made
    assert any(line.startswith(f"已补充生成缺少或过期的模板 {len(made)} 个，保存在 demo/templates/") for line in lines), lines


def test_templates_moves_those_of_no_current_unit_into_old_templates(tmp_path: Path) -> None:
    """A template of a unit no longer on the roster is moved to templates/旧模板/, and the run says so and where."""
    templates = tmp_path / "templates"
    templates.mkdir()
    stale = templates / "附件1_活动情况统计表_U099_已撤销的单位.xlsx"
    stale.write_bytes(b"old template")
    (templates / "~$附件1.xlsx").write_bytes(b"lock")  # an office lock file is left alone

    code, lines = _run("templates", *PATHS, "--templates", str(templates))

    assert code == 0
    assert not stale.exists()
    assert (templates / OLD_TEMPLATES / stale.name).read_bytes() == b"old template"
    assert (templates / "~$附件1.xlsx").exists()
    assert lines[0].endswith(f"保存在 {templates}/")
    assert f"已移到 {templates / OLD_TEMPLATES}/" in lines[1] and stale.name in lines[1]
    again = (templates / OLD_TEMPLATES / stale.name).read_bytes()
    stale.write_bytes(b"another")
    _run("templates", *PATHS, "--templates", str(templates))
    assert (templates / OLD_TEMPLATES / stale.name).read_bytes() == again  # nothing is overwritten
    assert (templates / OLD_TEMPLATES / f"{stale.stem} (2).xlsx").read_bytes() == b"another"


def test_rollup_moves_a_previous_campaigns_workbook_aside(tmp_path: Path) -> None:
    """A rollup workbook of another year in outbox/ is moved to outbox/旧汇总/, and the summary says where."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    inbox.mkdir()
    outbox.mkdir()
    old = outbox / "清河县2022年安全生产月活动情况汇总.xlsx"
    old.write_bytes(b"last year")

    code, lines = _run("rollup", *PATHS, "--inbox", str(inbox), "--outbox", str(outbox))

    assert code == 0
    assert not old.exists()
    assert (outbox / OLD_ROLLUPS / old.name).read_bytes() == b"last year"
    assert any(f"已移到 {outbox / OLD_ROLLUPS}/" in line and old.name in line for line in lines), lines
    code, again = _run("rollup", *PATHS, "--inbox", str(inbox), "--outbox", str(outbox))
    assert not any(OLD_ROLLUPS in line for line in again), "an unchanged re-run moves nothing and says nothing of it"


def test_every_line_that_reports_written_files_names_their_folder(tmp_path: Path) -> None:
    """Each line of templates, rollup and mail that says files were made (生成) also names where they are."""
    templates, inbox, outbox = tmp_path / "templates", tmp_path / "inbox", tmp_path / "outbox"
    inbox.mkdir()
    lines: list[str] = []
    for args in (("templates", *PATHS, "--templates", str(templates)),
                 ("rollup", *PATHS, "--inbox", str(inbox), "--outbox", str(outbox)),
                 ("mail", "reminders", *PATHS, "--templates", str(tmp_path / "t2"), "--inbox", str(inbox),
                  "--outbox", str(outbox))):
        code, out = _run(*args)
        assert code == 0
        lines += out
    made = [line for line in lines if re.search(r"已(补充)?生成", line)]
    assert made
    for line in made:
        assert str(tmp_path) in line, line
