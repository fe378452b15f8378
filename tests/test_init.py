"""``init``: the notice in, the campaign folder (campaign.toml, forms/*.toml, campaign-review.txt) out."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pipeline.cli import main
from pipeline.errors import NoticeError
from pipeline.forms.spec import FormSpec, load_forms
from pipeline.job import collect
from pipeline.model import Outcome
from pipeline.notice.build import campaign_from_notice
from pipeline.notice.write import REVIEW_FILE, write_folder
from pipeline.settings.campaign import load_campaign
from pipeline.settings.roster import load_roster
from tests import notices
from tests.corpus import encrypt
from tests.office import convert
from tests.returns import CAMPAIGN_TOML, UNITS_CSV, fill, read_csv

PLAN_TEXT = notices.PLAN


def _init(notice: Path, out: Path) -> tuple[dict[str, FormSpec], Any]:
    """Run ``init`` on the notice into ``out`` and load what it wrote with the program's own readers."""
    assert main(["init", str(notice), "--out", str(out)]) == 0
    campaign = load_campaign(out / "campaign.toml")
    assert campaign.forms_dir is not None
    return load_forms(campaign.forms_dir), campaign


def _assert_like_curated(forms: dict[str, FormSpec], campaign: Any) -> None:
    """The generated 附件1 and campaign equal the curated ones in everything the notice says."""
    curated = load_forms()["annex1"]
    made = forms["annex1"]
    assert [s.title for s in made.sections] == [s.title for s in curated.sections]
    assert [(f.kind, f.unit) for f in made.body_fields] == [(f.kind, f.unit) for f in curated.body_fields]
    assert [(f.label, f.kind) for f in made.header] == [(f.label, f.kind) for f in curated.header]
    same = dict(zip((f.id for f in made.body_fields), (f.id for f in curated.body_fields), strict=True))
    assert [(r.check, [(same[a], same[b]) for a, b in r.pairs]) for r in made.rules] == [
        (r.check, list(r.pairs)) for r in curated.rules]
    assert (made.roles.unit, made.roles.report_date, made.roles.contact, made.roles.summary) == (
        curated.roles.unit, curated.roles.report_date, curated.roles.contact, curated.roles.summary)
    assert set(forms) == {"annex1", "annex2"}
    assert [f.kind for f in forms["annex2"].fields] == [f.kind for f in load_forms()["annex2"].fields]
    want = load_campaign(CAMPAIGN_TOML)
    assert (campaign.year, campaign.edition, campaign.theme, campaign.start, campaign.end, campaign.deadlines) == (
        want.year, want.edition, want.theme, want.start, want.end, want.deadlines)
    assert (campaign.contact_person, campaign.contact_phone, campaign.contact_email) == (
        want.contact_person, want.contact_phone, want.contact_email)


def test_plan_text_gives_the_curated_forms(tmp_path: Path) -> None:
    """The 2023 plan as text gives 附件1 and campaign.toml equivalent to the curated ones."""
    _assert_like_curated(*_init(PLAN_TEXT, tmp_path / "c"))


def test_indented_body_paragraphs_are_not_a_table(tmp_path: Path) -> None:
    """Body paragraphs indented with a tab (before the first 附件) are still read as the notice's text."""
    lines = PLAN_TEXT.read_text(encoding="utf-8").splitlines()
    end = next(i for i, line in enumerate(lines) if line.strip() == "附件1")
    indented = ["\t" + line if line.strip() else line for line in lines[:end]] + lines[end:]
    (tmp_path / "n.txt").write_text("\n".join(indented) + "\n", encoding="utf-8")
    _assert_like_curated(*_init(tmp_path / "n.txt", tmp_path / "c"))


def test_plan_docx_gives_the_curated_forms(tmp_path: Path) -> None:
    """The 2023 plan as a .docx in the notice's layout (ruled table, header rows repeated) gives the same."""
    docx_path = notices.write_docx(notices.plan_2023(), tmp_path / "通知.docx")
    _assert_like_curated(*_init(docx_path, tmp_path / "c"))


@pytest.mark.soffice
@pytest.mark.parametrize("target", ["pdf", "doc:MS Word 97"])
def test_plan_pdf_and_doc_give_the_curated_forms(tmp_path: Path, soffice: str, office_profile: Path,
                                                 target: str) -> None:
    """The 2023 plan printed to PDF, or saved as .doc, by LibreOffice gives the same forms and campaign."""
    docx_path = notices.write_docx(notices.plan_2023(), tmp_path / "notice.docx")
    converted, = convert(soffice, [docx_path], tmp_path / "out", target, office_profile)
    _assert_like_curated(*_init(converted, tmp_path / "c"))


def test_labels_take_the_subject_of_their_clause() -> None:
    """A generic word before a blank (参与, 受众, 答题) is labelled with what its clause is about."""
    spec = campaign_from_notice(PLAN_TEXT).forms["annex1"]
    labels = [f["label"] for s in spec["sections"] for f in s["fields"]]
    assert "理论学习中心组学习·参与人次" in labels
    assert not any(label.split("·")[0] in ("参与", "受众", "答题", "") for label in labels)
    assert len(set(labels)) == len(labels)


def test_same_notice_gives_identical_files(tmp_path: Path) -> None:
    """Two runs on the same notice write byte-identical files."""
    _init(PLAN_TEXT, tmp_path / "a")
    _init(PLAN_TEXT, tmp_path / "b")
    for path in sorted((tmp_path / "a").rglob("*")):
        if path.is_file():
            assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes(), path


def test_revised_notice_keeps_the_ids_of_unchanged_blanks(tmp_path: Path) -> None:
    """A blank added at the end of a sentence and one reworded change no other blank's id."""
    text = PLAN_TEXT.read_text(encoding="utf-8")
    revised = text.replace("基层宣讲（）场，参与（）人次。", "基层宣讲（）场，参与（）人次，发放学习材料（）份。")
    revised = revised.replace("总结经验做法（）个", "总结提炼经验做法（）条")
    assert revised.count("（）") == text.count("（）") + 1
    (tmp_path / "revised.txt").write_text(revised, encoding="utf-8")
    before = load_forms_of(PLAN_TEXT, tmp_path / "a")["annex1"]
    after = load_forms_of(tmp_path / "revised.txt", tmp_path / "b")["annex1"]
    old = {s.id: [f.id for f in s.fields] for s in before.sections}
    new = {s.id: [f.id for f in s.fields] for s in after.sections}
    assert new["s1"][:-1] == old["s1"] and len(new["s1"]) == len(old["s1"]) + 1
    assert new["s3"][0] != old["s3"][0] and new["s3"][1:] == old["s3"][1:]
    assert all(new[s] == old[s] for s in old if s not in ("s1", "s3"))
    assert after.version != before.version


def load_forms_of(notice: Path, out: Path) -> dict[str, FormSpec]:
    """The forms ``init`` makes of a notice."""
    return _init(notice, out)[0]


_TYPED = {"person": "李明", "phone": "0311-6627527", "mobile": "13812345678", "email": "liming@163.com", "text": "案例"}


@pytest.mark.parametrize("notice", ["plan", "fire"])
def test_generated_templates_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str], notice: str) -> None:
    """Templates made from the generated forms, filled in, roll up (``rollup``) to the exact county totals."""
    path = PLAN_TEXT if notice == "plan" else notices.write_text(notices.fire_month(), tmp_path / "fire.txt")
    folder = tmp_path / "c"
    forms, campaign = _init(path, folder)
    units = tmp_path / "units.csv"
    shutil.copyfile(UNITS_CSV, units)
    args = ["--campaign", str(folder / "campaign.toml"), "--roster", str(units)]
    assert main(["templates", *args, "--templates", str(tmp_path / "t")]) == 0
    roster = load_roster(units)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    expected = {form_id: {f.id: 0 for f in spec.fields if f.kind == "count"} for form_id, spec in forms.items()}
    for form_id, spec in forms.items():
        for n, unit in enumerate(list(roster)[:3], start=1):
            name = next(p.name for p in (tmp_path / "t").glob(f"{spec.annex}_*_{unit.code}_*.xlsx"))
            values: dict[str, Any] = {f.id: _TYPED[f.kind] for f in spec.fields if f.kind in _TYPED}
            values.update({f.id: campaign.end for f in spec.fields if f.kind == "date"})
            for i, fid in enumerate(expected[form_id]):
                values[fid] = n * 10 + i  # participants never fewer than sessions: no rule fires
                expected[form_id][fid] += n * 10 + i
            shutil.copyfile(tmp_path / "t" / name, inbox / name)
            fill(inbox / name, values)
    assert main(["rollup", *args, "--inbox", str(inbox), "--outbox", str(tmp_path / "outbox")]) == 0
    result = collect(inbox, tmp_path / "ledger", forms, campaign, roster, "test")
    assert [s.outcome for s in result.submissions] == [Outcome.ACCEPTED] * 3 * len(forms)
    for form_id in forms:
        assert result.totals(form_id) == expected[form_id]
    rows = [r for r in read_csv(tmp_path / "outbox" / "records.csv") if r["form"] == "annex1"]
    assert sum(int(r["value"]) for r in rows if r["field_id"] in expected["annex1"]) == sum(expected["annex1"].values())
    capsys.readouterr()


@pytest.mark.parametrize("make", [notices.fire_month, notices.inspection, notices.hazard_drive])
def test_other_campaigns_notices_load(tmp_path: Path, make: Any) -> None:
    """Notices of other campaigns give forms and a campaign the program loads, and a review list."""
    path = notices.write_docx_parts(make(), tmp_path / "notice.docx")
    forms, campaign = _init(path, tmp_path / "c")
    assert forms and all(campaign.deadline(f.deadline) for f in forms.values())
    assert (tmp_path / "c" / REVIEW_FILE).read_text(encoding="utf-8").strip()


def test_fire_month_every_blank_spelling_and_columns(tmp_path: Path) -> None:
    """Every blank spelling is a field with its measure word; the 联络员表 gives one field per column."""
    notice = notices.fire_month()
    forms, campaign = _init(notices.write_text(notice, tmp_path / "n.txt"), tmp_path / "c")
    stats = forms["annex1"]
    assert len(stats.sections) == 5
    assert [(f.kind, f.unit) for f in stats.body_fields] == [
        ("count", "场"), ("count", "人次"), ("count", "名"), ("count", "次"), ("count", "人"), ("count", "处"),
        ("count", "起"), ("count", "起"), ("text", ""), ("count", "份"), ("count", "张"),
        ("count", "篇"), ("count", "篇"), ("text", "")]
    assert [f.kind for f in stats.header] == ["unit", "person", "mobile", "date"]
    liaison = forms["annex2"]
    assert [(f.label, f.kind) for f in liaison.fields] == [
        ("单位名称", "unit"), ("姓名", "person"), ("职务", "text"), ("办公电话", "phone"), ("手机", "mobile"),
        ("邮箱", "email"), ("备注", "text")]
    assert "annex3" not in forms
    assert campaign.name == "消防宣传月"
    assert campaign.deadlines == {"annex1_due": dt.date(2024, 11, 30), "annex2_due": dt.date(2024, 10, 25)}
    review = (tmp_path / "c" / REVIEW_FILE).read_text(encoding="utf-8")
    assert "附件3" in review and "活动方案" in review


def test_second_table_and_contact_list(tmp_path: Path) -> None:
    """A second sentence table continues the form's items; a filled contact list is not a form."""
    forms, _ = _init(notices.write_docx_parts(notices.inspection(), tmp_path / "n.docx"), tmp_path / "c")
    assert [s.title for s in forms["annex1"].sections] == ["企业自查", "部门检查", "执法处罚", "挂牌督办"]
    assert set(forms) == {"annex1"}
    assert "县局检查组联系方式" in (tmp_path / "c" / REVIEW_FILE).read_text(encoding="utf-8")


def test_uncertain_choices_are_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A deadline tied to no annex, a missing header line and a title-only annex are listed, quoting the notice."""
    _init(notices.write_docx_parts(notices.hazard_drive(), tmp_path / "n.docx"), tmp_path / "c")
    shown = capsys.readouterr().out
    review = (tmp_path / "c" / REVIEW_FILE).read_text(encoding="utf-8")
    for words in ("8月15日前报送中期评估报告", "没有“填报单位：”表头行", "标准联络员表", "活动主题"):
        assert words in review and words in shown


# ----------------------------------------------------------------------------- bad input


def _refused(notice: Path, out: Path, *words: str) -> None:
    with pytest.raises(NoticeError) as caught:
        write_folder(out, campaign_from_notice(notice))
    for word in words:
        assert word in str(caught.value)
    assert not out.exists() or not any(out.iterdir())


def test_notice_without_annex_table(tmp_path: Path) -> None:
    """A notice with no 附件 is refused in Chinese and nothing is written."""
    body = notices.Notice(notices.plan_2023().body, [])
    _refused(notices.write_text(body, tmp_path / "n.txt"), tmp_path / "c", "没有找到附件")
    only_text = notices.Notice(notices.plan_2023().body, [notices.AnnexDoc(1, "活动方案", paragraphs=["略。"])])
    _refused(notices.write_text(only_text, tmp_path / "m.txt"), tmp_path / "d", "没有需要填报的表格")


def test_encrypted_docx(tmp_path: Path) -> None:
    """An encrypted .docx is refused as 加密."""
    path = encrypt(notices.write_docx(notices.plan_2023(), tmp_path / "n.docx"))
    _refused(path, tmp_path / "c", "加密")


def test_scanned_pdf(tmp_path: Path) -> None:
    """A PDF with no text layer is refused as a 扫描件."""
    buffer = io.BytesIO()
    Image.new("RGB", (600, 800), "white").save(buffer, format="PDF")
    (tmp_path / "scan.pdf").write_bytes(buffer.getvalue())
    _refused(tmp_path / "scan.pdf", tmp_path / "c", "扫描件")


def test_existing_folder_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An existing campaign folder is kept unless --force; with it, the old forms go (a stale annex too)."""
    out = tmp_path / "c"
    _init(PLAN_TEXT, out)
    (out / "forms" / "annex9.toml").write_bytes((out / "forms" / "annex2.toml").read_bytes())
    before = (out / "campaign.toml").read_bytes()
    fire = notices.write_text(notices.fire_month(), tmp_path / "fire.txt")
    assert main(["init", str(fire), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "campaign.toml").read_bytes() == before
    assert main(["init", str(fire), "--out", str(out), "--force"]) == 0
    assert load_campaign(out / "campaign.toml").year == 2024
    assert sorted(p.name for p in (out / "forms").iterdir()) == ["annex1.toml", "annex2.toml"]
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_pasted_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The notice pasted on standard input (``init -``) gives the same forms as the text file."""
    monkeypatch.setattr("sys.stdin", io.StringIO(PLAN_TEXT.read_text(encoding="utf-8")))
    assert main(["init", "-", "--out", str(tmp_path / "pasted")]) == 0
    _init(PLAN_TEXT, tmp_path / "file")
    capsys.readouterr()
    for name in ("forms/annex1.toml", "forms/annex2.toml", "campaign.toml"):
        assert (tmp_path / "pasted" / name).read_bytes() == (tmp_path / "file" / name).read_bytes()


def test_liaison_form_as_annex_1(tmp_path: Path) -> None:
    """A notice whose 附件1 is the 联络员表 (due first) and 附件2 the statistics loads with its own deadlines."""
    notice = notices.hazard_drive()
    stats = notice.annexes[0]
    notice.annexes = [notices.AnnexDoc(1, "隐患排查联络员表"), notices.AnnexDoc(2, stats.title, "", stats.rows)]
    notice.body = [line.replace("8月15日前报送中期评估报告", "7月5日前报送联络员表") for line in notice.body]
    forms, campaign = _init(notices.write_text(notice, tmp_path / "n.txt"), tmp_path / "c")
    assert [f.kind for f in forms["annex1"].body_fields][:2] == ["person", "text"]
    assert forms["annex2"].has_sentences
    assert campaign.deadlines == {"annex1_due": dt.date(2024, 7, 5), "annex2_due": dt.date(2024, 9, 30)}


def test_repeated_label_and_missing_year_are_listed(tmp_path: Path) -> None:
    """Two items with the same wording get distinct labels, and that and the missing year are listed for review."""
    rows: list[tuple[str, ...]] = [notices.SENTENCE_HEADER, ("春季培训", "培训。", "开展培训（）场，参与（）人次。"),
                                   ("秋季培训", "培训。", "开展培训（）场，参与（）人次。")]
    notice = notices.Notice(["关于开展“安全培训周”活动的通知", "一、活动时间", "9月1日至9月7日", "联系人：周九",
                             "联系电话：6627000", "邮箱：peixun@163.com"],
                            [notices.AnnexDoc(1, "培训情况统计表", "填报单位：联系人：电话：", rows)])
    forms, campaign = _init(notices.write_text(notice, tmp_path / "n.txt"), tmp_path / "c")
    labels = [f.label for f in forms["annex1"].body_fields]
    assert len(set(labels)) == 4 and labels[0] == "开展培训·场次"
    review = (tmp_path / "c" / REVIEW_FILE).read_text(encoding="utf-8")
    assert f"“{labels[0]}”与前面的重复" in review and "没有写明年份" in review
    assert campaign.year == dt.date.today().year


def test_failed_force_keeps_the_old_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A notice that cannot be used leaves the existing campaign folder as it was, even with --force."""
    out = tmp_path / "c"
    _init(PLAN_TEXT, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = notices.write_text(notices.Notice(["没有附件的通知"], []), tmp_path / "bad.txt")
    assert main(["init", str(bad), "--out", str(out), "--force"]) == 2
    assert "没有找到附件" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_aqscy_init(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``aqscy init 通知`` runs the same command as ``python -m pipeline init``."""
    from pipeline.cli.entry import main as aqscy

    assert aqscy(["init", str(PLAN_TEXT), "--out", str(tmp_path / "c")]) == 0
    assert "campaign-review.txt" in capsys.readouterr().out
    assert (tmp_path / "c" / "forms" / "annex1.toml").is_file()


@pytest.mark.program_error
def test_program_error_is_logged_not_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Generated settings that do not load are our bug: logged with the traceback, told in Chinese, nothing written."""
    from pipeline.notice import build

    real = build.campaign_from_notice

    def broken(path: Path) -> build.CampaignFolder:
        made = real(path)
        made.forms["annex1"]["header"][0]["kind"] = "bogus"
        return made

    monkeypatch.setattr(build, "campaign_from_notice", broken)
    out = tmp_path / "c"
    assert main(["init", str(PLAN_TEXT), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "程序内部错误" in err and "RuntimeError" not in err and "Traceback" not in err
    assert "Traceback" in (out / "pipeline.log").read_text(encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == ["pipeline.log"]


def test_annex_in_chinese_numerals_and_a_numbered_table(tmp_path: Path) -> None:
    """“附件一” is an annex heading; a 序号 column is layout; blanks outside the 进展情况 column are listed."""
    lines = ["2024年“安全生产月”活动方案", "二、活动时间", "6月1日至6月30日", "联系人：吴十", "联系电话：6627111",
             "邮箱：anquan@163.com", "请于7月5日前报送附件一。", "附件一", "活动情况表", "填报单位：填报日期：",
             "\t序号\t活动项目\t内容要求\t进展情况", "\t1\t宣讲\t组织宣讲（）场以上\t开展宣讲（）场，参与（）人次。"]
    (tmp_path / "n.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    forms, campaign = _init(tmp_path / "n.txt", tmp_path / "c")
    assert [(f.label, f.unit) for f in forms["annex1"].body_fields] == [("开展宣讲·场次", "场"), ("开展宣讲·参与人次", "人次")]
    assert campaign.deadlines == {"annex1_due": dt.date(2024, 7, 5)}
    assert "组织宣讲（）场以上" in (tmp_path / "c" / REVIEW_FILE).read_text(encoding="utf-8")


def test_forms_found_beside_campaign_toml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Commands use ``forms/`` beside campaign.toml (named or not), else the built-in forms."""
    notice = notices.write_text(notices.fire_month(), tmp_path / "fire.txt")
    _init(notice, tmp_path / "c")
    toml = tmp_path / "c" / "campaign.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('forms = "forms"\n', ""), encoding="utf-8")
    assert load_campaign(toml).forms_dir == tmp_path / "c" / "forms"
    capsys.readouterr()
    assert main(["fields", "--campaign", str(toml)]) == 0
    assert "消防安全培训" in capsys.readouterr().out
    assert load_campaign(CAMPAIGN_TOML).forms_dir is None
    assert main(["fields", "--campaign", str(CAMPAIGN_TOML)]) == 0
    assert "s1_center_study_times" in capsys.readouterr().out


def test_blanks_without_a_table_are_not_dropped_silently(tmp_path: Path) -> None:
    """An annex whose blanks are in plain text (a PDF table without rules) is listed, and with no form, refused."""
    annex = notices.AnnexDoc(1, "活动情况统计表", "填报单位：", paragraphs=["开展培训（）场，参与（）人次。"])
    path = notices.write_docx(notices.Notice(notices.plan_2023().body, [annex]), tmp_path / "n.docx")
    with pytest.raises(NoticeError) as caught:
        campaign_from_notice(path)
    assert "没有需要填报的表格" in str(caught.value)
    annexes = [annex, notices.plan_2023().annexes[1]]
    made = campaign_from_notice(notices.write_docx(notices.Notice(notices.plan_2023().body, annexes), tmp_path / "m.docx"))
    assert any("开展培训（）场" in line and "没有找到它所在的表格" in line for line in made.review)


def test_word_return_on_a_generated_form(tmp_path: Path) -> None:
    """A unit filling in the notice's own Word table is read against the generated form's sentences."""
    from pipeline.documents.extract import read_word_form
    from tests.word_forms import Style, write_form

    forms, _ = _init(notices.write_text(notices.fire_month(), tmp_path / "fire.txt"), tmp_path / "c")
    spec = forms["annex1"]
    values = {f.id: (str(n) if f.kind == "count" else "做法") for n, f in enumerate(spec.body_fields, start=1)}
    path = write_form(tmp_path / "return.docx", spec, values, {"unit_name": "清河县顺达货物运输有限公司"},
                      Style(wording="fixed"))
    read = read_word_form(path, "docx", spec)
    assert read.values == values and not read.missing
