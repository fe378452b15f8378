"""A Word return in the inbox is read by the word source and counted like a template return."""

from __future__ import annotations

from pathlib import Path

from returns import REPORT_DATE, clean_values, make_return, read_csv, rollup, spec
from word_forms import Style, write_form

from pipeline.model import Outcome, Severity, Status


def test_word_return_is_counted_with_the_numbers_typed(tmp_path: Path) -> None:
    """U002's .docx (table layout, “12次”-style blanks) counts beside U001's template, with its own numbers."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    make_return(inbox, "annex1", "U001", clean_values("annex1"))
    annex1 = spec("annex1")
    counts = [f.id for f in annex1.body_fields if f.kind == "count"]
    typed = {fid: str(i % 7 + 1) for i, fid in enumerate(counts)}
    typed[counts[0]] = "12次"
    unit_name = "清河县恒通物流运输有限公司"
    header = {"unit_name": unit_name, "contact": "李明", "phone": "0311-6627527", "report_date": REPORT_DATE.isoformat()}
    write_form(inbox / "恒通物流附件1.docx", annex1, typed, header, Style(layout="table", wording="original"))
    result = rollup(inbox, tmp_path / "outbox")
    status = result.status("U002", "annex1")
    assert status.status == Status.WARNED, [f.text for f in status.latest.findings] if status.latest else status
    assert status.counted is not None and status.counted.read_as == "Word原文"
    records = {r["field_id"]: r["value"] for r in read_csv(tmp_path / "outbox" / "records.csv") if r["unit_code"] == "U002"}
    for fid in counts:
        assert records[fid] == ("12" if fid == counts[0] else typed[fid]), fid
    files = {r["file"]: r["outcome"] for r in read_csv(tmp_path / "outbox" / "files.csv")}
    assert files["恒通物流附件1.docx"] == Outcome.ACCEPTED


def test_a_document_without_the_sentences_stays_material(tmp_path: Path) -> None:
    """A .docx holding no sentence of the form (an activity summary) is listed as material, not read as a return."""
    import docx

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    document = docx.Document()
    document.add_paragraph("清河县恒通物流运输有限公司2023年安全生产月活动总结")
    document.add_paragraph("本单位认真开展了安全生产月各项活动。")
    document.save(str(inbox / "U002活动总结.docx"))
    rollup(inbox, tmp_path / "outbox")
    files = {r["file"]: r["outcome"] for r in read_csv(tmp_path / "outbox" / "files.csv")}
    assert files["U002活动总结.docx"] == Outcome.MATERIAL


def test_word_return_with_a_sentence_deleted_is_returned(tmp_path: Path) -> None:
    """A .docx whose 第3项 sentence was deleted is 退回 with an 错误 naming that item, not counted with it blank."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    annex1 = spec("annex1")
    typed = {f.id: ("案例" if f.kind == "text" else "3") for f in annex1.body_fields}
    header = {"unit_name": "清河县恒通物流运输有限公司", "contact": "李明", "phone": "0311-6627527",
              "report_date": REPORT_DATE.isoformat()}
    write_form(inbox / "恒通物流附件1.docx", annex1, typed, header, Style(layout="table", wording="original"),
               frozenset({"s3"}))
    result = rollup(inbox, tmp_path / "outbox")
    status = result.status("U002", "annex1")
    assert status.status == Status.RETURNED
    assert status.latest is not None
    errors = [f for f in status.latest.findings if f.severity == Severity.ERROR]
    assert errors and all(annex1.sections[2].title in f.message for f in errors)
    assert all(f.label in errors[0].message for f in annex1.sections[2].fields)
