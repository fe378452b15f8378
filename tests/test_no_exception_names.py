"""No Python exception name, and nothing but Chinese, reaches a user: the whole test corpus through every command.

The hostile corpus (tests/corpus.py), the sniffing cases of tests/test_hostile.py, archives, saved mails and
Word/PDF files whole and cut short (tests/containers.py) go through ``rollup``, ``check`` and ``mail``; every
output (CSV, workbook cells, mail drafts) and the terminal are scanned. pipeline.log is for the maintainers
and may name exceptions.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from containers import eml_bytes, rar_bytes, sevenzip_bytes, zip_bytes
from corpus import REPO, Kit, build_corpus, build_valid, ole_file, rewrite_zip, write_settings, xml_edit
from test_hostile import SNIFF_CASES
from word_forms import Style, write_form

PYTHON_WORDS = re.compile(r"Error|Exception|Traceback")
# An English phrase: two or more ASCII words in a row (“0 is out of range”, “No such file”).
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,:]+[A-Za-z]{2,})+")
# What the Chinese text may name in Latin letters: commands, programs, formats, the outputs' own file names.
ALLOWED = re.compile(r"make \w+(?: (?:INBOX|OUTBOX)=\S*)*|python -m pipeline|--send|LibreOffice|WPS|Excel|Word|"
                     r"PDF|RAR|unar|bsdtar|libarchive-tools|seconds_per_file|campaign\.toml|units\.csv|"
                     r"\b[\w.-]+\.(?:csv|xlsx|xls|eml|log|sqlite|toml|docx|doc)\b|[\w.+-]+@[\w.-]+")


def _extras(inbox: Path, kit: Kit) -> None:
    """The hostile files beyond the corpus: sniffing cases, containers and documents, whole and cut short."""
    for name, make, _kind, _category in SNIFF_CASES:
        (inbox / "sniff").mkdir(parents=True, exist_ok=True)
        (inbox / "sniff" / name).write_bytes(make())
    valid = (inbox / "valid" / "T01_附件1.xlsx")
    kit.filled(valid, "annex1", "T01")
    form = valid.read_bytes()
    annex1 = kit.forms["annex1"]
    word = write_form(inbox.parent / "word.docx", annex1, {f.id: "3" for f in annex1.body_fields if f.kind == "count"},
                      {"unit_name": kit.unit("T02").name}, Style(layout="table", wording="original")).read_bytes()
    when = dt.datetime(2023, 6, 28, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    whole = {
        "T03_附件.zip": zip_bytes({"T03_附件1.xlsx": form}),
        "T04_附件.zip": zip_bytes({"T04附件1.xlsx": form}, gbk=True),
        "T05_加密.zip": zip_bytes({"T05附件1.xlsx": form}, encrypted=True),
        "T06_附件.7z": sevenzip_bytes({"T06附件1.xlsx": form}),
        "T07_附件.rar": rar_bytes({"T07附件1.xlsx": form}),
        "T08_报送.eml": eml_bytes("t08@example.com", when, {"附件1.xlsx": form, "说明.txt": "说明".encode()}),
        "T09_附件1.docx": word,
        "T10_附件1.pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n",
        "T11_附件1.doc": ole_file({"WordDocument": b"\x00garbage"}),
        "T12_报送.msg": ole_file({"__substg1.0_0037001F": "标题".encode("utf-16-le")}),
    }
    styles = kit.filled(inbox / "whole" / "T13_附件1.xlsx", "annex1", "T13")  # cells point at styles that are gone
    rewrite_zip(styles, {"xl/styles.xml": xml_edit(lambda text: re.sub(
        r'<cellXfs count="\d+">.*?</cellXfs>', '<cellXfs count="0"></cellXfs>', text, flags=re.S))})
    for name, data in whole.items():
        (inbox / "whole").mkdir(exist_ok=True)
        (inbox / "whole" / name).write_bytes(data)
        (inbox / "cut").mkdir(exist_ok=True)
        (inbox / "cut" / name).write_bytes(data[: max(1, len(data) // 2)])


def _run(*args: str, cwd: Path) -> tuple[int, str]:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=900, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def _texts(outbox: Path) -> dict[str, str]:
    """Every output's user-facing text, by path: CSV as it stands, workbook cells, mail subjects and bodies."""
    found: dict[str, str] = {}
    for path in sorted(outbox.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".csv":
            found[str(path)] = path.read_text(encoding="utf-8-sig")
        elif path.suffix == ".xlsx":
            book = openpyxl.load_workbook(path, read_only=True)
            found[str(path)] = "\n".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
                                         for v in row if v is not None)
            book.close()
        elif path.suffix == ".eml":
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(msg, email.message.EmailMessage)
            body = msg.get_body(("plain",))
            found[str(path)] = f"{msg['Subject']}\n{body.get_content() if body is not None else ''}"
    return found


@pytest.mark.slow
def test_no_exception_name_and_only_chinese_reach_a_user(tmp_path: Path) -> None:
    """Across the whole corpus, no output and no terminal line names a Python exception or says anything in English."""
    files = write_settings(tmp_path / "settings")
    kit = Kit.load(*files)
    inbox, outbox, templates = tmp_path / "inbox", tmp_path / "outbox", tmp_path / "templates"
    build_corpus(inbox, kit)
    build_valid(inbox, kit)
    _extras(inbox, kit)
    settings = ["--campaign", str(files[0]), "--roster", str(files[1])]
    where = ["--inbox", str(inbox), "--outbox", str(outbox)]
    terminal = []
    for args in (["templates", *settings, "--templates", str(templates)], ["rollup", *settings, *where],
                 ["check", *settings, *sorted(str(p) for p in inbox.rglob("*") if p.is_file())],
                 ["mail", "reminders", *settings, *where, "--templates", str(templates)],
                 ["mail", "feedback", *settings, *where, "--templates", str(templates)]):
        code, said = _run(*args, cwd=tmp_path)
        assert code in (0, 1), said  # check exits 1 when a file has an 错误
        terminal.append(said)

    outputs = _texts(outbox)
    assert any(path.endswith(".eml") for path in outputs) and any(path.endswith(".xlsx") for path in outputs)
    named = {path: PYTHON_WORDS.findall(text) for path, text in outputs.items() if PYTHON_WORDS.search(text)}
    assert named == {}
    said = "\n".join(terminal)
    assert PYTHON_WORDS.findall(said) == []
    names = sorted({part for p in inbox.rglob("*") for part in (p.name, p.relative_to(inbox).as_posix())
                    if len(part) > 3}, key=len, reverse=True)
    stripped = said.replace(str(tmp_path), "")
    for name in names:
        stripped = stripped.replace(name, "")
    english = [line for line in ALLOWED.sub("", stripped).splitlines() if ENGLISH.search(line)]
    assert english == []
