"""`python -m pipeline rollup` and the library under it: sums, statuses, outcomes and the workbook."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from office import convert
from returns import (
    CAMPAIGN_TOML,
    UNITS_CSV,
    address,
    clean_values,
    count_ids,
    make_return,
    outcomes,
    pairs,
    read_csv,
    record_values,
    rollup,
    roster_unit,
    spec,
    statuses,
)
from returns import settings as form_settings

from pipeline.checks.rollup import Rollup
from pipeline.cli import main
from pipeline.forms.spec import MAX_COUNT, template_name
from pipeline.model import Outcome, Status
from pipeline.outputs.report import rollup_name

COUNTS = count_ids()
PAIRS = pairs()
SHEETS = ["汇总表", "分单位明细", "联络员表", "报送情况", "校验问题", "典型案例"]
UNITS = 20
PROPERTY = settings(max_examples=20, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _name(form_id: str, code: str) -> str:
    return template_name(spec(form_id), roster_unit(code))


def _when(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour))


# ----------------------------------------------------------------------------- properties


@st.composite
def _unit_counts(draw: st.DrawFn) -> dict[str, int | None]:
    """Valid counts for one unit: blanks and whole numbers, never participants without sessions."""
    number = st.one_of(st.none(), st.integers(0, 60), st.integers(0, MAX_COUNT))
    values: dict[str, int | None] = draw(st.fixed_dictionaries({fid: number for fid in COUNTS}))
    for second, first in PAIRS.items():
        if values[first] == 0 and values[second]:
            values[second] = 0
    if all(v is None for v in values.values()):
        values[COUNTS[0]] = 0
    return values


def _sentence(template: str, fills: dict[str, str]) -> str:
    for fid, text in fills.items():
        template = template.replace("{" + fid + "}", text)
    return template


@PROPERTY
@given(units=st.lists(_unit_counts(), min_size=1, max_size=3))
def test_totals_are_exactly_the_sums(units: list[dict[str, int | None]]) -> None:
    """Random valid returns: records.csv holds each value, and the 汇总表 sentences and totals row the exact sums."""
    c = form_settings()[1]
    form = spec("annex1").for_campaign(c.year, c.theme, c.edition)  # the sentences as the 汇总表 shows them
    codes = [f"U{i:03d}" for i in range(1, len(units) + 1)]
    totals = {fid: sum(u[fid] or 0 for u in units) for fid in COUNTS}
    with tempfile.TemporaryDirectory() as tmp:
        inbox, outbox = Path(tmp) / "inbox", Path(tmp) / "outbox"
        for code, counts in zip(codes, units, strict=True):
            make_return(inbox, "annex1", code, clean_values("annex1", **counts))

        result = rollup(inbox, outbox)

        assert result.totals("annex1") == totals
        assert {statuses(outbox)[(code, "annex1")]["status"] for code in codes} <= {Status.PASSED, Status.WARNED}
        records = record_values(outbox)
        expected = {(code, fid): str(v) for code, counts in zip(codes, units, strict=True)
                    for fid, v in counts.items() if v is not None}
        assert {k: v for k, v in records.items() if k[1] in totals} == expected
        wb = openpyxl.load_workbook(outbox / rollup_name(result))
        try:
            summary = wb["汇总表"]
            for row, section in enumerate(form.sections, start=5):
                sentence = summary.cell(row=row, column=3).value.replace("\n", "")  # our own line breaks
                fills = {f.id: str(totals[f.id]) if f.kind == "count" else "无" for f in section.fields}
                assert sentence == _sentence(section.sentence, fills)
                for f in section.fields:
                    if f.kind == "count":
                        assert f"（{totals[f.id]}）" in sentence
            detail = wb["分单位明细"]
            total_row = UNITS + 4  # three header rows (section, item, unit), then the units
            assert detail.cell(row=total_row, column=1).value == "合计"
            for col, f in enumerate(form.body_fields, start=5):
                if f.kind == "count":
                    assert detail.cell(row=total_row, column=col).value == totals[f.id], f.id
        finally:
            wb.close()


_BAD_COUNT = st.one_of(
    st.integers(-MAX_COUNT, -1),
    st.floats(min_value=0.01, max_value=1e5, allow_nan=False).filter(lambda x: not x.is_integer()),
    st.integers(MAX_COUNT + 1, 10**9),
    st.text(alphabet="abcdefghijklmnopqrstuvwyz", min_size=1, max_size=6),
    st.sampled_from(["见附件", "12-15", "若干", "3.5场", "-2", "1.23456万", "二十多", "N/A", "=2+3"]),
)
_BAD_DATE = st.one_of(
    st.sampled_from(["2023-02-30", "明天", "2023-13-01", "2023年6月31日", "28/6/2023"]),
    st.dates(dt.date(2000, 1, 1), dt.date(2023, 4, 29)),
    st.dates(dt.date(2023, 10, 1), dt.date(2099, 12, 31)),
)
_BAD_CELL = st.tuples(st.sampled_from(COUNTS), _BAD_COUNT)
_BAD_HEADER = st.one_of(
    st.tuples(st.just("report_date"), _BAD_DATE),
    st.tuples(st.just("phone"), st.sampled_from(["123", "电话", "0311-66", "1381234567x", "无"])),
    st.tuples(st.sampled_from(["contact", "phone", "report_date"]), st.none()),
)


@contextlib.contextmanager
def _one_return(field_id: str, value: Any) -> Iterator[tuple[Path, Path, Rollup]]:
    """U001's 附件1 with one field typed as ``value``, rolled up in a temporary folder (removed afterwards)."""
    with tempfile.TemporaryDirectory() as tmp:
        inbox, outbox = Path(tmp) / "inbox", Path(tmp) / "outbox"
        path = make_return(inbox, "annex1", "U001", clean_values("annex1", **{field_id: value}))
        yield path, outbox, rollup(inbox, outbox)


@PROPERTY
@given(bad=_BAD_CELL)
def test_a_bad_value_anywhere_returns_the_file_naming_the_cell(bad: tuple[str, Any]) -> None:
    """A bad value in a random cell makes the file 退回, with an issues.csv 错误 naming that cell; never a crash."""
    field_id, value = bad
    cell = address("annex1", field_id)
    with _one_return(field_id, value) as (path, outbox, result):

        assert outcomes(result) == {path.name: Outcome.REJECTED}
        assert statuses(outbox)[("U001", "annex1")]["status"] == Status.RETURNED
        errors = [i for i in read_csv(outbox / "issues.csv") if i["severity"] == "错误"]
        assert errors, "a returned file must say why"
        assert any(i["cell"] == cell and f"单元格 {cell}" in i["message"] for i in errors), errors
        assert result.totals("annex1") == dict.fromkeys(COUNTS, 0)


@PROPERTY
@given(bad=_BAD_HEADER)
def test_a_bad_header_value_is_a_warning_and_the_counts_count(bad: tuple[str, Any]) -> None:
    """A bad or missing 联系人, 电话 or 填报日期 is a 警告 naming that cell; the file is 采用 with every count."""
    field_id, value = bad
    cell = address("annex1", field_id)
    with _one_return(field_id, value) as (path, outbox, result):

        assert outcomes(result) == {path.name: Outcome.ACCEPTED}
        assert statuses(outbox)[("U001", "annex1")]["status"] == Status.WARNED
        issues = read_csv(outbox / "issues.csv")
        assert not [i for i in issues if i["severity"] == "错误"]
        assert any(i["cell"] == cell and f"单元格 {cell}" in i["message"] for i in issues), issues
        assert result.totals("annex1") == dict.fromkeys(COUNTS, 3)


# ----------------------------------------------------------------------------- LibreOffice


@pytest.mark.soffice
def test_return_saved_by_libreoffice_reads_the_same(tmp_path: Path, soffice: str, office_profile: Path) -> None:
    """A return opened and saved again by LibreOffice gives the same records, statuses and issues."""
    first, again = tmp_path / "openpyxl", tmp_path / "libreoffice"
    a1 = make_return(first, "annex1", "U001", clean_values(
        "annex1", s1_center_study_times="12次", s1_film_sessions="１２", s1_film_people=None,
        s1_reflection_articles=0, report_date="2023年6月28日", phone=13812345678,
        s4_case_details="组织驾驶员观看警示教育片，签订安全承诺书。"))
    a2 = make_return(first, "annex2", "U001", clean_values("annex2", mobile=13812345678, note="兼任值班联络人"))
    b1 = make_return(first, "annex1", "U002", clean_values("annex1", s2_drill_people=-4,
                                                              report_date=dt.date(2023, 6, 20)))
    convert(soffice, [a1, a2, b1], again, "xlsx", office_profile)

    mine, theirs = rollup(first, tmp_path / "out1"), rollup(again, tmp_path / "out2")

    assert outcomes(mine) == outcomes(theirs)
    for name in ("records.csv", "issues.csv"):
        assert read_csv(tmp_path / "out2" / name) == read_csv(tmp_path / "out1" / name), name
    # Only the 读取方式 tells the two apart: LibreOffice names itself in the saved package.
    read_as = {out: {key: row.pop("read_as") for key, row in rows.items() if row["file"]}
               for out, rows in (("out1", statuses(tmp_path / "out1")), ("out2", statuses(tmp_path / "out2")))}
    assert set(read_as["out1"].values()) == {"模板"}
    assert set(read_as["out2"].values()) == {"模板（LibreOffice/WPS另存）"}
    assert read_as["out1"].keys() == read_as["out2"].keys()
    plain = [{k: {c: v for c, v in row.items() if c != "read_as"} for k, row in statuses(tmp_path / out).items()}
             for out in ("out1", "out2")]
    assert plain[1] == plain[0]
    assert statuses(tmp_path / "out1")[("U002", "annex1")]["status"] == Status.RETURNED
    assert record_values(tmp_path / "out1")[("U001", "s1_center_study_times")] == "12"


# ----------------------------------------------------------------------------- the workbook


def test_workbook_sheets_and_unit_text_never_a_formula(tmp_path: Path) -> None:
    """The rollup has its six sheets, and text units typed that starts with = + - @ is stored as text."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    make_return(inbox, "annex1", "U001", clean_values(
        "annex1", s4_case_details='=HYPERLINK("http://example.com","点击查看")'))
    make_return(inbox, "annex1", "U004", clean_values("annex1", s4_case_details="-暂无典型案例"))
    make_return(inbox, "annex2", "U002", clean_values("annex2", name="=1+2", title="+副经理", note="@兼职"))
    make_return(inbox, "annex1", "U003", clean_values("annex1", s1_reflection_articles="=2+3"), name="=附件1.xlsx")

    result = rollup(inbox, outbox)

    assert statuses(outbox)[("U003", "annex1")]["status"] == Status.RETURNED
    wb = openpyxl.load_workbook(outbox / rollup_name(result))
    try:
        assert [name for name in wb.sheetnames if name in SHEETS] == SHEETS
        texts = {}
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for c in row:
                    assert c.data_type != "f", f"{ws.title}!{c.coordinate} is a formula: {c.value}"
                    if isinstance(c.value, str):
                        texts[c.value] = ws.title
    finally:
        wb.close()
    for text in ("=1+2", "+副经理", "@兼职", "-暂无典型案例", "=附件1.xlsx", "=2+3"):
        assert text in texts, text
    assert texts['=HYPERLINK("http://example.com","点击查看")'] == "典型案例"
    with zipfile.ZipFile(outbox / rollup_name(result)) as archive:
        sheets = [n for n in archive.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)]
        assert len(sheets) >= len(SHEETS)
        for part in sheets:
            assert not re.search(rb"<f[\s>/]", archive.read(part)), part
    assert record_values(outbox, "annex2")[("U002", "name")] == "'=1+2"


# ----------------------------------------------------------------------------- statuses and outcomes


@pytest.mark.parametrize(("fix", "status"), [({}, Status.PASSED), ({"s1_center_study_times": "3次"}, Status.WARNED)])
def test_newer_return_fixing_a_rejected_one_counts(tmp_path: Path, fix: dict[str, Any], status: str) -> None:
    """A corrected return replaces the 退回 one: the unit is 已通过 (or 有警告) and the old file is rejected."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    make_return(inbox / "2023-06-25", "annex1", "U001",
                clean_values("annex1", s1_center_study_times=-1, report_date=dt.date(2023, 6, 25)))
    new_name = _name("annex1", "U001").replace(".xlsx", "（修改后）.xlsx")
    make_return(inbox / "2023-06-28", "annex1", "U001", clean_values("annex1", **fix), name=new_name)

    result = rollup(inbox, outbox)

    assert outcomes(result) == {f"2023-06-25/{_name('annex1', 'U001')}": Outcome.REJECTED, f"2023-06-28/{new_name}": Outcome.ACCEPTED}
    row = statuses(outbox)[("U001", "annex1")]
    assert (row["status"], row["file"], row["report_date"], row["on_time"]) == (
        status, f"2023-06-28/{new_name}", "2023-06-28", "是")


def test_newer_rejected_return_keeps_the_older_good_one_counted(tmp_path: Path) -> None:
    """When only the latest return is bad, the unit is 退回 but the earlier good return stays in the totals."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    make_return(inbox / "a", "annex1", "U001", clean_values("annex1", report_date=dt.date(2023, 6, 25)))
    make_return(inbox / "b", "annex1", "U001", clean_values("annex1", s1_center_study_times="abc"))

    result = rollup(inbox, outbox)

    name = _name("annex1", "U001")
    assert outcomes(result) == {f"a/{name}": Outcome.ACCEPTED, f"b/{name}": Outcome.REJECTED}
    row = statuses(outbox)[("U001", "annex1")]
    assert (row["status"], row["file"], row["errors"]) == (Status.RETURNED, f"a/{name}", "1")
    assert result.totals("annex1") == dict.fromkeys(COUNTS, 3)


def test_newer_good_return_supersedes_an_older_good_one(tmp_path: Path) -> None:
    """Of two good 附件2 returns the later-arriving one counts and the earlier one is superseded."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    make_return(inbox, "annex2", "U002", clean_values("annex2"), name="联络员表.xlsx", received=_when("2023-05-24"))
    make_return(inbox, "annex2", "U002", clean_values("annex2", name="李秀英"), name="联络员表（更新）.xlsx",
                received=_when("2023-05-26"))

    result = rollup(inbox, outbox)

    assert outcomes(result) == {"联络员表.xlsx": Outcome.SUPERSEDED, "联络员表（更新）.xlsx": Outcome.ACCEPTED}
    row = statuses(outbox)[("U002", "annex2")]
    assert (row["status"], row["file"], row["on_time"]) == (Status.PASSED, "联络员表（更新）.xlsx", "是")
    assert record_values(outbox, "annex2")[("U002", "name")] == "李秀英"


def test_byte_identical_duplicate_is_counted_once(tmp_path: Path) -> None:
    """The same file saved again in a later sub-folder is a duplicate and adds nothing to the totals."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    original = make_return(inbox / "2023-06-28", "annex1", "U001", clean_values("annex1"))
    (inbox / "2023-06-30" / "转发").mkdir(parents=True)
    shutil.copy2(original, inbox / "2023-06-30" / "转发" / original.name)

    result = rollup(inbox, outbox)

    assert outcomes(result) == {f"2023-06-28/{original.name}": Outcome.ACCEPTED,
                                f"2023-06-30/转发/{original.name}": Outcome.DUPLICATE}
    assert result.totals("annex1") == dict.fromkeys(COUNTS, 3)
    rows = [fid for code, fid in record_values(outbox) if code == "U001"]
    assert sorted(rows) == sorted(["unit_name", *clean_values("annex1")])
    assert statuses(outbox)[("U001", "annex1")]["status"] == Status.PASSED


def test_unit_that_sent_nothing_is_missing(tmp_path: Path) -> None:
    """A unit without a return is 未报送 with no file, date or on-time answer."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    make_return(inbox, "annex1", "U001", clean_values("annex1"))

    rollup(inbox, outbox)

    rows = statuses(outbox)
    assert rows[("U001", "annex1")]["status"] == Status.PASSED
    for key in (("U002", "annex1"), ("U001", "annex2")):
        row = rows[key]
        assert (row["status"], row["file"], row["report_date"], row["on_time"], row["errors"]) == (
            Status.MISSING, "", "", "", "0")


def test_unit_not_on_roster_is_rejected_with_suggestions(tmp_path: Path) -> None:
    """A generic template naming a unit not on the roster (nor close enough to one) is rejected, the message
    suggesting close names."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    path = make_return(inbox, "annex1", None, clean_values("annex1", unit_name="清河县顺达物流中心"))

    result = rollup(inbox, outbox)

    assert outcomes(result) == {path.name: Outcome.REJECTED}
    [issue] = read_csv(outbox / "issues.csv")
    assert (issue["severity"], issue["rule"], issue["cell"]) == ("错误", "未知单位", address("annex1", "unit_name"))
    assert "“清河县顺达物流中心”不在单位名录中。是否为：清河县顺达货物运输有限公司" in issue["message"]
    assert {row["status"] for row in statuses(outbox).values()} == {Status.MISSING}


def test_generic_template_with_a_roster_name_counts(tmp_path: Path) -> None:
    """The generic template is accepted when its 填报单位 matches a roster name (spaces and width folded)."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    make_return(inbox, "annex1", None, clean_values("annex1", unit_name=" 清河县公路管理站 "))

    rollup(inbox, outbox)

    assert statuses(outbox)[("U015", "annex1")]["status"] == Status.PASSED


def test_late_report_date_is_a_warning_and_not_on_time(tmp_path: Path) -> None:
    """A 填报日期 after the deadline gives 警告 逾期报送 at the date cell, status 有警告, on time 否."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    make_return(inbox, "annex1", "U001", clean_values("annex1", report_date=dt.date(2023, 7, 5)))

    rollup(inbox, outbox)

    row = statuses(outbox)[("U001", "annex1")]
    assert (row["status"], row["report_date"], row["on_time"]) == (Status.WARNED, "2023-07-05", "否")
    [issue] = read_csv(outbox / "issues.csv")
    assert (issue["severity"], issue["rule"], issue["cell"]) == ("警告", "逾期报送", address("annex1", "report_date"))
    assert issue["message"].endswith("填报日期晚于截止日期 2023年06月30日，属逾期报送。")


def test_liaison_form_arriving_late_is_not_on_time(tmp_path: Path) -> None:
    """附件2 has no date field: a file arriving after its deadline is on time 否 but still 已通过."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    make_return(inbox, "annex2", "U001", clean_values("annex2"), received=_when("2023-06-02"))

    rollup(inbox, outbox)

    row = statuses(outbox)[("U001", "annex2")]
    assert (row["status"], row["on_time"]) == (Status.PASSED, "否")


def test_empty_statistics_form_is_returned(tmp_path: Path) -> None:
    """A 附件1 with its header filled but every count blank is a 错误 空表 and is 退回."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    make_return(inbox, "annex1", "U001", clean_values("annex1", **dict.fromkeys(COUNTS)))

    rollup(inbox, outbox)

    assert statuses(outbox)[("U001", "annex1")]["status"] == Status.RETURNED
    [issue] = read_csv(outbox / "issues.csv")
    assert (issue["severity"], issue["rule"]) == ("错误", "空表")
    assert issue["message"].endswith("表中各项数量全部为空，视为空表。请逐项填写（没有开展的填0）后重新报送。")


# ----------------------------------------------------------------------------- the command


def _run(capsys: pytest.CaptureFixture[str], inbox: Path, outbox: Path) -> tuple[int, list[str], str]:
    code = main(["rollup", "--campaign", str(CAMPAIGN_TOML), "--roster", str(UNITS_CSV),
                 "--inbox", str(inbox), "--outbox", str(outbox)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_empty_inbox_gives_every_unit_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`rollup` on an empty inbox exits 0, says the inbox is empty and suggests the demo, and reports all 20 units 未报送."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    inbox.mkdir()

    code, lines, err = _run(capsys, inbox, outbox)

    workbook = outbox / "清河县2023年安全生产月活动情况汇总.xlsx"
    assert code == 0
    assert err == ""
    assert lines == [
        f"来件目录 {inbox}/ 中还没有任何文件，以下各单位均为未报送。请把各单位发回的文件原样保存到该目录"
        "（或用 make fetch 从邮箱收取）后再汇总；想先看看效果，可运行 make demo（使用单独的 demo/ 目录）。",
        "收到文件 0 个 = 采用 0 + 已被替代 0 + 退回 0 + 无法识别 0 + 重复 0 + 忽略 0 + 材料 0",
        "附件1：应报 20 个单位，已通过 0，有警告 0，退回 0，未报送 20；报送率 0%（0 个单位报送），合格率 0%，按时率 0%",
        "附件2：应报 20 个单位，已通过 0，有警告 0，退回 0，未报送 20；报送率 0%（0 个单位报送），合格率 0%，按时率 0%",
        "活动总结：应报 20 个单位，已报送 0，未报送 20；收到材料 0 个",
        f"汇总表已生成：{workbook}（另有 records.csv、issues.csv、status.csv、materials.csv、files.csv，均在 {outbox}/）",
        "没有退回或有警告的报表，未生成审核反馈表。",
        f"单位名录 {UNITS_CSV}：20 个单位，编码 UTF-8。",
    ]
    rows = read_csv(outbox / "status.csv")
    assert len(rows) == 2 * UNITS
    assert {row["status"] for row in rows} == {Status.MISSING}
    assert sorted((row["form"], row["unit_code"]) for row in rows) == sorted(
        (form, f"U{i:03d}") for form in ("annex1", "annex2") for i in range(1, UNITS + 1))
    assert read_csv(outbox / "records.csv") == []
    assert read_csv(outbox / "issues.csv") == []
    assert workbook.is_file()


def test_missing_inbox_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`rollup` with an inbox that does not exist stops with a Chinese message and exit code 2, writing nothing."""
    inbox, outbox = tmp_path / "nope", tmp_path / "outbox"

    code, lines, err = _run(capsys, inbox, outbox)

    assert code == 2
    assert lines == []
    assert err == f"错误：来件目录 {inbox} 不存在，请先建立该目录并放入各单位发回的文件。\n"
    assert not outbox.exists()
