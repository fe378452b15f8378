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
    from pipeline.intake.scan import list_inbox

    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / ".gitkeep").write_bytes(b"")
    (inbox / "sub" / ".gitkeep").write_bytes(b"")
    (inbox / ".DS_Store").write_bytes(b"x")
    assert [relative for relative, _, _ in list_inbox(inbox).files] == [".DS_Store", "sub/.gitkeep"]


def test_csv_cells_are_converted_alike_wherever_a_value_repeats(tmp_path: Path) -> None:
    """Each CSV cell shows its own value, whatever else its column holds and however often a value repeats.

    The CSV twins convert each distinct text of a column once: 1 and True, 0 and False, "=1" and "1"
    and a NaN beside numbers must still come out as themselves, in dict rows and in tuple rows alike.
    """
    import csv
    import datetime as dt
    import math

    from pipeline.model import Status
    from pipeline.outputs.report import CSV_CHUNK, FORMULA_TRIGGERS, write_csv

    long = "长" * (MAX_CELL_CHARS + 10)
    mixed: list[object] = [1, True, 0, False, "1", "=1", "+86 10", "-", None, math.nan, 2.5, Status.PASSED,
                           dt.date(2023, 6, 30), "\ud800", long, "", "@x", 12]
    kinds: list[list[object]] = [mixed, ["甲", "=乙", "甲", "", "-3"], [7, 8, 9], [None, None]]
    rows = [tuple(column[i % len(column)] for column in kinds) for i in range(CSV_CHUNK + 5)]

    def shown(value: object) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        if isinstance(value, str):
            text = value.replace("\ud800", "\ufffd")
            if len(text) >= MAX_CELL_CHARS:
                text = text[:MAX_CELL_CHARS - 1 - len(CUT_NOTE)] + CUT_NOTE
            return "'" + text if text.startswith(FORMULA_TRIGGERS) else text
        return str(value)

    names = ["a", "b", "c", "d"]
    for label, given in (("tuples", rows), ("dicts", [dict(zip(names, r, strict=True)) for r in rows])):
        path = tmp_path / f"{label}.csv"
        write_csv(path, given, names)
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
        with path.open(encoding="utf-8-sig", newline="") as handle:
            read = list(csv.reader(handle))
        assert read[0] == names
        assert read[1:] == [[shown(v) for v in row] for row in rows], label


def test_writing_the_outputs_leaves_the_garbage_collector_as_it_was(tmp_path: Path) -> None:
    """The workbook and the CSV twins pause the cyclic collector while they write and give it back as they found it."""
    import gc

    from returns import settings

    from pipeline.checks.rollup import build_rollup
    from pipeline.outputs.report import write_tables, write_workbook

    forms, campaign, roster = settings()
    rollup = build_rollup([], forms, campaign, roster)
    was = gc.isenabled()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            write_workbook(tmp_path / "汇总.xlsx", rollup)
            assert gc.isenabled() is enabled
            write_tables(tmp_path, rollup)
            assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
