"""Which unit a return belongs to (pipeline.units.identity, issue #15 item 3): content, path, sender, 别名, fuzzy."""

from __future__ import annotations

from pathlib import Path

import pytest
from returns import UNITS_CSV, clean_values, make_return, outcomes, rollup, settings, spec, statuses, submission

from pipeline.model import Outcome, Severity, Submission
from pipeline.settings.roster import Roster, load_roster
from pipeline.units.attribution import names_evidence
from pipeline.units.identity import check_identity


def _identified(typed: str | None, file: str = "附件1.xlsx", roster: Roster | None = None, sender: str = "",
                meta_code: str = "") -> Submission:
    """A generic 附件1 with ``typed`` as 填报单位, saved as ``file``, after the identity check."""
    _, campaign, default = settings()
    sub = submission("annex1", clean_values("annex1", unit_name=typed), unit_code=None, file=file)
    sub.unit = None
    sub.meta = {"unit_code": meta_code} if meta_code else {}
    check_identity(sub, spec("annex1"), campaign, roster or default, sender=sender)
    return sub


def _rules(sub: Submission) -> set[tuple[str, str]]:
    return {(f.severity, f.rule) for f in sub.findings}


def _code(sub: Submission) -> str | None:
    return sub.unit.code if sub.unit else None


@pytest.mark.parametrize("typed", ["清河县永安出租汽车有限公司（盖章）", "清河县永安出租汽车有限公司(公章)",
                                   "清河县永安出租汽车有限公司 （ 盖章 ）", "清河县永安出租汽车有限公司（单位盖章）",
                                   "ｕ019", "U019"])
def test_seal_notes_spaces_and_codes_identify_the_unit_silently(typed: str) -> None:
    """A seal note, spaces, full-width forms or the bare code in 填报单位 identify the unit with no finding."""
    sub = _identified(typed)
    assert _code(sub) == "U019"
    assert sub.findings == []


def test_close_name_is_accepted_with_a_warning_naming_the_match() -> None:
    """“永安出租车公司” is the one close roster name: counted for U019 with a 警告 naming the unit chosen."""
    sub = _identified("永安出租车公司")
    assert _code(sub) == "U019"
    [finding] = sub.findings
    assert (finding.severity, finding.rule) == (Severity.WARNING, "单位名称不规范")
    assert "永安出租车公司" in finding.message and "清河县永安出租汽车有限公司" in finding.message


@pytest.mark.parametrize("typed", ["汽车客运站", "交通局", "清河县顺达物流中心"])
def test_ambiguous_or_distant_name_stays_unknown(typed: str) -> None:
    """A name close to two units (or to none) is no match: 错误 未知单位."""
    sub = _identified(typed)
    assert sub.unit is None
    assert _rules(sub) == {(Severity.ERROR, "未知单位")}


@pytest.mark.parametrize(
    ("typed", "file"),
    [(None, "U015_附件1.xlsx"), ("县公路站", "附件1_活动情况统计表_U015.xlsx"), ("", "报表/U015/附件1.xlsx"),
     ("县公路站", "附件.zip!/U015附件1.xlsx"), (None, "清河县公路管理站附件1.xlsx"), ("县公路站", "公路管理站/附件1.xlsx")],
)
def test_code_or_name_in_the_path_identifies_the_unit_with_a_warning(typed: str | None, file: str) -> None:
    """With 填报单位 blank or unknown, the code (else the name) in the file, folder or archive-member name decides."""
    sub = _identified(typed, file)
    assert _code(sub) == "U015"
    assert not sub.errors
    if typed:
        [finding] = sub.findings
        assert finding.rule == "按文件名确定单位" and typed in finding.message and "U015" in finding.message


def test_code_in_the_path_outranks_a_name_in_it() -> None:
    """A code in the file name wins over another unit's name in a folder."""
    assert _code(_identified(None, "清河县农村公路服务中心/U015.xlsx")) == "U015"


def test_content_wins_over_the_file_name_with_a_warning_naming_both() -> None:
    """File named U016 but 填报单位 says U017's name: counted for U017, a 警告 naming both units."""
    sub = _identified("清河县道路运输服务中心", "附件1_U016.xlsx")
    assert _code(sub) == "U017"
    [finding] = sub.findings
    assert (finding.severity, finding.rule) == (Severity.WARNING, "单位来源不一致")
    assert "U016" in finding.message and "U017" in finding.message


def test_template_code_wins_over_the_file_name_with_a_warning() -> None:
    """A unit's own template (``_meta``) saved under another unit's code: the template's unit, with a 警告."""
    sub = _identified("清河县道路运输服务中心", "U016.xlsx", meta_code="U017")
    assert _code(sub) == "U017"
    assert _rules(sub) == {(Severity.WARNING, "单位来源不一致")}


def test_sender_address_outranks_names_in_the_path() -> None:
    """With nothing in the form, the sender's roster 邮箱 decides, over a code in the file name, with a 警告 naming both."""
    assert _code(_identified(None, "附件1.xlsx", sender="U015@example.cn")) == "U015"
    sub = _identified(None, "U016.xlsx", sender="u015@example.cn")
    assert _code(sub) == "U015"
    [finding] = sub.findings
    assert finding.rule == "单位来源不一致" and "U015" in finding.message and "U016" in finding.message


def test_sender_disagreeing_with_the_content_is_a_warning() -> None:
    """填报单位 says U017 but the mail came from U015's address: U017, with a 警告 naming both."""
    sub = _identified("清河县道路运输服务中心", sender="u015@example.cn")
    assert _code(sub) == "U017"
    assert _rules(sub) == {(Severity.WARNING, "单位来源不一致")}


def test_two_codes_in_one_name_say_nothing() -> None:
    """A file name carrying two units' codes attributes to neither."""
    assert names_evidence("U015与U016附件1.xlsx", settings()[2], names=False)[0] is None


def _aliased(tmp_path: Path, aliases: str) -> Roster:
    text = UNITS_CSV.read_text(encoding="utf-8").splitlines()
    rows = [text[0] + ",别名", *(line + (f",{aliases}" if line.startswith("U019,") else ",") for line in text[1:])]
    path = tmp_path / "units.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return load_roster(path)


@pytest.mark.parametrize("typed", ["永安出租", "永安的哥", "永安公司（盖章）"])
def test_alias_identifies_the_unit_without_warning(tmp_path: Path, typed: str) -> None:
    """Each alias in the 别名 column (“;” or “；” between them) identifies the unit like its full name."""
    roster = _aliased(tmp_path, "永安出租;永安的哥；永安公司")
    sub = _identified(typed, roster=roster)
    assert _code(sub) == "U019"
    assert sub.findings == []


def test_return_with_a_close_name_and_one_named_by_its_file_are_counted(tmp_path: Path) -> None:
    """End to end: “永安出租车公司” and a blank 填报单位 in a file named U013 both count, each with a 警告."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    close = make_return(inbox, "annex1", None, clean_values("annex1", unit_name="永安出租车公司"), name="a.xlsx")
    by_name = make_return(inbox, "annex1", None, clean_values("annex1", unit_name=None, s1_film_sessions=5),
                          name="U013附件1.xlsx")

    result = rollup(inbox, outbox)

    assert outcomes(result) == {close.name: Outcome.ACCEPTED, by_name.name: Outcome.ACCEPTED}
    table = statuses(outbox)
    assert table[("U019", "annex1")]["status"] == table[("U013", "annex1")]["status"] == "有警告"
    assert result.status("U013", "annex1").counted is not None
    assert result.status("U013", "annex1").counted.values["s1_film_sessions"] == 5  # type: ignore[union-attr]
