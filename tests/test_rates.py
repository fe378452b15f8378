"""报送率, 合格率 and 按时率: three rates over the units due, each meaning what its name says."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from returns import clean_values, count_ids, settings, settled_rollup, submission

from pipeline.checks.rollup import RATE_NAMES, build_rollup
from pipeline.intake.arrival import FOLDER_DATE, MAIL_DATE
from pipeline.outputs.report import arrival_cell


def test_three_rates_count_sent_accepted_and_on_time_units() -> None:
    """A rejected return counts as sent, a late accepted one as accepted, only an on-time accepted one as on time."""
    forms, campaign, roster = settings()
    due = campaign.deadline(forms["annex1"].deadline)
    early, late = due - dt.timedelta(days=1), due + dt.timedelta(days=1)
    bad = clean_values("annex1", **{count_ids()[0]: "很多"})
    plan = {  # unit: (values, day it arrived)
        "U001": (clean_values("annex1"), early),
        "U002": (clean_values("annex1"), late),
        "U003": (bad, early),
    }
    subs = [submission("annex1", values, code, file=f"{day.isoformat()}/{code}_附件1.xlsx")
            for code, (values, day) in plan.items()]
    result = settled_rollup(subs, {"annex1": forms["annex1"]}, campaign, roster)
    rates = result.rates("annex1")
    passed = [c for c, (v, _) in plan.items() if v is not bad]
    assert rates.due == len(roster)
    assert rates.sent == len(plan)
    assert rates.accepted == len(passed)
    assert rates.on_time == sum(plan[c][1] <= due for c in passed)
    assert rates.sent_rate == len(plan) / len(roster)
    assert rates.accepted_rate == len(passed) / len(roster)
    assert rates.on_time_rate == rates.on_time / len(roster)
    assert rates.sent_rate > rates.accepted_rate > rates.on_time_rate
    assert set(RATE_NAMES.values()) == {"报送率", "合格率", "按时率"}


def test_arrival_cell_names_the_date_on_time_used_and_its_source() -> None:
    """收到日期 shows the folder's date with its year and 日期文件夹; a saved mail's Date outranks the folder."""
    forms, campaign, roster = settings()
    folder_day = dt.date(2023, 6, 23)
    sub = submission("annex1", clean_values("annex1"), "U001", file=f"{folder_day.isoformat()}/U001.xlsx")
    mailed = submission("annex1", clean_values("annex1"), "U002", file=f"{folder_day.isoformat()}/U002.xlsx")
    mailed.arrived = folder_day - dt.timedelta(days=3)
    result = settled_rollup([sub, mailed], {"annex1": forms["annex1"]}, campaign, roster)
    st1, st2 = result.status("U001", "annex1"), result.status("U002", "annex1")
    assert (st1.arrival, st1.arrival_source) == (folder_day, FOLDER_DATE)
    assert arrival_cell(st1) == f"{folder_day.isoformat()}（{FOLDER_DATE}）"
    assert (st2.arrival, st2.arrival_source) == (mailed.arrived, MAIL_DATE)
    assert st1.on_time is (folder_day <= campaign.deadline(forms["annex1"].deadline))


def test_a_count_read_as_zero_from_a_dash_is_not_flagged_again_as_an_outlier() -> None:
    """“—” read as 0 carries its one finding; the outlier check, which would flag that 0, says nothing more."""
    forms, campaign, roster = settings()
    field_id = count_ids()[1]  # a 参与人次: its 0 breaks no pair rule
    codes = [u.code for u in roster][:10]
    subs = [submission("annex1", clean_values("annex1", **{field_id: 100 + i}), code) for i, code in enumerate(codes)]
    subs.append(submission("annex1", clean_values("annex1", **{field_id: "—"}), [u.code for u in roster][10]))
    lone = subs[-1]
    assert lone.values[field_id] == 0
    settled_rollup(subs, {"annex1": forms["annex1"]}, campaign, roster)
    on_cell = [f for f in lone.findings if f.field_id == field_id]
    assert len(on_cell) == 1, on_cell
    assert on_cell[0].rule != "数值异常"
    control = submission("annex1", clean_values("annex1", **{field_id: 0}), [u.code for u in roster][10])
    settled_rollup([*[submission("annex1", clean_values("annex1", **{field_id: 100 + i}), code)
                    for i, code in enumerate(codes)], control], {"annex1": forms["annex1"]}, campaign, roster)
    assert [f.rule for f in control.findings if f.field_id == field_id] == ["数值异常"]  # a typed 0 is flagged


def test_status_and_liaison_sheets_name_the_annex_and_define_the_rates(tmp_path: Path) -> None:
    """报送情况 names each form by its annex with the three rates and their definition; 联络员表 says 附件2."""
    import openpyxl

    from pipeline.checks.rollup import RATE_NOTE
    from pipeline.outputs.report import write_workbook

    forms, campaign, roster = settings()
    path = tmp_path / "book.xlsx"
    write_workbook(path, build_rollup([], forms, campaign, roster))
    wb = openpyxl.load_workbook(path)
    try:
        status = [[str(v or "").replace("\n", "") for v in row] for row in wb["报送情况"].iter_rows(values_only=True)]
        liaison = str(wb[forms["annex2"].rollup_sheet]["A1"].value)
    finally:
        wb.close()
    assert {"报送率", "合格率", "按时率"} <= set(status[0])
    assert [row[0][:3] for row in status[1:3]] == [forms["annex1"].annex, forms["annex2"].annex]
    assert any(RATE_NOTE in cell for row in status[:5] for cell in row)
    assert liaison.startswith(forms["annex2"].annex)
