"""The clerk's Windows PC: no fork, no SIGALRM, a GBK console; the launchers and the aqscy command."""

from __future__ import annotations

import csv
import dataclasses
import email
import email.policy
import io
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from feedback_kit import submit, unit

import pipeline.portable
from pipeline.cli.entry import translate
from pipeline.faults import MACHINE_FAULT_NOTE, TIMEOUT_RULE
from pipeline.forms.spec import FormSpec
from pipeline.intake.batch import read_all
from pipeline.intake.scan import new_submission
from pipeline.portable import CHINA_OFFSET, china_tz, tolerant_console
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster

REPO = Path(__file__).resolve().parents[1]
EPOCH = "1688515200"  # 2023-07-05: after both deadlines, so reminders cover every kind of matter
EMOJI = "\U0001f600"
CSVS = ("records.csv", "issues.csv", "status.csv", "materials.csv", "files.csv")
# Loaded by every Python process of the run (workers included) through PYTHONPATH: what Windows lacks is gone.
SITECUSTOMIZE = '''
import os, signal
for name in ("fork", "forkpty", "register_at_fork"):
    os.__dict__.pop(name, None)
for name in ("SIGALRM", "setitimer", "getitimer", "ITIMER_REAL", "alarm"):
    signal.__dict__.pop(name, None)
marks = os.environ.get("WINDOWS_LIKE_MARKS")
if marks:
    with open(os.path.join(marks, str(os.getpid())), "w") as mark:
        mark.write(str(os.getppid()))
'''

# Loaded by the spawned workers of one test: reading a file named slow* is stuck in one call into C
# (a regular expression that backtracks for hours), which no in-thread time limit can interrupt.
STUCK_IN_C = '''
import re
import pipeline.workbook.read as read

_real = read.read_workbook

def _stuck_on_slow(sub, *args, **kwargs):
    if "slow" in sub.file:
        re.match(r"(a+)+$", "a" * 28 + "b")
    return _real(sub, *args, **kwargs)

read.read_workbook = _stuck_on_slow
'''


def _cli(env: Mapping[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """``python -m pipeline …`` in a fresh process, output kept as bytes (decoded by each caller)."""
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=dict(env), capture_output=True,
                          check=False, timeout=600)


def _settings_args() -> list[str]:
    return ["--campaign", str(REPO / "campaign.toml"), "--roster", str(REPO / "units.csv")]


def _table(path: Path) -> list[dict[str, str]]:
    """A CSV output's rows, without first_seen (the clock time at which each run first saw a file)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [{k: v for k, v in row.items() if k != "first_seen"} for row in csv.DictReader(handle)]


def _drafts(folder: Path) -> dict[str, tuple[str, str, dict[str, bytes]]]:
    """Each draft's subject, body and attachments (by decoded name), by file name."""
    found = {}
    for path in sorted(folder.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, email.message.EmailMessage)
        body = msg.get_body(("plain",))
        assert body is not None
        files = {str(p.get_filename()): p.get_content() for p in msg.iter_attachments()}
        found[path.name] = (str(msg["Subject"]), body.get_content(), files)
    return found


@dataclasses.dataclass
class Run:
    """What one end-to-end run (templates, rollup, check, mail reminders) left behind."""

    root: Path
    outputs: dict[str, Any]
    check_out: str
    workers: int  # Python processes started by another one that loaded the Windows-like sitecustomize


def _end_to_end(root: Path, inbox: Path, env: dict[str, str], encoding: str) -> Run:
    templates, outbox = root / "templates", root / "outbox"
    steps = [
        ("templates", *_settings_args(), "--templates", str(templates)),
        ("rollup", *_settings_args(), "--inbox", str(inbox), "--outbox", str(outbox)),
        ("mail", "reminders", *_settings_args(), "--templates", str(templates), "--inbox", str(inbox),
         "--outbox", str(outbox)),
    ]
    for step in steps:
        proc = _cli(env, root, *step)
        assert proc.returncode == 0, proc.stderr.decode(encoding, "replace")
        proc.stdout.decode(encoding)  # strict: whatever was printed is valid in the console's encoding
    check = _cli(env, root, "check", *_settings_args(), *sorted(str(p) for p in inbox.glob(f"*{EMOJI}*")))
    assert check.returncode == 1, check.stderr.decode(encoding, "replace")  # the file has an 错误
    outputs: dict[str, Any] = {name: _table(outbox / name) for name in CSVS}
    outputs["templates"] = {p.name: p.read_bytes() for p in sorted(templates.glob("*.xlsx"))}
    outputs["drafts"] = _drafts(outbox / "mail" / "reminders")
    marks = Path(env["WINDOWS_LIKE_MARKS"]) if "WINDOWS_LIKE_MARKS" in env else None
    parents = {p.name: p.read_text(encoding="utf-8") for p in marks.iterdir()} if marks else {}
    workers = sum(parent in parents for parent in parents.values())
    return Run(root, outputs, check.stdout.decode(encoding), workers)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, forms: dict[str, FormSpec], campaign: Campaign,
         roster: Roster, template_dir: Path) -> tuple[Run, Run]:
    """The same inbox through a normal run and through a Windows-like one (no fork, no SIGALRM, GBK console)."""
    base = tmp_path_factory.mktemp("windows")
    inbox = base / "inbox"
    # Enough returns that the parse runs in the worker pool (spawned, in the Windows-like run).
    for u in roster:
        for spec in forms.values():
            submit(template_dir, inbox, spec, campaign, u)
    submit(template_dir, inbox, forms["annex1"], campaign, unit(roster, "U003"), name=f"U003_附件1_{EMOJI}.xlsx",
           s1_center_study_times="二十多")
    assert len(list(inbox.iterdir())) >= 32
    site = base / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    marks = base / "marks"
    marks.mkdir()
    common = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH, "PIPELINE_READER": os.environ.get("PIPELINE_READER", "")}
    common.pop("PYTHONIOENCODING", None)
    normal_env = {**common, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8"}
    windows_env = {**common, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]), "PYTHONIOENCODING": "gbk",
                   "WINDOWS_LIKE_MARKS": str(marks)}
    (base / "normal").mkdir()
    (base / "windows").mkdir()
    return (_end_to_end(base / "normal", inbox, normal_env, "utf-8"),
            _end_to_end(base / "windows", inbox, windows_env, "gbk"))


@pytest.mark.slow
def test_windows_like_run_gives_the_same_outputs(runs: tuple[Run, Run]) -> None:
    """Without fork and SIGALRM, on a GBK console, templates → rollup → check → mail give the same outputs."""
    normal, windows = runs
    assert windows.workers >= 2, "the spawned parse workers, too, ran without fork and SIGALRM"
    assert normal.workers == 0
    assert windows.outputs.keys() == normal.outputs.keys()
    for name, value in normal.outputs.items():
        assert windows.outputs[name] == value, name
    assert normal.outputs["drafts"], "the reminders were drafted"
    assert any("二十多" in row["value"] for row in normal.outputs["issues.csv"])


@pytest.mark.slow
def test_gbk_console_prints_what_it_cannot_encode_as_an_escape(runs: tuple[Run, Run]) -> None:
    """`check` on a file named with an emoji prints it on a GBK console as \\U0001f600 instead of crashing."""
    normal, windows = runs
    assert EMOJI in normal.check_out
    assert windows.check_out == normal.check_out.replace(EMOJI, "\\U0001f600")


def test_time_limit_with_spawned_workers_stops_a_read_stuck_in_c(
    tmp_path: Path, template_dir: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With spawn only (no fork, no SIGALRM), a read stuck in C code is killed at the limit: 处理超时, and the batch goes on."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(STUCK_IN_C, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hook), str(REPO)]))
    monkeypatch.delattr(signal, "SIGALRM")
    monkeypatch.setattr(pipeline.portable, "can_fork", lambda: False)  # workers are spawned, as on Windows
    limits = dataclasses.replace(campaign.limits, seconds_per_file=2)
    quick = dataclasses.replace(campaign, limits=limits)
    inbox = tmp_path / "inbox"
    slow = submit(template_dir, inbox, forms["annex1"], campaign, unit(roster, "U001"), name="slow.xlsx")
    fine = submit(template_dir, inbox, forms["annex1"], campaign, unit(roster, "U002"), name="fine.xlsx")

    stuck, ok = read_all([new_submission(p, inbox) for p in (slow, fine)], forms, quick, roster)

    assert (stuck.machine_fault, stuck.findings) == (TIMEOUT_RULE, [])
    assert stuck.note.startswith(f"{MACHINE_FAULT_NOTE}（{TIMEOUT_RULE}）")
    assert ok.unit is not None and ok.unit.code == "U002" and ok.errors == 0


def test_console_that_cannot_encode_gets_escapes() -> None:
    """tolerant_console turns a strict GBK stream into one that escapes what GBK lacks, keeping the encoding."""
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="gbk", errors="strict")
    tolerant_console(stream)
    print(f"报表{EMOJI}.xlsx", file=stream)
    stream.flush()
    assert raw.getvalue().decode("gbk") == "报表\\U0001f600.xlsx\n"
    assert stream.encoding == "gbk"


def test_china_time_without_a_tz_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without tzdata (as on some Windows machines) China time is the fixed UTC+8 offset."""
    import zoneinfo

    def missing(key: str) -> Any:
        raise zoneinfo.ZoneInfoNotFoundError(key)

    monkeypatch.setattr(zoneinfo, "ZoneInfo", missing)
    assert china_tz() is CHINA_OFFSET
    monkeypatch.undo()
    assert str(china_tz()) == "Asia/Shanghai"


@pytest.mark.parametrize(("typed", "runs_as"), [
    (["templates"], ["templates"]),
    (["rollup", "--inbox", "收件"], ["rollup", "--inbox", "收件"]),
    (["mail"], ["mail", "templates"]),
    (["mail", "--send"], ["mail", "templates", "--send"]),
    (["mail", "reminders"], ["mail", "reminders"]),
    (["remind", "--send"], ["mail", "reminders", "--send"]),
    (["feedback"], ["mail", "feedback"]),
])
def test_aqscy_takes_the_makefile_target_names(typed: list[str], runs_as: list[str]) -> None:
    """`aqscy <make target>` runs what `make <target>` runs."""
    assert translate(typed) == runs_as


LAUNCHERS = {"生成模板.bat": "templates", "汇总.bat": "rollup", "催报.bat": "remind", "上报材料.bat": "report"}


@pytest.mark.parametrize(("name", "target"), list(LAUNCHERS.items()))
def test_launchers_are_crlf_utf8_and_run_their_command(name: str, target: str) -> None:
    """Each .bat is UTF-8 without BOM, CRLF throughout, switches cmd.exe to UTF-8 first and pauses at the end."""
    data = (REPO / "windows" / name).read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\n") == data.count(b"\r\n") > 0
    lines = data.decode("utf-8").split("\r\n")
    assert lines[:2] == ["@echo off", "chcp 65001 >nul"]
    assert "py -3 -m venv .venv" in data.decode("utf-8")
    assert f'".venv\\Scripts\\aqscy.exe" {target} %*' in lines
    assert "pause" in lines


def test_pyproject_declares_the_aqscy_command() -> None:
    """pyproject.toml installs the aqscy console command on pipeline.cli.entry:run."""
    import tomllib

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts == {"aqscy": "pipeline.cli.entry:run"}
