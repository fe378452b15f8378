"""Tests for limits in the rollup workbook writer that only show at province scale."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from pipeline.outputs.limits import CUT_NOTE, MAX_CELL_CHARS
from pipeline.outputs.report import _Book, answers_reference


def test_sentence_points_to_the_cases_sheet_with_the_count() -> None:
    """A free-text field in a 进展情况 sentence becomes a pointer to the 典型案例 sheet with the number of texts."""
    assert answers_reference(20) == "见“典型案例”表，共20件"
    assert answers_reference(0) == "无"


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
