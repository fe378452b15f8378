"""Edits to an unprotected template (issue #15 item 6), made in LibreOffice: a deleted row, an inserted column and
merged input cells cost at most the items they touch, each named in a 警告."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import openpyxl
import pytest
from office_edit import edit, macro_profile
from returns import address, clean_values, count_ids, make_return, outcomes, read_csv, rollup, spec

from pipeline.model import Outcome

SESSIONS, PEOPLE = "s1_film_sessions", "s1_film_people"


@pytest.fixture(scope="module")
def profile(soffice: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LibreOffice profile holding the editing macro, shared by this module's tests."""
    return macro_profile(soffice, tmp_path_factory.mktemp("lo-macro"))


def _row_col(field_id: str) -> tuple[int, int]:
    letters, digits = re.fullmatch(r"([A-Z]+)(\d+)", address("annex1", field_id)).groups()  # type: ignore[union-attr]
    return int(digits), openpyxl.utils.column_index_from_string(letters)


def _edited(tmp_path: Path, soffice: str, profile: Path, action: str, arg: str) -> tuple[Path, Path]:
    """A clean U001 return (sessions 5) edited in LibreOffice, alone in an inbox; returns (inbox, outbox)."""
    values = clean_values("annex1", **{SESSIONS: 5, PEOPLE: 40})
    src = make_return(tmp_path / "filled", "annex1", "U001", values)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    edit(soffice, profile, src, inbox / src.name, action, arg)
    return inbox, tmp_path / "outbox"


def _issues(outbox: Path) -> list[dict[str, str]]:
    return read_csv(outbox / "issues.csv")


@pytest.mark.soffice
def test_deleted_row_leaves_its_item_blank_with_a_warning(tmp_path: Path, soffice: str, profile: Path) -> None:
    """Deleting the row of one item in LibreOffice: the return is 采用, that item blank with a 警告 naming it."""
    row, _ = _row_col(SESSIONS)
    inbox, outbox = _edited(tmp_path, soffice, profile, "delete_row", str(row - 1))

    result = rollup(inbox, outbox)

    assert list(outcomes(result).values()) == [Outcome.ACCEPTED]
    issues = _issues(outbox)
    assert not [i for i in issues if i["severity"] == "错误"]
    [gone] = [i for i in issues if i["rule"] == "填报项被删除"]
    assert gone["field_id"] == SESSIONS and spec("annex1").field(SESSIONS).label in gone["message"]
    counted = result.status("U001", "annex1").counted
    assert counted is not None
    assert counted.values.get(SESSIONS) is None
    assert counted.values[PEOPLE] == 40
    assert all(counted.values[f] == 3 for f in count_ids() if f not in (SESSIONS, PEOPLE))


@pytest.mark.soffice
def test_inserted_column_gives_no_false_text_warnings(tmp_path: Path, soffice: str, profile: Path) -> None:
    """A column inserted between the labels and the inputs moves every input: one 行列被改动, no 文字被改动."""
    _, col = _row_col(SESSIONS)
    inbox, outbox = _edited(tmp_path, soffice, profile, "insert_column", str(col - 1))

    result = rollup(inbox, outbox)

    assert list(outcomes(result).values()) == [Outcome.ACCEPTED]
    rules = [i["rule"] for i in _issues(outbox)]
    assert "文字被改动" not in rules
    assert rules.count("行列被改动") == 1
    counted = result.status("U001", "annex1").counted
    assert counted is not None and counted.values[SESSIONS] == 5


@pytest.mark.soffice
def test_merged_inputs_are_a_warning_naming_the_hidden_cell(tmp_path: Path, soffice: str, profile: Path) -> None:
    """Merging two input cells in LibreOffice hides the second one: a 警告 naming that cell and the value it holds."""
    hidden = address("annex1", PEOPLE)
    inbox, outbox = _edited(tmp_path, soffice, profile, "merge", f"{address('annex1', SESSIONS)}:{hidden}")

    result = rollup(inbox, outbox)

    assert list(outcomes(result).values()) == [Outcome.ACCEPTED]
    [merged] = [i for i in _issues(outbox) if i["rule"] == "合并单元格"]
    assert (merged["cell"], merged["field_id"], merged["value"]) == (hidden, PEOPLE, "40")
    assert hidden in merged["message"]


def test_merge_that_lost_a_value_names_the_lost_cell(tmp_path: Path) -> None:
    """Merged as Excel does it (the covered cell emptied, here by openpyxl): a 警告 that the cell's content is lost."""
    src = make_return(tmp_path / "filled", "annex1", "U001", clean_values("annex1", **{SESSIONS: 5, PEOPLE: 40}))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    target = inbox / src.name
    shutil.copy(src, target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(target)
    ws = wb.worksheets[0]
    ws.protection.sheet = False
    ws.merge_cells(f"{address('annex1', SESSIONS)}:{address('annex1', PEOPLE)}")
    wb.save(target)
    wb.close()

    rollup(inbox, tmp_path / "outbox")

    [merged] = [i for i in _issues(tmp_path / "outbox") if i["rule"] == "合并单元格"]
    assert merged["cell"] == address("annex1", PEOPLE) and "丢失" in merged["message"]
