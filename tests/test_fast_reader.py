"""The fast reader never disagrees with the full one: error values, prefixed namespaces, odd cells (issue #13).

Returns are real templates filled by openpyxl or written by xlsxwriter, whose form sheet is
then rewritten with lxml: error values, booleans, formulas with cached values, rich inline
strings, and the main namespace under an ``x:`` prefix as Open XML SDK tools write it. Some
are re-saved by LibreOffice and by openpyxl. Each inbox is rolled up once with each reader and
records.csv, issues.csv, status.csv and files.csv must be byte-identical (tests/readers.py).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import openpyxl
import pytest
from corpus import rewrite_zip
from hypothesis import HealthCheck, example, given, settings
from office import convert
from readers import (
    SHEET_PART,
    assert_same_csvs,
    book_differences,
    prefix_main_namespace,
    set_cells,
    tables_both,
)
from returns import address, clean_values, count_ids, make_return, read_csv, roster_unit
from returns import settings as repo_settings

import pipeline.intake.batch as ingest
import pipeline.program as program
import pipeline.workbook.fastread as fastread
from pipeline.forms.generate import FormContent, write_form
from pipeline.model import Submission
from pipeline.safety.guards import check_package

ERROR_CODES = ("#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!")
COUNT_FIELD = "s1_center_study_times"


def read_with(reader: str, path: Path) -> Submission:
    """One file read by ingest.read_file with ``PIPELINE_READER=reader``."""
    forms, campaign, roster = repo_settings()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(program.READER_ENV, reader)
        return ingest.read_file(path, path.parent, forms, campaign, roster)


def findings_of(sub: Submission) -> list[tuple[str, str, str, str]]:
    """(severity, rule, cell, message) of every finding."""
    return [(f.severity, f.rule, f.cell, f.message) for f in sub.findings]


# ----------------------------------------------------------------------------- item 2: error values


@pytest.mark.parametrize("code", ERROR_CODES)
def test_error_value_in_a_count_cell_is_an_error_with_either_reader(tmp_path: Path, code: str) -> None:
    """A count cell holding an Excel error value is rejected quoting that value, by the fast reader as by the full one."""
    forms, campaign, roster = repo_settings()
    make_return(tmp_path / "inbox", "annex1", "U001", clean_values("annex1", **{COUNT_FIELD: code}),
                name="U001_附件1.xlsx")
    outboxes = tables_both(tmp_path / "inbox", forms, campaign, roster, tmp_path)
    issues = read_csv(outboxes["fast"] / "issues.csv")
    quoted = [row for row in issues if row["field_id"] == COUNT_FIELD and f"“{code}”" in row["message"]]
    assert quoted and quoted[0]["severity"] == "错误", issues
    assert_same_csvs(outboxes)


# ----------------------------------------------------------------------------- item 3: prefixed namespaces


def test_prefixed_namespaces_keep_formulas_and_protection(tmp_path: Path) -> None:
    """With every part under an x: prefix, an uncomputed formula is still reported and protection is not taken as removed."""
    path = make_return(tmp_path, "annex1", "U001", clean_values("annex1", **{COUNT_FIELD: "=1+2"}), formulas=True,
                       name="U001_附件1.xlsx")
    prefix_main_namespace(path)
    with zipfile.ZipFile(path) as zf:
        assert b"<x:c " in zf.read(SHEET_PART) and b"<x:sheetProtection " in zf.read(SHEET_PART)
    fast, full = read_with("fast", path), read_with("full", path)
    assert findings_of(fast) == findings_of(full)
    rules = {f.rule for f in fast.findings}
    assert "公式未计算" in rules and "保护被取消" not in rules


def test_fast_reader_answers_for_a_plain_prefixed_return(tmp_path: Path) -> None:
    """A clean return under an x: prefix is still read by the fast reader, into the full reader's Book."""
    path = make_return(tmp_path, "annex1", "U001", clean_values("annex1"), name="U001_附件1.xlsx")
    prefix_main_namespace(path)
    assert book_differences(path, repo_settings()[1].limits) == (True, [])
    assert read_with("fast", path).findings == []


def test_fast_reader_declines_a_workbook_part_that_is_not_well_formed(tmp_path: Path) -> None:
    """A workbook.xml with an unbound prefix is left to the full reader (None), so both readers word the error alike."""
    path = make_return(tmp_path, "annex1", "U001", clean_values("annex1"), name="U001_附件1.xlsx")
    rewrite_zip(path, {"xl/workbook.xml": lambda data: data.replace(b"</sheets>", b'</sheets><y:z y:id="1"/>')})
    limits = repo_settings()[1].limits
    assert fastread.load_xlsx_fast(path, check_package(path, limits), limits) is None
    assert findings_of(read_with("fast", path)) == findings_of(read_with("full", path))


# ----------------------------------------------------------------------------- the differential test

_TEXT = st.text(st.sampled_from("0123456789 .,-=_x年月日次人（）安全生产ABCabc\u3000"), max_size=10)
_PLAIN = st.one_of(
    st.integers(-5, 10**7), st.floats(-1e6, 1e9, allow_nan=False), _TEXT,
    st.dates(dt.date(1950, 1, 1), dt.date(2099, 12, 31)),
    st.datetimes(dt.datetime(1950, 1, 1), dt.datetime(2099, 12, 31)),
)
# How a cell's XML is rewritten after the workbook is written: (t attribute, children), see readers.set_cells.
_CELL_XML = st.one_of(
    st.sampled_from(ERROR_CODES).map(lambda code: ("e", [("v", code)])),
    st.booleans().map(lambda b: ("b", [("v", str(int(b)))])),
    st.integers(0, 999).map(lambda n: (None, [("f", f"{n}+0"), ("v", str(n))])),
    _TEXT.map(lambda text: ("str", [("f", f'"{text}"'), ("v", text)])),
    st.sampled_from(ERROR_CODES).map(lambda code: ("e", [("f", "1/0"), ("v", code)])),
    st.lists(st.tuples(_TEXT.filter(bool), st.booleans()), min_size=1, max_size=3).map(lambda runs: ("inlineStr", [("is", runs)])),
)


@st.composite
def returns(draw: st.DrawFn) -> dict[str, Any]:
    """A recipe for one annex1 return: writer, plain values, rewritten cells, prefix or not."""
    fields = [*count_ids("annex1"), "contact", "phone", "report_date"]
    plain = draw(st.dictionaries(st.sampled_from(fields), _PLAIN, max_size=4))
    rewritten = draw(st.dictionaries(st.sampled_from(fields), _CELL_XML, max_size=3))
    return {"writer": draw(st.sampled_from(["openpyxl", "xlsxwriter"])), "plain": plain, "cells": rewritten,
            "prefixed": draw(st.booleans())}


def build(recipe: dict[str, Any], folder: Path, name: str = "U001_附件1.xlsx") -> Path:
    """Write the return a :func:`returns` recipe describes into ``folder``."""
    forms, campaign, _ = repo_settings()
    values = clean_values("annex1", **recipe["plain"])
    if recipe["writer"] == "openpyxl":
        path = make_return(folder, "annex1", "U001", values, name=name)
    else:  # xlsxwriter: shared strings, the template's own formats
        folder.mkdir(parents=True, exist_ok=True)
        path = write_form(folder / name, forms["annex1"], campaign, FormContent(roster_unit("U001"), values))
    if recipe["cells"]:
        set_cells(path, {address("annex1", fid): cell for fid, cell in recipe["cells"].items()})
    return prefix_main_namespace(path) if recipe["prefixed"] else path


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(returns())
@example({"writer": "openpyxl", "plain": {"report_date": 2958466.0}, "cells": {}, "prefixed": False})  # past 9999-12-31
@example({"writer": "openpyxl", "plain": {}, "prefixed": False,  # a space calamine trims without xml:space
          "cells": {COUNT_FIELD: ("inlineStr", [("is", [(" ", False)])])}})
def test_fast_and_full_readers_agree_on_generated_returns(recipe: dict[str, Any]) -> None:
    """Returns with error cells, booleans, dates, inline, rich and shared strings, cached formulas and prefixes give identical CSVs."""
    forms, campaign, roster = repo_settings()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = build(recipe, root / "inbox")
        result = book_differences(path, campaign.limits)
        assert result is None or not result[1], result
        assert_same_csvs(tables_both(root / "inbox", forms, campaign, roster, root))


def test_differential_recipes_reach_the_fast_reader(tmp_path: Path) -> None:
    """The recipes above are not all declined: plain values, booleans, rich text and prefixes are read by the fast reader."""
    recipe = {"writer": "xlsxwriter", "plain": {"contact": "张三", COUNT_FIELD: 12.5}, "prefixed": True,
              "cells": {"s1_center_study_people": ("b", [("v", "1")]),
                        "phone": ("inlineStr", [("is", [("0311", True), ("-6627527", False)])])}}
    path = build(recipe, tmp_path)
    assert book_differences(path, repo_settings()[1].limits) == (True, [])


def _resaved_by_openpyxl(source: Path, target: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(source)
    try:
        wb.save(target)
    finally:
        wb.close()
    return target


@pytest.mark.soffice
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(recipes=st.lists(returns(), min_size=3, max_size=3))
def test_fast_and_full_readers_agree_on_libreoffice_and_openpyxl_resaves(
    recipes: list[dict[str, Any]], soffice: str, office_profile: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Generated returns re-saved by LibreOffice, then prefixed or re-saved again by openpyxl, give identical CSVs."""
    forms, campaign, roster = repo_settings()
    root = tmp_path_factory.mktemp("resaved")
    staged = [build(recipe, root / "staged", f"U00{i + 1}_附件1.xlsx") for i, recipe in enumerate(recipes)]
    inbox = root / "inbox"
    saved = convert(soffice, staged, inbox / "lo", "xlsx", office_profile)
    for folder in ("lo-prefixed", "openpyxl"):
        (inbox / folder).mkdir()
    for path in saved:
        prefix_main_namespace(Path(shutil.copy(path, inbox / "lo-prefixed" / path.name)))
        _resaved_by_openpyxl(path, inbox / "openpyxl" / path.name)
    for path in sorted(inbox.rglob("*.xlsx")):
        result = book_differences(path, campaign.limits)
        assert result is None or not result[1], (path, result)
    assert_same_csvs(tables_both(inbox, forms, campaign, roster, root))
