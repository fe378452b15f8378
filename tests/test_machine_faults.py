"""Faults of this computer (本机问题) and of this program are never blamed on the file, never cached, always retried.

A hanging conversion is stopped with everything it started; a missing LibreOffice or unar is named
with what to install; the next run reads such a file again although nothing in the inbox changed.
A program error in any source is contained; a full disk ends the run with a Chinese message.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from returns import REPORT_DATE, clean_values, make_return, read_csv, settings, spec
from word_forms import Style, write_form

import pipeline.documents.extract as extract
from pipeline.faults import MACHINE_FAULT_NOTE, NO_TOOL_RULE, TIMEOUT_RULE
from pipeline.job import collect, rollup_to_outbox
from pipeline.model import Outcome
from pipeline.settings.campaign import Campaign
from pipeline.store.ledger import LEDGER_NAME, Ledger

REPO = Path(__file__).resolve().parents[1]
UNCHANGED = "来件和设置自上次汇总以来没有变化"
RTF = b"{\\rtf1\\ansi {\\fonttbl\\f0\\fswiss Helvetica;}\\f0\\pard 2023 safety month \\par}"
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="the stand-ins for soffice are shell scripts")


def _program(folder: Path, name: str, script: str) -> Path:
    """An executable shell script ``name`` in ``folder``, which then heads PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def _quick(seconds: int) -> Campaign:
    campaign = settings()[1]
    return dataclasses.replace(campaign, limits=dataclasses.replace(campaign.limits, seconds_per_file=seconds))


def _files(outbox: Path) -> dict[str, dict[str, str]]:
    return {row["file"]: row for row in read_csv(outbox / "files.csv")}


@posix_only
@pytest.mark.parametrize("who_stops_it", ["the converter, within the file's budget", "the worker's killer"])
def test_hanging_conversion_is_stopped_with_all_it_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           who_stops_it: str) -> None:
    """A .doc/.rtf conversion that hangs leaves no soffice behind, and the file gets 处理超时 (本机问题), not 找不到填报语句."""
    pids = tmp_path / "pids"
    _program(tmp_path / "bin", "soffice", f"echo $$ >> {pids}\nsleep 300 &\necho $! >> {pids}\nexec sleep 301\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    if who_stops_it == "the worker's killer":
        monkeypatch.setattr(extract, "budget_left", lambda: None)  # soffice would wait 120 s: the worker is killed
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "U002附件1.rtf").write_bytes(RTF)
    make_return(inbox, "annex1", "U001", clean_values("annex1"))
    forms, _, roster = settings()

    result = collect(inbox, tmp_path / "outbox", forms, _quick(3), roster)

    doc = next(s for s in result.submissions if s.file.endswith(".rtf"))
    assert (doc.outcome, doc.machine_fault, doc.findings, doc.mismatch) == (Outcome.UNSUPPORTED, TIMEOUT_RULE, [], "")
    assert doc.note.startswith(f"{MACHINE_FAULT_NOTE}（{TIMEOUT_RULE}）") and "填报语句" not in doc.note
    # Which of the two stopped it: the converter ends soffice itself within the budget, else the worker is killed.
    assert ("LibreOffice" in doc.note) == (who_stops_it != "the worker's killer")
    started = [int(line) for line in pids.read_text().split()]
    assert len(started) == 2
    alive = [p for p in started if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert alive == []
    assert any(s.unit is not None and s.unit.code == "U001" and s.outcome == Outcome.ACCEPTED for s in result.submissions)


@posix_only
def test_missing_libreoffice_is_named_and_the_file_is_read_again_next_run(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without LibreOffice a .rtf return is 本机问题 saying to install it; after installing, an unchanged inbox is read again."""
    annex1 = spec("annex1")
    counts = [f.id for f in annex1.body_fields if f.kind == "count"]
    header = {"unit_name": "清河县恒通物流运输有限公司", "contact": "李明", "phone": "0311-6627527",
              "report_date": REPORT_DATE.isoformat()}
    converted = write_form(tmp_path / "converted.docx", annex1, {fid: "2" for fid in counts}, header,
                           Style(layout="table", wording="original"))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "恒通物流附件1.rtf").write_bytes(RTF)
    outbox = tmp_path / "outbox"
    empty = tmp_path / "no-office"
    empty.mkdir()
    system_path = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(empty))  # no soffice anywhere
    forms, campaign, roster = settings()

    first = rollup_to_outbox(inbox, outbox, forms, campaign, roster)

    row = _files(outbox)["恒通物流附件1.rtf"]
    assert row["note"].startswith(f"{MACHINE_FAULT_NOTE}（{NO_TOOL_RULE}）") and "安装 LibreOffice" in row["note"]
    assert row["errors"] == "0"
    assert any(line.startswith(f"{MACHINE_FAULT_NOTE} 1 个") for line in first)
    with Ledger(outbox / LEDGER_NAME) as ledger:
        cached = ledger.db.execute("SELECT count(*) FROM cache WHERE key LIKE 'parse:%'").fetchone()[0]
    assert cached == 0

    # LibreOffice is installed (a stand-in that "converts" to the prepared .docx); the inbox is as it was.
    _program(tmp_path / "bin", "soffice", f'for a; do last="$a"; done\ncp {converted} "${{last%/*}}/../form.docx"\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{system_path}")

    second = rollup_to_outbox(inbox, outbox, forms, campaign, roster)

    assert not any(UNCHANGED in line for line in second)
    assert _files(outbox)["恒通物流附件1.rtf"]["outcome"] == Outcome.ACCEPTED


@posix_only
def test_check_never_passes_a_file_this_computer_could_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`check` on a .rtf without LibreOffice says 本机问题 and what to install, exits 1, and never says 通过."""
    from pipeline.cli import main

    path = tmp_path / "恒通物流附件1.rtf"
    path.write_bytes(RTF)
    empty = tmp_path / "no-office"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    code = main(["check", "--campaign", str(REPO / "campaign.toml"), "--roster", str(REPO / "units.csv"), str(path)])

    out = capsys.readouterr().out
    assert code == 1
    assert f"未能检查：{MACHINE_FAULT_NOTE}（{NO_TOOL_RULE}）" in out and "LibreOffice" in out and "：通过" not in out


def test_check_stops_a_file_that_hangs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`check` reads in killable workers too: a file whose read never ends is reported 处理超时, the next one is checked."""
    import threading

    from corpus import write_settings

    import pipeline.workbook.read as reader
    from pipeline.cli import main

    campaign_toml, units_csv = write_settings(tmp_path / "settings", {"seconds_per_file": 2})
    stuck = make_return(tmp_path / "in", "annex1", "U001", clean_values("annex1"), name="stuck.xlsx")
    fine = make_return(tmp_path / "in", "annex1", "U002", clean_values("annex1"), name="fine.xlsx")
    real = reader.load_xlsx

    def hang(path: Path, *args: Any) -> Any:
        if path.name == "stuck.xlsx":
            threading.Event().wait()  # never returns: only killing its process ends it
        return real(path, *args)

    monkeypatch.setenv("PIPELINE_READER", "full")
    monkeypatch.setattr(reader, "load_xlsx", hang)  # the workers are forked: they inherit it

    code = main(["check", "--campaign", str(campaign_toml), "--roster", str(units_csv), str(stuck), str(fine)])

    out = capsys.readouterr().out
    assert code == 1
    assert f"stuck.xlsx：未能检查：{MACHINE_FAULT_NOTE}（{TIMEOUT_RULE}）" in out
    assert "fine.xlsx：通过" in out


@posix_only
def test_no_reminder_is_sent_while_a_file_could_not_be_read_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`mail reminders --send` refuses to send while a file is 本机问题: its unit may be listed 未报送 for nothing."""
    from pipeline.cli import main

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "恒通物流附件1.rtf").write_bytes(RTF)
    empty = tmp_path / "no-office"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", "1")  # nothing listens: a send attempt would fail differently

    code = main(["mail", "reminders", "--send", "--campaign", str(REPO / "campaign.toml"), "--roster",
                 str(REPO / "units.csv"), "--inbox", str(inbox), "--outbox", str(tmp_path / "outbox"),
                 "--templates", str(tmp_path / "templates")])

    said = capsys.readouterr()
    assert code == 2
    assert "恒通物流附件1.rtf" in said.out and "本次不发送邮件" in said.err


def _rar(path: Path) -> Path:
    """A tiny RAR 5 archive header: enough for rarfile to need its unar/bsdtar backend."""
    path.write_bytes(bytes.fromhex("526172211a070100") + b"\x00" * 64)
    return path


def _break(target: str) -> Callable[[pytest.MonkeyPatch], None]:
    def patch(monkeypatch: pytest.MonkeyPatch) -> None:
        def broken(*args: Any, **kwargs: Any) -> Any:
            raise KeyError("a bug of ours")

        monkeypatch.setattr(target, broken)

    return patch


def _archive(inbox: Path) -> None:
    import zipfile

    with zipfile.ZipFile(inbox / "U003材料.zip", "w") as zf:
        zf.writestr("照片说明.txt", "安全生产月活动照片")


def _mail(inbox: Path) -> None:
    (inbox / "U003报送.eml").write_bytes(b"From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain\r\n\r\nhi\r\n")


def _word(inbox: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("清河县运输公司2023年安全生产月活动总结")
    document.save(str(inbox / "U003活动总结.docx"))


def _material(inbox: Path) -> None:
    (inbox / "U003说明.txt").write_text("安全生产月活动说明", encoding="utf-8")


@pytest.mark.program_error
@pytest.mark.parametrize(("make", "target"), [
    (_archive, "pipeline.intake.sources.archive._guard"),
    (_mail, "pipeline.intake.sources.saved_mail._read_eml"),
    (_word, "pipeline.intake.sources.word.read_word_form"),
    (_material, "pipeline.intake.sources.material.register_material"),
], ids=["archive", "saved mail", "word", "material"])
def test_a_program_error_in_any_source_is_contained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    make: Callable[[Path], None], target: str) -> None:
    """A bug of ours in any source is logged and counted as 程序内部错误, never “文件已损坏”, and the run goes on."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    make(inbox)
    make_return(inbox, "annex1", "U001", clean_values("annex1"))
    _break(target)(monkeypatch)
    forms, campaign, roster = settings()
    outbox = tmp_path / "outbox"

    lines = rollup_to_outbox(inbox, outbox, forms, campaign, roster)

    rows = _files(outbox)
    broken = [r for r in rows.values() if r["outcome"] != Outcome.ACCEPTED]
    assert [(r["note"], r["errors"], r["warnings"]) for r in broken] == [("程序内部错误，已记入日志，请联系维护人员", "0", "0")]
    assert any(line.startswith("程序内部错误 1 个") for line in lines)
    assert "a bug of ours" in (outbox / "pipeline.log").read_text(encoding="utf-8")
    assert len(rows) == 2


def test_missing_rar_backend_is_a_machine_fault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A .rar on a computer without unar/bsdtar is 本机问题 naming what to install, not an unreadable archive."""
    import rarfile

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _rar(inbox / "U003报表.rar")

    def cannot(*args: Any, **kwargs: Any) -> Any:
        raise rarfile.RarCannotExec("Cannot find working tool")

    monkeypatch.setattr(rarfile, "RarFile", cannot)
    forms, campaign, roster = settings()

    result = collect(inbox, tmp_path / "outbox", forms, campaign, roster)

    (sub,) = result.submissions
    assert (sub.machine_fault, sub.findings) == (NO_TOOL_RULE, [])
    assert "unar" in sub.note and sub.note.startswith(MACHINE_FAULT_NOTE)


# ----------------------------------------------------------------------------- a full disk


def _no_space_in(name: str) -> Callable[..., Any]:
    """atomic_path that fails like a full disk when it writes an output whose name contains ``name``."""
    import errno

    from pipeline.store import atomic

    real = atomic.atomic_path

    def full(path: Path, *args: Any, **kwargs: Any) -> Any:
        if name not in path.name:
            return real(path, *args, **kwargs)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    return full


@pytest.mark.parametrize("where", ["feedback", "ledger"])
def test_a_full_disk_ends_the_run_with_a_chinese_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str], where: str) -> None:
    """A full outbox disk ends rollup with exit code 2 and a Chinese message naming the folder and the space needed.

    No traceback reaches the terminal, what was written before stays whole, and the next run is not skipped as
    up to date.
    """
    from pipeline.cli import main

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    make_return(inbox, "annex1", "U001", clean_values("annex1", s1_center_study_times="x"))  # 退回: gets feedback
    make_return(inbox, "annex1", "U002", clean_values("annex1"))
    outbox = tmp_path / "outbox"
    args = ["rollup", "--inbox", str(inbox), "--outbox", str(outbox), "--campaign", str(REPO / "campaign.toml"),
            "--roster", str(REPO / "units.csv")]
    assert main(args) == 0
    before = [p.name for p in outbox.glob("*.csv")]
    capsys.readouterr()
    make_return(inbox, "annex1", "U003", clean_values("annex1", s1_center_study_times="y"))  # outputs rewritten
    if where == "feedback":
        monkeypatch.setattr("pipeline.forms.generate.atomic_path", _no_space_in("审核反馈"))
    else:
        real_init = Ledger.__init__

        def tiny(self: Ledger, path: Path) -> None:
            real_init(self, path)
            pages = self.db.execute("PRAGMA page_count").fetchone()[0]
            self.db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "database or disk is full"

        monkeypatch.setattr(Ledger, "__init__", tiny)

    code = main(args)

    out, err = capsys.readouterr()
    assert code == 2
    assert "磁盘空间不足" in err and str(outbox) in err and "MB" in err
    assert "Traceback" not in out + err and "Error" not in out + err
    for name in before:  # each output is the old one or a complete new one, never cut short
        assert read_csv(outbox / name) or name in ("issues.csv", "materials.csv", "核对.csv"), name  # 核对: no scans here
    assert not list(outbox.rglob("*.tmp"))
    monkeypatch.undo()
    assert main(args) == 0
    assert UNCHANGED not in capsys.readouterr().out


def test_a_full_temporary_folder_ends_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full temporary folder while unpacking is a full disk (not a damaged archive): the run ends naming that folder."""
    import errno

    import pipeline.intake.sources.archive as archive
    from pipeline.faults import DiskFullError

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _archive(inbox)

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(archive, "_copy", full)
    forms, campaign, roster = settings()

    with pytest.raises(DiskFullError) as caught:
        collect(inbox, tmp_path / "outbox", forms, campaign, roster)

    import tempfile

    assert tempfile.gettempdir() in str(caught.value) and f"{campaign.limits.max_unzipped_mb} MB" in str(caught.value)


def test_sqlite_full_is_a_full_disk() -> None:
    """SQLite's “database or disk is full” counts as a full disk, and so does ENOSPC; another error does not."""
    import errno

    from pipeline.faults import is_disk_full

    assert is_disk_full(sqlite3.OperationalError("database or disk is full"))
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
