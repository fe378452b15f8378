"""The form specs: the real annex1/annex2 content, and the loader's rejection of malformed files."""

from __future__ import annotations

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


@pytest.mark.parametrize(("old", "new", "expected"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_loader_rejects_malformed_spec_naming_file_and_key(
    tmp_path: Path, old: str, new: str, expected: list[str]
) -> None:
    """A broken copy of annex1.toml raises SpecError naming the file and the offending key or id."""
    path = _write_mutated(tmp_path, old, new)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message


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
