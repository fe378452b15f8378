"""Feedback workbooks (pipeline.outputs.feedback and the rollup command): written, marked, corrected, read back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from feedback_kit import submit, unit
from office import defined_cells, fill, meta_rows
from returns import rollup_of

from pipeline.checks.rollup import Rollup
from pipeline.cli import main
from pipeline.forms.generate import MARK_FILL
from pipeline.forms.layout import build_layout
from pipeline.forms.spec import NOTICE_SHEET, FormSpec, template_name
from pipeline.model import Status
from pipeline.outputs.feedback import FEEDBACK_DIR, plan_feedback, write_feedback
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster

REPO = Path(__file__).resolve().parents[1]
EPOCH = "1685491200"  # 2023-05-31, the campaign's first day: notices are dated then
TITLE1 = "《“安全生产月”活动情况统计表》"


@pytest.fixture(autouse=True)
def _campaign_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


def _returned(tmp_path: Path, template_dir: Path, forms: dict[str, FormSpec], campaign: Campaign,
              roster: Roster) -> tuple[Path, Path, Rollup]:
    """U001 sends a 附件1 with a word for a count, a fraction and a count written as text."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    submit(template_dir, inbox, forms["annex1"], campaign, unit(roster, "U001"),
           s1_center_study_times="二十多", s1_film_sessions=2.5, s1_center_study_people="约20")
    return inbox, outbox, rollup_of(inbox, forms, campaign, roster, outbox)


def _address(spec: FormSpec, campaign: Campaign, field_id: str) -> str:
    return build_layout(spec, campaign.year).address(field_id)


def _notice(path: Path) -> list[str]:
    """The lines of a feedback workbook's 审核意见 sheet under its title, the contact line left out."""
    wb = openpyxl.load_workbook(path)
    try:
        assert wb.sheetnames[0] == NOTICE_SHEET
        lines = [row[0] for row in wb[NOTICE_SHEET].iter_rows(min_row=2, values_only=True)]
    finally:
        wb.close()
    return [str(line) for line in lines[: lines.index(None)]]


def test_returned_submission_gets_marked_feedback_workbook(
    tmp_path: Path, template_dir: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster
) -> None:
    """A returned 附件1 comes back as the unit's form: answers refilled, bad cells red with a comment, a notice."""
    _, outbox, rollup = _returned(tmp_path, template_dir, forms, campaign, roster)
    spec, u001 = forms["annex1"], unit(roster, "U001")
    assert rollup.status("U001", "annex1").status == Status.RETURNED

    paths = write_feedback(outbox, rollup)

    name = template_name(spec, u001).removesuffix(".xlsx") + "_审核反馈.xlsx"
    assert paths == [outbox / FEEDBACK_DIR / name]
    meta = meta_rows(paths[0])
    assert (meta["form_id"], meta["unit_code"], meta["layout_offset"]) == ("annex1", "U001", "0")
    wb = openpyxl.load_workbook(paths[0])
    ws = wb[spec.sheet]
    cells = defined_cells(wb)
    assert {fid: ref for fid, (_, ref) in cells.items()} == {f.id: _address(spec, campaign, f.id) for f in spec.fields}
    times, film, people = (_address(spec, campaign, f) for f in
                           ("s1_center_study_times", "s1_film_sessions", "s1_center_study_people"))
    assert _notice(paths[0]) == [
        f"贵单位报送的{TITLE1}经审核存在以下问题，请在标红的单元格中更正后于6月30日前重新报送：",
        f"1.【错误】单元格 {times}（理论学习中心组学习·次数），所填内容“二十多”："
        "应填写阿拉伯数字整数，没有开展的填0，请更正。",
        f"2.【错误】单元格 {film}（《生命重于泰山》专题片学习·场次），所填内容“2.5”："
        "场次、人次等只能是整数，请更正为整数。",
        f"3.【警告】单元格 {people}（理论学习中心组学习·参与人次），所填内容“约20”："
        "已按数字 20 计。请今后只填阿拉伯数字。",
    ]
    assert (ws[times].value, ws[film].value, ws[people].value) == ("二十多", "2.5", "约20")  # as the unit typed them
    assert "应填写阿拉伯数字整数" in ws[times].comment.text
    assert "已按数字 20 计" in ws[people].comment.text
    for ref in (times, film, people):
        assert ws[ref].fill.fgColor.rgb.endswith(MARK_FILL.lstrip("#")), ref
    untouched = _address(spec, campaign, "s1_film_people")
    assert ws[untouched].value == 3 and ws[untouched].comment is None
    assert ws[_address(spec, campaign, "unit_name")].value == u001.name
    assert ws[_address(spec, campaign, "report_date")].value == dt.datetime(2023, 6, 28)
    wb.close()


def test_corrected_feedback_returned_turns_unit_to_passed(
    tmp_path: Path, template_dir: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster
) -> None:
    """The feedback workbook with its red cells corrected, sent back into the inbox, is read by its names and passes."""
    inbox, outbox, rollup = _returned(tmp_path, template_dir, forms, campaign, roster)
    [feedback] = write_feedback(outbox, rollup)

    corrected = inbox / "U001_附件1_更正.xlsx"
    fill(feedback, corrected, {"s1_center_study_times": 2, "s1_film_sessions": 2, "s1_center_study_people": 20})
    again = rollup_of(inbox, forms, campaign, roster)

    status = again.status("U001", "annex1")
    assert status.status == Status.PASSED
    assert status.counted is not None and status.counted.file == corrected.name
    assert status.counted.located_by == "meta" and status.counted.findings == []
    assert status.counted.values["s1_center_study_times"] == 2
    assert status.counted.values["s1_center_study_people"] == 20
    assert status.counted.raw["s1_center_study_times"].address == _address(forms["annex1"], campaign,
                                                                            "s1_center_study_times")
    assert write_feedback(outbox, again) == []
    assert not feedback.exists(), "the stale feedback workbook of the earlier run is removed"


def test_warned_submission_feedback_states_lateness_without_marking_the_date(
    tmp_path: Path, template_dir: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster
) -> None:
    """A form that passed with warnings gets a 请核实 notice; lateness is listed but the date cell is not marked."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    spec = forms["annex1"]
    submit(template_dir, inbox, spec, campaign, unit(roster, "U002"),
           s1_center_study_people="约20", report_date=dt.date(2023, 7, 3))
    rollup = rollup_of(inbox, forms, campaign, roster)
    assert rollup.status("U002", "annex1").status == Status.WARNED

    [path] = write_feedback(outbox, rollup)

    ws = openpyxl.load_workbook(path)[spec.sheet]
    notice = _notice(path)
    assert notice[0].startswith(f"贵单位报送的{TITLE1}已通过审核，但存在以下需要核实的问题。")
    assert "核实无误的，无需再次报送" in notice[0]
    date_ref = _address(spec, campaign, "report_date")
    assert any(f"单元格 {date_ref}（填报日期）" in line and "逾期报送" in line for line in notice[1:])
    assert ws[date_ref].comment is None
    assert not ws[date_ref].fill.fgColor.rgb.endswith(MARK_FILL.lstrip("#"))
    assert ws[_address(spec, campaign, "s1_center_study_people")].comment is not None


def test_headline_after_the_deadline_asks_for_the_correction_without_a_past_date(
    tmp_path: Path, template_dir: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster
) -> None:
    """Once the form's deadline has passed the notice asks for the corrected form 尽快 and cites the deadline."""
    _, outbox, rollup = _returned(tmp_path, template_dir, forms, campaign, roster)

    [item] = plan_feedback(outbox, rollup, on=dt.date(2023, 7, 10))

    assert item.content.notice[0] == (f"贵单位报送的{TITLE1}经审核存在以下问题，请在标红的单元格中更正后"
                                      "尽快（报送截止日期为6月30日）重新报送：")
    assert list(item.content.notice[1:]) == list(item.problems)


def test_rollup_command_writes_feedback_and_says_how_many(
    tmp_path: Path, template_dir: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`python -m pipeline rollup` writes outbox/feedback/ too and prints one line counting the workbooks."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    submit(template_dir, inbox, forms["annex1"], campaign, unit(roster, "U001"), s1_center_study_times="二十多")
    submit(template_dir, inbox, forms["annex1"], campaign, unit(roster, "U002"), s1_center_study_people="约20")
    submit(template_dir, inbox, forms["annex2"], campaign, unit(roster, "U002"))

    code = main(["rollup", "--campaign", str(REPO / "campaign.toml"), "--roster", str(REPO / "units.csv"),
                 "--inbox", str(inbox), "--outbox", str(outbox)])

    assert code == 0
    out = capsys.readouterr().out
    assert f"审核反馈表已生成 2 份（退回 1 份、有警告 1 份），保存在 {outbox / FEEDBACK_DIR}/" in out
    assert sorted(p.name.split("_")[2] for p in (outbox / FEEDBACK_DIR).iterdir()) == ["U001", "U002"]


def test_old_template_feedback_is_the_current_template_and_passes_unchanged(
    tmp_path: Path, template_dir: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster
) -> None:
    """A form filled on an outdated template gets its answers carried into the current one, which passes as is."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    sent = submit(template_dir, inbox, forms["annex2"], campaign, unit(roster, "U003"))
    wb = openpyxl.load_workbook(sent)
    meta = wb["_meta"]
    row = next(r for r in meta.iter_rows() if r[0].value == "form_version")
    row[1].value = "000000000000"
    wb.save(sent)
    rollup = rollup_of(inbox, forms, campaign, roster)
    assert rollup.status("U003", "annex2").status == Status.RETURNED

    [feedback] = write_feedback(outbox, rollup)

    assert _notice(feedback)[1] == (
        "1.【错误】贵单位使用的是旧版模板。本反馈表已按2023年最新下发的模板生成，并已填入贵单位原报送的内容，请逐项核对后直接发回。")
    assert meta_rows(feedback)["form_version"] == forms["annex2"].version
    fill(feedback, inbox / "U003_附件2_反馈表原样发回.xlsx", {})
    assert rollup_of(inbox, forms, campaign, roster).status("U003", "annex2").status == Status.PASSED


def test_long_problem_lists_are_listed_whole_on_the_notice_sheet_and_every_cell_keeps_its_comment(
    tmp_path: Path, template_dir: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster
) -> None:
    """Every problem gets its own row on 审核意见, however many there are, and every marked cell its comment."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    spec = forms["annex1"]
    counts = [f.id for f in spec.fields if f.kind == "count"]
    submit(template_dir, inbox, spec, campaign, unit(roster, "U006"), **dict.fromkeys(counts, "若干"))
    rollup = rollup_of(inbox, forms, campaign, roster)

    [item] = plan_feedback(outbox, rollup)
    [path] = write_feedback(outbox, rollup)

    assert len(item.problems) >= len(counts)
    assert _notice(path)[1:] == list(item.problems)
    ws = openpyxl.load_workbook(path)[spec.sheet]
    assert all(ws[_address(spec, campaign, fid)].comment is not None for fid in counts)


def _cells_quoted(text: str) -> list[str]:
    """Every “单元格 D17” a notice or a mail names."""
    import re

    return re.findall(r"单元格 ([A-Z]{1,3}[0-9]+)", text)


def test_every_address_in_feedback_and_mail_is_the_one_in_issues_csv_and_holds_its_value(
    tmp_path: Path, template_dir: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The feedback workbook, its notice and both mails name each problem cell as issues.csv does, and the
    feedback workbook's cell there holds the value issues.csv quotes."""
    import csv
    import email
    import email.policy
    import shutil

    from pipeline.values.normalise import display

    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    templates = Path(shutil.copytree(template_dir, tmp_path / "templates"))
    spec = forms["annex1"]
    submit(template_dir, inbox, spec, campaign, unit(roster, "U001"), s1_center_study_times="二十多",
           s1_film_sessions="12次")
    submit(template_dir, inbox, spec, campaign, unit(roster, "U002"), s1_film_sessions="12次")
    paths = ["--campaign", str(REPO / "campaign.toml"), "--roster", str(REPO / "units.csv")]
    assert main(["rollup", *paths, "--inbox", str(inbox), "--outbox", str(outbox)]) == 0
    for kind in ("reminders", "feedback"):
        assert main(["mail", kind, *paths, "--templates", str(templates), "--inbox", str(inbox),
                     "--outbox", str(outbox)]) == 0
    capsys.readouterr()
    with (outbox / "issues.csv").open(encoding="utf-8-sig", newline="") as handle:
        issues = [r for r in csv.DictReader(handle) if r["cell"]]
    by_unit: dict[str, dict[str, str]] = {}
    for row in issues:
        by_unit.setdefault(row["unit_code"], {})[row["cell"]] = row["value"]
    assert set(by_unit) == {"U001", "U002"}
    for code, cells in by_unit.items():
        [feedback] = (outbox / FEEDBACK_DIR).glob(f"*_{code}_*{'_审核反馈.xlsx'}")
        notice = "\n".join(_notice(feedback))
        assert sorted(set(_cells_quoted(notice))) == sorted(cells), code
        wb = openpyxl.load_workbook(feedback)
        ws = wb[spec.sheet]
        for ref, value in cells.items():
            assert display(ws[ref].value) == value, (code, ref)
        wb.close()
        quoted: set[str] = set()
        for mail in (outbox / "mail").rglob(f"{code}_*.eml"):
            msg = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
            body = msg.get_body(("plain",))
            assert body is not None
            quoted.update(_cells_quoted(body.get_content()))  # type: ignore[attr-defined]
        assert sorted(quoted) == sorted(cells), code


def test_a_warned_form_never_demands_what_its_headline_waives(
    tmp_path: Path, template_dir: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster
) -> None:
    """A blank 联系人 leaves the form 有警告: its notice says no resubmission is needed and never says 必须."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    submit(template_dir, inbox, forms["annex1"], campaign, unit(roster, "U003"), contact=None)
    rollup = rollup_of(inbox, forms, campaign, roster, outbox)
    assert rollup.status("U003", "annex1").status == Status.WARNED

    [item] = plan_feedback(outbox, rollup)

    assert "无需再次报送" in item.content.notice[0]
    assert item.problems and not any("必须" in line for line in item.content.notice)


def test_a_unit_getting_both_a_reminder_and_a_feedback_mail_is_told_they_belong_together(
    tmp_path: Path, template_dir: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """U002 owes 附件2 and its 附件1 has a 警告: the 催报 names the 审核反馈 mail and the 审核反馈 the 催报."""
    import email
    import email.policy
    import shutil

    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    templates = Path(shutil.copytree(template_dir, tmp_path / "templates"))
    submit(template_dir, inbox, forms["annex1"], campaign, unit(roster, "U002"), s1_center_study_people="约20")
    submit(template_dir, inbox, forms["annex2"], campaign, unit(roster, "U003"))
    paths = ["--campaign", str(REPO / "campaign.toml"), "--roster", str(REPO / "units.csv")]
    bodies: dict[str, dict[str, str]] = {}
    for kind in ("reminders", "feedback"):
        assert main(["mail", kind, *paths, "--templates", str(templates), "--inbox", str(inbox),
                     "--outbox", str(outbox)]) == 0
        for path in (outbox / "mail" / kind).glob("*.eml"):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            body = msg.get_body(("plain",))
            assert body is not None
            bodies.setdefault(kind, {})[path.name.split("_")[0]] = body.get_content()  # type: ignore[attr-defined]
    capsys.readouterr()
    assert "另以“审核反馈”邮件发送" in bodies["reminders"]["U002"]
    assert "附件2未报送" in bodies["feedback"]["U002"] and "另以“催报”邮件通知" in bodies["feedback"]["U002"]
    assert "审核反馈" not in bodies["reminders"]["U003"].split("附件：")[0]  # U003 has nothing to check: no such line
