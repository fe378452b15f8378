"""The form specs: the real annex1/annex2 content, and the loader's rejection of malformed files."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from pipeline.errors import SpecError
from pipeline.forms.spec import FORMS_DIR, FormSpec, load_forms, load_spec
from pipeline.settings.campaign import Campaign

ANNEX1 = FORMS_DIR / "annex1.toml"
ANNEX1_TEXT = ANNEX1.read_text(encoding="utf-8")
SESSION_UNITS = ("场", "次", "场次")
PARTICIPANT_UNITS = ("人次", "人")


def test_annex1_has_eight_sections_with_the_official_blank_counts(forms: dict[str, FormSpec]) -> None:
    """附件1 has eight 活动项目 with 7, 13, 10, 11, 7, 9, 9 and 9 blanks."""
    assert [len(s.fields) for s in forms["annex1"].sections] == [7, 13, 10, 11, 7, 9, 9, 9]


def test_annex1_section_fields_are_74_counts_and_one_text(forms: dict[str, FormSpec]) -> None:
    """Of 附件1's 75 section blanks, 74 are whole numbers and one (典型案例) is free text."""
    kinds = Counter(f.kind for f in forms["annex1"].body_fields)
    assert kinds == {"count": 74, "text": 1}
    (text,) = (f for f in forms["annex1"].body_fields if f.kind == "text")
    assert text.section == "s4"
    assert "典型案例" in text.label


def test_annex1_header_is_unit_contact_phone_and_date(forms: dict[str, FormSpec]) -> None:
    """附件1's header line asks for 填报单位, 联系人, 电话 and 填报日期, all required."""
    header = forms["annex1"].header
    assert [(f.label, f.kind) for f in header] == [
        ("填报单位", "unit"), ("联系人", "person"), ("电话", "phone"), ("填报日期", "date"),
    ]
    assert all(f.required for f in header)


def test_annex2_has_seven_fields(forms: dict[str, FormSpec]) -> None:
    """附件2 (联络员表) has seven blanks: the unit name and six liaison fields."""
    spec = forms["annex2"]
    assert len(spec.fields) == 7
    assert [f.kind for f in spec.header] == ["unit"]
    assert {"person", "mobile", "email"} <= {f.kind for f in spec.body_fields}


def test_ids_and_labels_are_unique_within_each_form(forms: dict[str, FormSpec]) -> None:
    """Field ids (defined names) and labels (rollup column names) never repeat within a form."""
    for spec in forms.values():
        ids = [f.id for f in spec.fields]
        labels = [f.label for f in spec.fields]
        assert len(set(ids)) == len(ids), spec.id
        assert len(set(labels)) == len(labels), spec.id


def test_every_count_has_a_unit_of_measure(forms: dict[str, FormSpec]) -> None:
    """Every whole-number field of 附件1 carries the unit (次, 人次, 篇…) printed beside its blank."""
    missing = [f.id for f in forms["annex1"].body_fields if f.kind == "count" and not f.unit]
    assert missing == []


def test_rule_pairs_are_sessions_then_participants_of_one_section(forms: dict[str, FormSpec]) -> None:
    """Each cross-field pair is (场/次 count, 人/人次 count) from the same 活动项目, as the spec comment says."""
    spec = forms["annex1"]
    assert spec.rules, "附件1 should carry the sessions/participants rules"
    for rule in spec.rules:
        for first, second in rule.pairs:
            a, b = spec.field(first), spec.field(second)
            assert a.section == b.section, (first, second)
            assert a.unit in SESSION_UNITS, (first, a.unit)
            assert b.unit in PARTICIPANT_UNITS, (second, b.unit)


def test_both_forms_name_a_deadline_that_campaign_defines(
    forms: dict[str, FormSpec], campaign: Campaign
) -> None:
    """Each form's ``deadline`` key exists in campaign.toml's [deadlines]."""
    assert {spec.deadline for spec in forms.values()} <= set(campaign.deadlines)


def test_version_depends_on_content_not_on_path(tmp_path: Path) -> None:
    """A copy elsewhere has the same version; changing a label changes it."""
    copy = tmp_path / "annex1.toml"
    shutil.copyfile(ANNEX1, copy)
    changed = tmp_path / "changed.toml"
    changed.write_text(ANNEX1_TEXT.replace("篇数", "篇目数", 1), encoding="utf-8")
    original = load_spec(ANNEX1)
    assert load_spec(copy).version == original.version
    assert load_spec(changed).version != original.version


def _write_mutated(tmp_path: Path, old: str, new: str) -> Path:
    assert old in ANNEX1_TEXT, f"the mutation no longer applies to annex1.toml: {old!r}"
    path = tmp_path / "annex1.toml"
    path.write_text(ANNEX1_TEXT.replace(old, new, 1), encoding="utf-8")
    return path


MALFORMED = {
    "unknown key": (
        '[[sections.fields]]\nid = "s1_center_study_times"',
        '[[sections.fields]]\ncolour = "red"\nid = "s1_center_study_times"',
        ["sections[0].fields[0].colour", "colour"],
    ),
    "duplicate id": ('id = "contact"', 'id = "s1_film_people"', ["s1_film_people", "重复"]),
    "placeholder with no field": (
        "（{s1_film_people}）", "（{s1_film_viewers}）", ["sections[0].sentence", "{s1_film_viewers}"],
    ),
    "field with no placeholder": (
        "发表心得体会（{s1_reflection_articles}）篇；", "", ["sections[0].fields.s1_reflection_articles"],
    ),
    "bad kind": (
        'label = "理论学习中心组学习·次数"\nunit = "次"\nkind = "count"',
        'label = "理论学习中心组学习·次数"\nunit = "次"\nkind = "number"',
        ["sections[0].fields[0].kind", "number"],
    ),
    "bad unit": ('unit = "人次"', 'unit = "人数"', ["sections[0].fields[1].unit", "人数"]),
    "bad severity": ('severity = "警告"', 'severity = "提示"', ["rules[0].severity"]),
    "rule pair naming a missing field": (
        '["s1_center_study_times", "s1_center_study_people"]',
        '["s1_center_study_times", "s1_center_study_folk"]',
        ["rules[0].pairs.s1_center_study_folk"],
    ),
    "rule pair on a text field": (
        '["s4_warning_film_sessions", "s4_warning_film_people"]',
        '["s4_warning_film_sessions", "s4_case_details"]',
        ["rules[0].pairs.s4_case_details", "count"],
    ),
    "bad check": ('check = "second_ge_first"', 'check = "second_gt_first"', ["rules[0].check", "second_gt_first"]),
    "duplicate label": (
        'label = "理论学习中心组学习·参与人次"', 'label = "理论学习中心组学习·次数"',
        ["s1_center_study_people", "理论学习中心组学习·次数"],
    ),
    "duplicate section id": ('id = "s2"', 'id = "s1"', ["sections.id"]),
    "placeholders out of order": (
        "学习（{s1_center_study_times}）次，参与（{s1_center_study_people}）人次",
        "学习（{s1_center_study_people}）次，参与（{s1_center_study_times}）人次",
        ["sections[0].sentence", "顺序"],
    ),
    "id shaped like a cell": ('id = "contact"', 'id = "ab12"', ["header[1].id", "ab12"]),
    "id shaped like an R1C1 reference": ('id = "contact"', 'id = "r1c1"', ["header[1].id", "r1c1"]),
    "id that is a bare R": ('id = "contact"', 'id = "r"', ["header[1].id", "“r”"]),
    "required not a boolean": (
        'kind = "person"\nrequired = true', 'kind = "person"\nrequired = "yes"', ["header[1].required"],
    ),
    "unknown top-level table": ("[form]\n", "[extras]\nx = 1\n\n[form]\n", ["extras"]),
    "missing form title": ('title = "“安全生产月”活动情况统计表"\n', "", ["form.title"]),
}


def _assert_rejected(tmp_path: Path, old: str, new: str, expected: list[str]) -> None:
    path = _write_mutated(tmp_path, old, new)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message


@pytest.mark.parametrize(("old", "new", "expected"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_loader_rejects_malformed_spec_naming_file_and_key(
    tmp_path: Path, old: str, new: str, expected: list[str]
) -> None:
    """A broken copy of annex1.toml raises SpecError naming the file and the offending key or id."""
    _assert_rejected(tmp_path, old, new, expected)


def test_loader_rejects_invalid_toml_naming_the_file(tmp_path: Path) -> None:
    """A file that is not TOML at all gives a SpecError with its path, not a traceback."""
    path = _write_mutated(tmp_path, 'id = "annex1"', 'id = "annex1')
    with pytest.raises(SpecError, match="TOML") as caught:
        load_spec(path)
    assert str(path) in str(caught.value)


def test_loader_reports_a_missing_file(tmp_path: Path) -> None:
    """A missing spec file gives a SpecError with its path."""
    path = tmp_path / "nowhere.toml"
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(path) in str(caught.value)


def test_load_forms_requires_form_id_to_match_file_name(tmp_path: Path) -> None:
    """annex2.toml whose [form] id says otherwise is rejected, naming form.id."""
    shutil.copyfile(ANNEX1, tmp_path / "annex1.toml")
    annex2 = (FORMS_DIR / "annex2.toml").read_text(encoding="utf-8")
    assert 'id = "annex2"' in annex2
    (tmp_path / "annex2.toml").write_text(annex2.replace('id = "annex2"', 'id = "annex3"', 1), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_forms(tmp_path)
    assert "form.id" in str(caught.value)
    assert str(tmp_path / "annex2.toml") in str(caught.value)


# ----------------------------------------------------------------------------- 进展情况 sentences

# The eight 进展情况 sentences of 附件1 exactly as the plan text prints them (typos included), one per
# 活动项目; ``test_notice_sentences_are_the_plan_text`` checks them against the plan file where it exists.
NOTICE_SENTENCES = (
    "理论学习中心组学习（）次，参与（）人次；专题学习观看《生命重于泰山——学习习近平总书记关于安全生产重要论述》电视专题片（）场，参与（）人次；发表心得体会（）篇；开展安全生产“大讲堂“大家谈“公开课“微课堂”和在线访谈、基层宣讲（）场，参与（）人次。",
    "开展企业主要负责人“安全承诺践诺”活动（）场，参与（）人次；组织开展全员应急救援演练（）场，参与（）人次；开展“动火作业风险我知道”宣传活动（）场，参与（）人次；对电焊工等危险作业人员开展安全培训（）场，参与（）人次；开展各类知识技能培训（）场，参与（）人次；企业主要负责人参与隐患排查（）场次，发现隐患问题（）条；报道企业主要负责人“五带头”（）次；",
    "总结经验做法（）个，宣传推广经验做法（）个；开展动火等危险作业排查（）场次，参与（）人次；开展“外包外租大排查”（）场次，参与（）人次。对（）个企业开展安全风险隐患排查，排查整治安全风险隐患（）个；开展暗查暗访、突击检查、随机抽查（）次，打击（）个非法违法生产经营建设行为。",
    "曝光问题隐患（）条，市级主流媒体曝光典型案例（）个，媒体转发报道（）篇；典型案例具体为（），每月报送；组织观看典型事故警示教育片（）场，参与（）人次；组织参观警示教育展览（）场，参与（）人次；开展“专题行”（）次、“区域行”（）次、“网上行”（）次。",
    "开展安全宣传咨询活动（）场，参与（）人次；邀请主流媒体和网络直播平台开展“主播走一线”等专题专访报道活动（）场、线上线下（）人次参与；创新开展线上活动（）场，参与（）人次；悬挂、张贴、发放各类宣传资料（）张（条）。",
    "参与“人人讲安全个个会应急”网络知识竞赛（）人，答题（）人次；参加线上“逃生演练训练营”活动发布视频（）个；制作各类安全宣传产品（）部，开展灾害避险逃生、自救互救演练（）场，参与（）人次；新申报安全文化示范企业（）家，开展安全宣传“五个一”活动（）场，参与（）人。",
    "召开警示教育大会（）次，受众（）人；（）家企业在安全生产月期间开展安全生产警示教活动（）次，参与（）人；查找安全管理和风险管控方面存在问题（）条；悬挂安全生产举报条幅、标语（）个，播放安全生举报奖励政策（）条次，受众（）人；",
    "有志愿者队伍（）个，（）人次；制作涉及家庭安全的短片、视频、美图、动漫、公益|广告等安全文化精品（）个，推广展开或播放（）次，受众约（）人（）个单位开展了“安全同行”公益宣传活动；地方道路两侧悬挂安全条幅、标语（）个；在道路宣传电子屏播放安全提示、安全知识（）条；发放安全类实用宣传品（）个；",
)
PLAN_DIR = Path(__file__).resolve().parents[2] / "shared" / "plan"
# The sentence fixes listed in annex1.toml's header comment (old -> new), applied to the notice's wording.
SENTENCE_FIXES = (
    ("“大讲堂“大家谈“公开课“微课堂”", "“大讲堂”“大家谈”“公开课”“微课堂”"),
    ("警示教活动", "警示教育活动"),
    ("播放安全生举报奖励政策", "播放安全生产举报奖励政策"),
    ("公益|广告", "公益广告"),
    ("受众约（）人（）个单位开展了", "受众约（）人；（）个单位开展了"),
)
_PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)\}")


def _blanked(sentence: str) -> str:
    """A spec sentence with its placeholders emptied, as printed in the notice: （{x}） -> （）."""
    return _PLACEHOLDER.sub("", sentence)


def test_notice_sentences_are_the_plan_text() -> None:
    """The sentences quoted in this test are, in order, the lines of the plan text that hold （） blanks."""
    plans = sorted(PLAN_DIR.glob("*.txt")) if PLAN_DIR.is_dir() else []
    if not plans:
        pytest.skip(f"needs the 2023 plan text (the notice this tool was built from, a .txt file) in {PLAN_DIR}; "
                    "it is not part of the repository. Copy it there to compare the form's sentences with it. "
                    "The other spec tests check the same sentences against the copy quoted in this file.")
    found = [line.strip() for line in plans[0].read_text(encoding="utf-8").splitlines() if "（）" in line]
    assert tuple(found) == NOTICE_SENTENCES


def _worded(forms: dict[str, FormSpec], campaign: Campaign) -> FormSpec:
    """附件1 with the 2023 campaign's words ({theme}, {year}, {edition}) filled in, as the notice printed it."""
    return forms["annex1"].for_campaign(campaign.year, campaign.theme, campaign.edition)


def test_sentence_original_rebuilds_the_notice_wording(forms: dict[str, FormSpec], campaign: Campaign) -> None:
    """Every section's sentence_original, with the 2023 campaign's words and its blanks emptied, is the notice's
    sentence, character for character."""
    sections = _worded(forms, campaign).sections
    assert len(sections) == len(NOTICE_SENTENCES)
    for section, notice in zip(sections, NOTICE_SENTENCES, strict=True):
        assert _blanked(section.sentence_original) == notice, section.id


def test_sentence_is_the_notice_wording_with_the_listed_fixes(forms: dict[str, FormSpec], campaign: Campaign) -> None:
    """Every section's fixed sentence is the notice's sentence after exactly the fixes the spec header lists."""
    for old, new in SENTENCE_FIXES:
        assert f'"{old}" -> "{new}"' in ANNEX1_TEXT.split("[form]")[0], f"fix not listed in the spec header: {old}"
        assert sum(old in s for s in NOTICE_SENTENCES) == 1, old
    for section, notice in zip(_worded(forms, campaign).sections, NOTICE_SENTENCES, strict=True):
        fixed = notice
        for old, new in SENTENCE_FIXES:
            fixed = fixed.replace(old, new)
        assert _blanked(section.sentence) == fixed, section.id


def test_sentence_blanks_cover_all_75_fields_once(forms: dict[str, FormSpec], campaign: Campaign) -> None:
    """Across the eight sections each wording's blanks name all 75 body fields, each exactly once and in order."""
    spec = _worded(forms, campaign)
    ids = [f.id for f in spec.body_fields]
    assert len(ids) == 75
    for wording in ("sentence", "sentence_original"):
        named = [ph for s in spec.sections for ph in _PLACEHOLDER.findall(getattr(s, wording))]
        assert named == ids, wording


def test_every_blank_is_written_inside_full_width_brackets(forms: dict[str, FormSpec], campaign: Campaign) -> None:
    """Each field placeholder stands inside （）, as the notice prints its blanks, in both wordings."""
    for section in _worded(forms, campaign).sections:
        for wording in section.wordings:
            assert wording.count("{") == len(section.fields), section.id
            assert len(re.findall(r"（\{[a-z0-9_]+\}）", wording)) == len(section.fields), section.id


def test_wordings_lists_each_distinct_wording_once(forms: dict[str, FormSpec]) -> None:
    """A section whose notice wording needed no fix has one wording; a fixed one has two, the fixed first."""
    for section in forms["annex1"].sections:
        expected = 1 if section.sentence == section.sentence_original else 2
        assert len(section.wordings) == expected, section.id
        assert section.wordings[0] == section.sentence
    assert all(s.wordings == () for s in forms["annex2"].sections)


def test_version_ignores_sentence_original(tmp_path: Path) -> None:
    """Dropping or editing sentence_original keeps the content version, so issued templates stay current."""
    dropped = tmp_path / "dropped.toml"
    dropped.write_text(re.sub(r"^sentence_original = .*\n", "", ANNEX1_TEXT, flags=re.MULTILINE), encoding="utf-8")
    edited = tmp_path / "edited.toml"
    edited.write_text(ANNEX1_TEXT.replace("警示教活动", "警示教 活动", 1), encoding="utf-8")
    assert "\nsentence_original =" not in dropped.read_text(encoding="utf-8")
    version = load_spec(ANNEX1).version
    assert load_spec(dropped).version == version
    assert load_spec(edited).version == version


SENTENCE_MALFORMED = {
    "unknown placeholder in sentence_original": (
        "理论学习中心组学习（{s1_center_study_times}）次，参与（{s1_center_study_people}）人次；专题学习观看《生命重于泰山——学习习近平总书记关于安全生产重要论述》电视专题片（{s1_film_sessions}）场，参与（{s1_film_people}）人次；发表心得体会（{s1_reflection_articles}）篇；开展安全生产“大讲堂“",
        "理论学习中心组学习（{s1_center_study_timez}）次，参与（{s1_center_study_people}）人次；专题学习观看《生命重于泰山——学习习近平总书记关于安全生产重要论述》电视专题片（{s1_film_sessions}）场，参与（{s1_film_people}）人次；发表心得体会（{s1_reflection_articles}）篇；开展安全生产“大讲堂“",
        ["sections[0].sentence_original", "{s1_center_study_timez}"],
    ),
    "placeholder of another section": (
        "警示教活动（{s7_warning_activities}）次", "警示教活动（{s1_film_people}）次",
        ["sections[6].sentence_original", "{s1_film_people}"],
    ),
    "field missing from sentence_original": (
        "公益|广告等安全文化精品（{s8_culture_works}）个，", "公益|广告等安全文化精品（）个，",
        ["sections[7].fields.s8_culture_works", "sentence_original"],
    ),
    "field twice in sentence_original": (
        "受众约（{s8_culture_audience}）人（{s8_campaign_units}）个", "受众约（{s8_campaign_units}）人（{s8_campaign_units}）个",
        ["sections[7].fields.s8_culture_audience", "sentence_original"],
    ),
    "sentence_original out of order": (
        "播放安全生举报奖励政策（{s7_policy_broadcasts}）条次，受众（{s7_policy_audience}）人",
        "播放安全生举报奖励政策（{s7_policy_audience}）条次，受众（{s7_policy_broadcasts}）人",
        ["sections[6].sentence_original", "顺序"],
    ),
    "unpaired brace": ("警示教活动（{s7_warning_activities}）次", "警示教活动（{s7_warning_activities}）次}",
                       ["sections[6].sentence_original", "花括号"]),
    "sentence_original not text": ('sentence_original = "召开', 'sentence_original = 1\n# "召开',
                                   ["sections[6].sentence_original"]),
}


@pytest.mark.parametrize(("old", "new", "expected"), list(SENTENCE_MALFORMED.values()), ids=list(SENTENCE_MALFORMED))
def test_loader_rejects_bad_sentence_original_naming_file_and_section(
    tmp_path: Path, old: str, new: str, expected: list[str]
) -> None:
    """A bad placeholder in the notice wording raises SpecError naming the file and the section's key."""
    _assert_rejected(tmp_path, old, new, expected)


def test_loader_rejects_sentence_original_without_sentence(tmp_path: Path) -> None:
    """A section that gives only the notice wording, without the fixed sentence, is rejected."""
    path = tmp_path / "annex1.toml"
    text = re.sub(r'^sentence = "理论学习.*$', 'sentence = ""', ANNEX1_TEXT, count=1, flags=re.MULTILINE)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match=r"sections\[0\]\.sentence_original") as caught:
        load_spec(path)
    assert str(path) in str(caught.value)
