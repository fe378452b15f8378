"""Correctness holes of issue #13: free text kept as typed, the ledger surviving make clean, program errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from returns import REPO, clean_values, make_return, read_csv, record_values, rollup, settings

import pipeline.outputs.report as report
import pipeline.workbook.read as reader
from pipeline.faults import LOG_NAME, PROGRAM_ERROR_NOTE, log_to
from pipeline.job import rollup_to_outbox
from pipeline.model import Outcome
from pipeline.outputs.mail.drafts import draft_templates
from pipeline.outputs.mail.smtp import send_drafts, smtp_settings
from pipeline.store.ledger import LEDGER_NAME

# ----------------------------------------------------------------------------- item 6: text as typed

TYPED = {"contact": "张　伟（兼）", "s4_case_details": "某企业违规动火，已处罚款，责令整改（已完成）。"}
TITLE = "安全员（兼），副经理"


def test_free_text_is_kept_exactly_as_typed(tmp_path: Path) -> None:
    """Full-width punctuation in names, titles and cases reaches records.csv, 联络员表 and 典型案例 unchanged."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    make_return(inbox, "annex1", "U001", clean_values("annex1", **TYPED))
    make_return(inbox, "annex2", "U001", clean_values("annex2", title=f"  {TITLE} ", office_phone="０３１１－６６２７００１"))
    result = rollup(inbox, outbox)
    records = record_values(outbox)
    assert records[("U001", "contact")] == TYPED["contact"]
    assert records[("U001", "s4_case_details")] == TYPED["s4_case_details"]
    liaison = record_values(outbox, "annex2")
    assert liaison[("U001", "title")] == TITLE  # trimmed, nothing else
    assert liaison[("U001", "office_phone")] == "0311-6627001"  # an identifier is still folded to ASCII
    wb = openpyxl.load_workbook(outbox / report.rollup_name(result), read_only=True)
    try:
        cells = {v for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if isinstance(v, str)}
    finally:
        wb.close()
    assert {TITLE, TYPED["s4_case_details"]} <= cells  # 联络员表 and 典型案例


# ----------------------------------------------------------------------------- item 8: make clean keeps the ledger


class _FakeSmtp:
    """Records what would have been sent."""

    def __init__(self, sent: list[str]) -> None:
        self.sent = sent

    def sendmail(self, sender: str, to: list[str], data: bytes) -> dict[str, Any]:
        self.sent.extend(to)
        return {}

    def quit(self) -> None:
        return None

    def close(self) -> None:
        return None


def _make_clean(root: Path, **paths: Path) -> subprocess.CompletedProcess[str]:
    """``make clean`` from this repository's Makefile, every path it deletes pointed into ``root``."""
    overrides = [f"{name}={path}" for name, path in paths.items()]
    return subprocess.run(["make", "-f", str(REPO / "Makefile"), "-C", str(root), "clean", *overrides],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_clean_keeps_the_ledger_and_sending_stays_idempotent(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """After make clean the outputs are gone, the ledger is not, and a second --send sends nothing again."""
    import pipeline.outputs.mail.smtp as mail

    forms, campaign, roster = settings()
    templates, outbox, venv = tmp_path / "templates", tmp_path / "outbox", tmp_path / "venv"
    sent: list[str] = []
    monkeypatch.setattr(mail, "connect", lambda _settings: _FakeSmtp(sent))
    smtp = smtp_settings({"SMTP_HOST": "127.0.0.1", "SMTP_SECURITY": "none", "SMTP_PAUSE": "0"}, campaign)

    def draft_and_send() -> int:
        batch = draft_templates(forms, campaign, roster, templates, outbox)
        result = send_drafts(batch.drafts, smtp, outbox / LEDGER_NAME, echo=lambda _line: None,
                             sleep=lambda _s: None)
        return len(result.sent)

    first = draft_and_send()
    assert first == sum(bool(u.email) for u in roster) and len(sent) == first
    (outbox / "records.csv").write_text("x", encoding="utf-8")
    (outbox / LOG_NAME).write_text("log\n", encoding="utf-8")
    (venv / "bin").mkdir(parents=True)
    proc = _make_clean(tmp_path, VENV=venv, TEMPLATES=templates, OUTBOX=outbox)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in outbox.iterdir()) == sorted([LEDGER_NAME, LOG_NAME])
    assert not venv.exists() and not list(templates.glob("*.xlsx"))
    assert draft_and_send() == 0
    assert len(sent) == first


# ----------------------------------------------------------------------------- item 9: program errors


def _broken_identity(*args: Any) -> bool:
    raise AttributeError("'NoneType' object has no attribute 'code'")  # stands for a bug in our own code


@pytest.mark.program_error
def test_a_program_error_is_logged_and_never_blamed_on_the_unit(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in the reader: the file's note says it is our error, no 错误 for the unit, the log has the traceback."""
    forms, campaign, roster = settings()
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    path = make_return(inbox, "annex1", "U001", clean_values("annex1"))
    make_return(inbox, "annex1", "U002", clean_values("annex1"))
    real = reader.check_identity
    monkeypatch.setattr(reader, "check_identity",
                        lambda sub, *a: _broken_identity() if sub.path == path else real(sub, *a))
    lines = rollup_to_outbox(inbox, outbox, forms, campaign, roster)
    files = {row["file"]: row for row in read_csv(outbox / "files.csv")}
    row = files[path.name]
    assert (row["outcome"], row["note"], row["errors"]) == (Outcome.UNSUPPORTED, PROGRAM_ERROR_NOTE, "0")
    assert [r for r in read_csv(outbox / "issues.csv") if r["file"] == path.name] == []
    assert any(line.startswith("程序内部错误 1 个，详见日志") for line in lines), lines
    log = (outbox / LOG_NAME).read_text(encoding="utf-8")
    assert "Traceback" in log and "AttributeError" in log and path.name in log
    assert [r["outcome"] for f, r in files.items() if f != path.name] == [Outcome.ACCEPTED]


def test_a_broken_file_keeps_its_unit_facing_message(tmp_path: Path) -> None:
    """A truncated zip is still the unit's to fix: 文件损坏 as an 错误 finding, and no program error logged."""
    forms, campaign, roster = settings()
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    path = make_return(inbox, "annex1", "U001", clean_values("annex1"))
    data = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
    path.write_bytes(data[: len(data) // 2])
    lines = rollup_to_outbox(inbox, outbox, forms, campaign, roster)
    issues = [r for r in read_csv(outbox / "issues.csv") if r["file"] == path.name]
    assert [(r["severity"], r["rule"]) for r in issues] == [("错误", "文件损坏")]
    assert not any("程序内部错误" in line for line in lines)
    assert not (outbox / LOG_NAME).exists()


@pytest.mark.program_error
@pytest.mark.skipif((os.cpu_count() or 1) < 2 or not hasattr(os, "fork"), reason="the workbook is forked only then")
def test_the_forked_workbook_writer_logs_its_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error in the forked workbook child is logged with its traceback, then surfaces in the parent."""
    inbox = tmp_path / "inbox"
    make_return(inbox, "annex1", "U001", clean_values("annex1"))

    def broken(path: Path, rollup: Any) -> None:
        raise KeyError("no such sheet")

    monkeypatch.setattr(report, "write_workbook", broken)
    with pytest.raises(KeyError), log_to(tmp_path / "outbox"):
        rollup(inbox, tmp_path / "outbox")
    log = (tmp_path / "outbox" / LOG_NAME).read_text(encoding="utf-8")
    assert "子进程" in log and "KeyError" in log


def test_a_test_with_an_undeclared_program_error_fails(tmp_path: Path) -> None:
    """The test plugin fails a test that logs a program error without the program_error marker, and passes one with it."""
    (tmp_path / "test_inner.py").write_text(
        "import pytest\n"
        "from program_errors import _no_program_errors  # noqa: F401\n"
        "from pipeline.faults import log_error\n\n"
        "def test_undeclared():\n    log_error('x', 'trace')\n\n"
        "@pytest.mark.program_error\n"
        "def test_declared():\n    log_error('x', 'trace')\n", encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    program_error: expected\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert "ERROR test_inner.py::test_undeclared" in proc.stdout and "1 error" in proc.stdout, proc.stdout
    assert "program error(s) logged during the test" in proc.stdout

