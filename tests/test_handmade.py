"""Hand-made and retyped 附件1 sheets, and the other spreadsheet formats: read by their texts, never guessed."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from handmade_sheets import header_values, label_sheet, row_sheet, sentence_sheet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from returns import (
    clean_values,
    make_return,
    pairs,
    read_csv,
    rollup,
    roster_unit,
    spec,
    statuses,
)
from returns import settings as repo_settings

from pipeline.intake.batch import read_file
from pipeline.model import Outcome, Severity, Status, Submission
from pipeline.workbook.handmade import MAPPED_RULE, MISSING_RULE, UNPLACED_RULE
from pipeline.workbook.readas import HANDMADE, TEMPLATE

ANNEX1 = spec("annex1")
COUNTS = [f.id for f in ANNEX1.body_fields if f.kind == "count"]
PEOPLE = set(pairs())  # participants fields: kept above their sessions so that no rule warns


def typed_values(seed: int) -> dict[str, Any]:
    """Distinct, rule-abiding counts for one unit (participants above sessions) and a 典型案例 text."""
    values: dict[str, Any] = {fid: seed * 100 + i + (50 if fid in PEOPLE else 0) for i, fid in enumerate(COUNTS)}
    values["s4_case_details"] = f"第{seed}号典型案例 驾驶员疲劳驾驶被曝光后已约谈整改"
    return values


def read(path: Path) -> Submission:
    """One file read as the intake reads it."""
    forms, campaign, roster = repo_settings()
    return read_file(path, path.parent, forms, campaign, roster)


def errors(sub: Submission) -> list[str]:
    """The texts of the 错误 findings."""
    return [f.text for f in sub.findings if f.severity == Severity.ERROR]


def assert_values(sub: Submission, values: dict[str, Any], fields: list[str]) -> None:
    """Every field in ``fields`` was read as typed."""
    wrong = {fid: (sub.values.get(fid), values[fid]) for fid in fields if sub.values.get(fid) != values[fid]}
    assert not wrong, wrong


UNIT = roster_unit("U002")


@pytest.mark.parametrize("layout", ["labels", "label-cells", "sentences", "rows", "reworded"])
def test_each_layout_reads_exactly_what_was_typed(tmp_path: Path, layout: str) -> None:
    """A sheet in each hand-made layout gives every count as typed, the unit, and one warning listing the cells."""
    values = typed_values(3)
    header = header_values(UNIT.name)
    path = tmp_path / f"{layout}.xlsx"
    if layout == "labels":
        label_sheet(path, ANNEX1, values, header)
    elif layout == "label-cells":
        label_sheet(path, ANNEX1, values, header, colon_header=False)
    elif layout == "sentences":
        sentence_sheet(path, ANNEX1, values, header)
    elif layout == "rows":
        row_sheet(path, ANNEX1, values, header)
    else:
        reworded = {"s1_center_study_times": "理论学习中心组学习次数", "s2_drill_people": "应急救援演练参与人数",
                    "s7_warning_meeting_audience": "警示教育大会受众"}
        label_sheet(path, ANNEX1, values, header, rename=reworded)
    sub = read(path)
    assert errors(sub) == []
    assert (sub.form_id, sub.unit, sub.read_as) == ("annex1", UNIT, HANDMADE)
    assert_values(sub, values, COUNTS + ([] if layout == "rows" else ["s4_case_details"]))
    mapped = [f for f in sub.findings if f.rule == MAPPED_RULE]
    assert len(mapped) == 1 and "对应关系见“读取对应”表" in mapped[0].message
    assert len(mapped[0].message) < 120  # one sentence: the mapping itself is on its own sheet, one row per label
    assert any("理论学习中心组学习·次数" in items.split("、") for _, _, items in sub.read_map)
    if layout == "reworded":
        assert any((text, items) == ("理论学习中心组学习次数", "理论学习中心组学习·次数") for _, text, items in sub.read_map)


def test_ambiguous_label_is_returned_with_the_item(tmp_path: Path) -> None:
    """A label that fits two items as well (“全员应急救援演练”: 场次 or 参与人次) is not guessed: 退回, naming it."""
    values = typed_values(4)
    path = label_sheet(tmp_path / "amb.xlsx", ANNEX1, values, header_values(UNIT.name),
                       rename={"s2_drill_people": "全员应急救援演练"})
    sub = read(path)
    unplaced = [f for f in sub.findings if f.rule == UNPLACED_RULE]
    assert len(unplaced) == 1 and unplaced[0].severity == Severity.ERROR
    assert "“全员应急救援演练”" in unplaced[0].message and "全员应急救援演练·参与人次" in unplaced[0].message
    assert sub.values.get("s2_drill_people") is None


def test_ambiguous_row_is_returned_in_the_rollup(tmp_path: Path) -> None:
    """A row-per-activity sheet with a row that fits two activities ends as 退回 for its unit."""
    inbox = tmp_path / "inbox"
    values = typed_values(5)
    row_sheet(inbox / "rows.xlsx", ANNEX1, values, header_values(UNIT.name), extra=[["", "演练", 3, 30]])
    result = rollup(inbox, tmp_path / "outbox")
    status = result.status("U002", "annex1")
    assert status.status == Status.RETURNED
    assert status.latest is not None and any("第" in f.message and "演练" in f.message
                                             for f in status.latest.findings if f.rule == UNPLACED_RULE)


def test_missing_case_row_is_no_error_in_a_hand_made_sheet(tmp_path: Path) -> None:
    """A hand-made sheet without the optional 典型案例 row is read without any error."""
    values = typed_values(6)
    path = label_sheet(tmp_path / "nocase.xlsx", ANNEX1, values, header_values(UNIT.name),
                       omit=frozenset({"s4_case_details"}))
    sub = read(path)
    assert errors(sub) == []
    assert_values(sub, values, COUNTS)
    assert sub.values.get("s4_case_details") is None


def test_missing_case_label_is_no_error_in_a_template_copy(tmp_path: Path) -> None:
    """A copy of the template without _meta and names, its 典型案例 label cleared, is read by the label locator."""
    path = make_return(tmp_path, "annex1", "U001", clean_values("annex1"))
    wb = openpyxl.load_workbook(path)
    del wb["_meta"]
    for name in list(wb.defined_names):
        del wb.defined_names[name]
    ws = wb[ANNEX1.sheet]
    for row in ws.iter_rows():
        for cell in row:
            if cell.value == spec("annex1").field("s4_case_details").label:
                cell.value = None
    wb.save(path)
    wb.close()
    sub = read(path)
    assert errors(sub) == [] and sub.read_as == TEMPLATE and sub.located_by == "labels"
    assert sub.values["s1_center_study_times"] == 3


def test_too_few_items_is_returned(tmp_path: Path) -> None:
    """A hand-made sheet holding only a few of the 58 counts is 退回 with the list of what was not found."""
    values = typed_values(7)
    keep = set(COUNTS[:5])
    path = label_sheet(tmp_path / "few.xlsx", ANNEX1, values, header_values(UNIT.name),
                       omit=frozenset(f.id for f in ANNEX1.body_fields if f.id not in keep))
    sub = read(path)
    assert sub.read_as == HANDMADE
    assert any(f.rule == MISSING_RULE and f.severity == Severity.ERROR and ANNEX1.field(COUNTS[-1]).label in f.message
               for f in sub.findings)


def test_a_few_missing_items_are_returned_naming_each(tmp_path: Path) -> None:
    """A hand-made sheet without the rows of two activity items is 退回 with one 错误 naming both, not counted blank."""
    values = typed_values(8)
    gone = (COUNTS[3], COUNTS[40])
    path = label_sheet(tmp_path / "two-gone.xlsx", ANNEX1, values, header_values(UNIT.name), omit=frozenset(gone))
    sub = read(path)
    [error] = [f for f in sub.findings if f.severity == Severity.ERROR]
    assert error.rule == MISSING_RULE
    assert all(ANNEX1.field(fid).label in error.message for fid in gone)
    assert not any(ANNEX1.field(fid).label in error.message for fid in COUNTS if fid not in gone)
    assert_values(sub, values, [fid for fid in COUNTS if fid not in gone])


def test_missing_items_make_the_unit_returned_in_the_rollup(tmp_path: Path) -> None:
    """A unit whose only return is a hand-made sheet lacking an activity item is 退回 in status.csv."""
    inbox = tmp_path / "inbox"
    label_sheet(inbox / "gone.xlsx", ANNEX1, typed_values(9), header_values(UNIT.name), omit=frozenset({COUNTS[0]}))
    rollup(inbox, tmp_path / "outbox")
    assert statuses(tmp_path / "outbox")[("U002", "annex1")]["status"] == Status.RETURNED


def test_items_present_but_left_empty_stay_blank(tmp_path: Path) -> None:
    """Labels present with their value cells left empty are blank with no 错误: left empty is not missing."""
    values: dict[str, Any] = {**typed_values(10), COUNTS[3]: None, COUNTS[40]: None}
    sub = read(label_sheet(tmp_path / "empty.xlsx", ANNEX1, values, header_values(UNIT.name)))
    assert errors(sub) == []
    assert sub.values.get(COUNTS[3]) is None and sub.values.get(COUNTS[40]) is None
    assert_values(sub, values, [fid for fid in COUNTS if fid not in (COUNTS[3], COUNTS[40])])


@pytest.mark.parametrize("case", [["", "典型案例", "某运输公司超载已处罚"], [59, "典型案例具体情况", "某客运站（个体）漏检", None]])
def test_case_row_in_a_row_per_activity_sheet_is_the_case_text(tmp_path: Path, case: list[Any]) -> None:
    """A 典型案例 row in a row-per-activity sheet gives the 典型案例 text, and the return is read without any 错误."""
    values = typed_values(11)
    path = row_sheet(tmp_path / "rows.xlsx", ANNEX1, values, header_values(UNIT.name), extra=[case])
    sub = read(path)
    assert errors(sub) == []
    assert sub.values["s4_case_details"] == case[2]
    assert_values(sub, values, COUNTS)
    assert sub.raw["s4_case_details"].address.startswith("C")  # the cell beside the row's name


def test_count_row_naming_the_cases_is_no_case_text(tmp_path: Path) -> None:
    """A row “曝光典型案例” with a number beside it is a count row (here one no activity fits), never the 典型案例 text."""
    values = typed_values(12)
    path = row_sheet(tmp_path / "rows.xlsx", ANNEX1, values, header_values(UNIT.name),
                     extra=[["", "曝光典型案例", values["s4_cases_exposed"]]])
    sub = read(path)
    assert sub.values.get("s4_case_details") is None
    assert any("曝光典型案例" in f.message for f in sub.findings if f.rule == UNPLACED_RULE)


_count = st.one_of(st.integers(min_value=0, max_value=999_999), st.none())


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_count, min_size=len(COUNTS), max_size=len(COUNTS)))
def test_retyped_table_reads_back_random_values(numbers: list[int | None]) -> None:
    """Random counts typed into the retyped 3-column table (blank as （）) read back exactly."""
    values: dict[str, Any] = dict(zip(COUNTS, numbers, strict=True))
    with tempfile.TemporaryDirectory() as tmp:
        path = sentence_sheet(Path(tmp) / "retyped.xlsx", ANNEX1, values, header_values(UNIT.name))
        sub = read(path)
    assert sub.read_as == HANDMADE and sub.unit == UNIT
    wrong = {fid: (sub.values.get(fid), v) for fid, v in values.items() if sub.values.get(fid) != v}
    assert not wrong, wrong


def test_xlsb_is_read_not_refused(tmp_path: Path) -> None:
    """An .xlsb goes to the workbook reader (not 格式不支持); one calamine cannot open says so by its format."""
    path = tmp_path / "附件1.xlsb"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.bin", b"\x00\x01")
    sub = read(path)
    assert sub.kind == "xlsb" and sub.outcome == Outcome.UNSUPPORTED
    assert [f.rule for f in sub.findings] == ["无法读取"] and ".xlsb" in sub.findings[0].message


@pytest.mark.soffice
def test_ods_and_et_returns_are_read(tmp_path: Path, soffice: str, office_profile: Path) -> None:
    """A template saved as .ods, a hand-made sheet saved as .ods and an .xls named .et read like .xlsx returns."""
    from office import convert

    template = make_return(tmp_path / "src", "annex1", "U001", clean_values("annex1", s1_center_study_times=9,
                                                                            s1_center_study_people=90))
    values = typed_values(8)
    handmade = row_sheet(tmp_path / "src" / "恒通自制.xlsx", ANNEX1, values, header_values(UNIT.name))
    odss = convert(soffice, [template, handmade], tmp_path / "ods", "ods", office_profile)
    (xls,) = convert(soffice, [template], tmp_path / "xls", "xls", office_profile)
    et = xls.with_suffix(".et")  # no tool here writes WPS .et: an .xls under that name takes the same path
    xls.rename(et)
    got = {p.suffix + ":" + p.stem[:3]: read(p) for p in [*odss, et]}
    ods_template, ods_hand, et_sub = got[".ods:附件1"], got[".ods:恒通自"], got[".et:附件1"]
    assert (ods_template.kind, ods_template.read_as, ods_template.located_by) == ("ods", "模板（.ods）", "meta")
    assert ods_template.values["s1_center_study_times"] == 9 and ods_template.unit == roster_unit("U001")
    assert errors(ods_template) == []
    assert (ods_hand.kind, ods_hand.read_as) == ("ods", "自制表格（.ods）") and errors(ods_hand) == []
    assert_values(ods_hand, values, COUNTS)
    assert (et_sub.kind, et_sub.read_as, et_sub.located_by) == ("et", "模板（WPS .et）", "meta")
    assert et_sub.values["s1_center_study_people"] == 90 and errors(et_sub) == []


@pytest.mark.soffice
def test_libreoffice_resaved_template_is_marked(tmp_path: Path, soffice: str, office_profile: Path) -> None:
    """A template re-saved as .xlsx by LibreOffice reads as 模板（LibreOffice/WPS另存）; the original as 模板."""
    from office import convert

    original = make_return(tmp_path / "src", "annex1", "U001", clean_values("annex1"))
    (resaved,) = convert(soffice, [original], tmp_path / "lo", "xlsx", office_profile)
    assert read(original).read_as == TEMPLATE
    sub = read(resaved)
    assert sub.read_as == "模板（LibreOffice/WPS另存）" and sub.values["s1_center_study_times"] == 3


@pytest.mark.soffice
def test_mixed_inbox_totals_and_statuses(tmp_path: Path, soffice: str, office_profile: Path) -> None:
    """Template, Word form, three hand-made layouts and an .ods: exact totals, each unit with its own numbers."""
    from office import convert
    from word_forms import Style
    from word_forms import write_form as write_word

    inbox = tmp_path / "inbox"
    typed: dict[str, dict[str, Any]] = {}
    how: dict[str, str] = {}
    typed["U001"] = clean_values("annex1", **{fid: v for fid, v in typed_values(1).items() if fid in COUNTS})
    make_return(inbox, "annex1", "U001", typed["U001"])
    how["U001"] = TEMPLATE
    typed["U002"] = typed_values(2)
    write_word(inbox / "恒通附件1.docx", ANNEX1, {k: str(v) for k, v in typed["U002"].items()},
               header_values(roster_unit("U002").name), Style(layout="table"))
    how["U002"] = "Word原文"
    for code, seed, make in (("U003", 3, label_sheet), ("U004", 4, sentence_sheet), ("U005", 5, row_sheet)):
        typed[code] = typed_values(seed)
        make(inbox / f"{code}自制.xlsx", ANNEX1, typed[code], header_values(roster_unit(code).name))
        how[code] = HANDMADE
    typed["U006"] = typed_values(6)
    source = label_sheet(tmp_path / "src" / "U006自制.xlsx", ANNEX1, typed["U006"],
                         header_values(roster_unit("U006").name))
    convert(soffice, [source], inbox, "ods", office_profile)
    how["U006"] = "自制表格（.ods）"
    outbox = tmp_path / "outbox"
    result = rollup(inbox, outbox)
    files = {r["file"]: r["outcome"] for r in read_csv(outbox / "files.csv")}
    assert set(files.values()) == {Outcome.ACCEPTED}, files
    rows = statuses(outbox)
    records = {(r["unit_code"], r["field_id"]): r["value"] for r in read_csv(outbox / "records.csv")}
    for code, values in typed.items():
        row = rows[(code, "annex1")]
        assert row["status"] in (Status.PASSED, Status.WARNED), (code, row)
        assert row["read_as"] == how[code], (code, row)
        for fid in COUNTS:
            assert records[(code, fid)] == str(values[fid]), (code, fid)
    totals = result.totals("annex1")
    for fid in COUNTS:
        assert totals[fid] == sum(values[fid] for values in typed.values()), fid


def test_hand_made_liaison_table_reads_headings_and_the_row_below(tmp_path: Path) -> None:
    """附件2 made as a heading row (worded differently: 联络员姓名, 手机号码) with the values below is read."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["联络员表"])
    ws.append(["序号", "单位名称", "联络员姓名", "职务", "办公电话", "手机号码", "电子邮箱"])
    ws.append([1, UNIT.name, "王建国", "安全员", "0311-6627001", "13812345678", "wangjianguo@163.com"])
    path = tmp_path / "联络员.xlsx"
    wb.save(path)
    wb.close()
    sub = read(path)
    assert (sub.form_id, sub.unit, sub.read_as) == ("annex2", UNIT, HANDMADE) and errors(sub) == []
    assert (sub.values["name"], sub.values["mobile"], sub.values["email"]) == ("王建国", "13812345678",
                                                                               "wangjianguo@163.com")
    assert ("F3", "手机号码", "手机") in sub.read_map


def test_case_label_written_short_is_the_case_text(tmp_path: Path) -> None:
    """A label sheet whose 典型案例 row is labelled just “典型案例” gives that row's text as the 典型案例."""
    values = typed_values(13)
    path = label_sheet(tmp_path / "short.xlsx", ANNEX1, values, header_values(UNIT.name),
                       rename={"s4_case_details": "典型案例"})
    sub = read(path)
    assert errors(sub) == []
    assert sub.values["s4_case_details"] == values["s4_case_details"]
    assert_values(sub, values, COUNTS)


def test_the_mapping_goes_to_its_own_sheet_and_the_issue_says_it_in_one_sentence(tmp_path: Path) -> None:
    """校验问题 holds one short 自制表格 sentence; 读取对应 (rollup and feedback workbook) one row per label read."""
    from pipeline.forms.spec import READ_MAP_SHEET
    from pipeline.outputs.feedback import write_feedback
    from pipeline.outputs.report import rollup_name

    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    inbox.mkdir()
    label_sheet(inbox / "自制.xlsx", ANNEX1, typed_values(5), header_values(UNIT.name))
    result = rollup(inbox, outbox)
    [sub] = [s for s in result.submissions if s.read_map]
    wb = openpyxl.load_workbook(outbox / rollup_name(result))
    try:
        issues = [r for r in wb["校验问题"].iter_rows(min_row=2, values_only=True) if r[8] == MAPPED_RULE]
        mapping = list(wb[READ_MAP_SHEET].iter_rows(min_row=2, values_only=True))
        message_cell = next(c for c in wb["校验问题"]["K"][1:] if c.value == issues[0][10])
        assert message_cell.alignment.vertical == "top"
    finally:
        wb.close()
    assert len(issues) == 1 and len(str(issues[0][10])) < 120
    assert "对应关系见“读取对应”表" in str(issues[0][10])
    assert [row[4:] for row in mapping] == [tuple(m) for m in sub.read_map]
    assert mapping[0][0] == sub.file and not any(row[0] for row in mapping[1:])  # one block per file
    assert len(mapping) >= 60
    if result.status(UNIT.code, "annex1").status in (Status.WARNED, Status.RETURNED):
        [path] = write_feedback(outbox, result)
        fb = openpyxl.load_workbook(path)
        try:
            assert [r for r in fb[READ_MAP_SHEET].iter_rows(min_row=2, values_only=True)] == [
                tuple(m) for m in sub.read_map]
        finally:
            fb.close()
