"""Tests for limits in the rollup workbook writer that only show at province scale."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from pipeline.outputs.limits import CUT_NOTE, MAX_CELL_CHARS
from pipeline.outputs.report import SENTENCE_ANSWERS_CHARS, _Book, _joined_answers


def test_few_answers_are_joined_whole() -> None:
    """A county's handful of 典型案例 answers go into the sentence in full, joined by “；”."""
    assert _joined_answers(["甲：案例一", "乙：案例二"]) == "甲：案例一；乙：案例二"
    assert _joined_answers([]) == "无"


def test_many_answers_are_cut_and_point_to_the_cases_sheet() -> None:
    """Ten thousand answers are cut near the limit and the sentence says how many there are and where."""
    answers = [f"单位{i:05d}：某企业违规动火作业被处罚" for i in range(10_000)]
    joined = _joined_answers(answers)
    assert joined.endswith("……共 10000 个单位填报，全部内容见“典型案例”表")
    assert len(joined) <= SENTENCE_ANSWERS_CHARS + 40
    assert joined.startswith(answers[0])


def test_text_longer_than_an_excel_cell_is_truncated_with_a_note(tmp_path: Path) -> None:
    """Text over Excel's 32,767-character cell limit is cut with a note instead of failing the workbook."""
    path = tmp_path / "long.xlsx"
    book = _Book(path)
    ws = book.wb.add_worksheet("表")
    book.text(ws, 0, 0, "长" * (MAX_CELL_CHARS + 100))
    book.wb.close()
    value = openpyxl.load_workbook(path)["表"]["A1"].value
    assert len(value) == MAX_CELL_CHARS
    assert value.endswith(CUT_NOTE)


def test_the_repository_placeholder_is_not_a_received_file(tmp_path: Path) -> None:
    """inbox/.gitkeep, which only keeps the empty folder in git, is not counted as a unit's file; others are."""
    from pipeline.intake.scan import scan_inbox

    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / ".gitkeep").write_bytes(b"")
    (inbox / "sub" / ".gitkeep").write_bytes(b"")
    (inbox / ".DS_Store").write_bytes(b"x")
    assert [p.relative_to(inbox).as_posix() for p in scan_inbox(inbox)] == [".DS_Store", "sub/.gitkeep"]
