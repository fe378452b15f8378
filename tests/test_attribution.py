"""One unit-attribution rule for returns and material (pipeline.units.attribution, issue #20 design items 1 and 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from returns import clean_values, make_return, outcomes, rollup, settings, spec, statuses, submission

from pipeline.model import Outcome, Severity, Submission
from pipeline.settings.roster import Roster, Unit
from pipeline.units.attribution import attribute_file
from pipeline.units.identity import check_identity


def _return(file: str, typed: str | None = None, meta_code: str = "", roster: Roster | None = None) -> Submission:
    """A generic 附件1 saved as ``file`` with ``typed`` as 填报单位 (and ``meta_code`` as its template's unit), identified."""
    _, campaign, default = settings()
    sub = submission("annex1", clean_values("annex1", unit_name=typed), unit_code=None, file=file)
    sub.unit = None
    sub.meta = {"unit_code": meta_code} if meta_code else {}
    check_identity(sub, spec("annex1"), campaign, roster or default)
    return sub


def _material(file: str, roster: Roster | None = None, sender: str = "") -> Submission:
    """A material file saved as ``file`` (attached to a mail from ``sender``'s unit), attributed."""
    _, campaign, default = settings()
    sub = Submission(file=file, path=Path(file), sha256="", mtime=0.0, sender=sender)
    sub.unit = attribute_file(sub, roster or default, campaign.county).unit
    return sub


def _code(sub: Submission) -> str | None:
    return sub.unit.code if sub.unit else None


def test_another_units_template_counts_for_the_unit_that_filled_it(tmp_path: Path) -> None:
    """U002 fills U001's template with its own name: counted for U002 with a 警告 naming both; U001 is not 退回."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    borrowed = make_return(inbox, "annex1", "U001", clean_values("annex1", unit_name="清河县恒通物流运输有限公司"),
                           name="附件1.xlsx")

    result = rollup(inbox, outbox)

    assert outcomes(result) == {borrowed.name: Outcome.ACCEPTED}
    assert _code(result.submissions[0]) == "U002"
    [warning] = [f for f in result.submissions[0].findings if f.rule == "单位不一致"]
    assert warning.severity == Severity.WARNING
    assert "U001" in warning.message and "U002" in warning.message and "已计入U002" in warning.message
    table = statuses(outbox)
    assert table[("U002", "annex1")]["status"] == "有警告"
    assert table[("U001", "annex1")]["status"] == "未报送"


@pytest.mark.parametrize("file", ["报表/U015/附件1.xlsx", "清河县公路管理站/附件1.xlsx", "附件1_U015.xlsx"])
def test_unit_resting_on_names_alone_is_a_warning(file: str) -> None:
    """A return whose 填报单位 is blank and whose unit comes from a folder or file name only gets a 警告 saying so."""
    sub = _return(file)
    assert _code(sub) == "U015"
    [finding] = sub.findings
    assert (finding.severity, finding.rule) == (Severity.WARNING, "按文件名确定单位")
    assert "请核实" in finding.message


@pytest.mark.parametrize("file", [
    "清河县顺达货物运输有限公司/U002_附件1",  # a name in the folder, another unit's code in the file name
    "U003/清河县顺达货物运输有限公司附件1",  # a code in the folder, another unit's name in the file name
    "顺达货物运输有限公司+恒通物流运输有限公司/U002_附件1",
    "城南/2023-06-20/U004/清河县公路管理站",
    "附件.zip!/U013/清河县道路运输服务中心附件1",
])
def test_one_file_never_goes_to_two_units(file: str) -> None:
    """The same path gives the same unit whether the file is a return with a blank 填报单位 or material."""
    assert _code(_return(f"{file}.xlsx")) == _code(_material(f"{file}.jpg"))


def test_sender_outranks_names_for_material_too() -> None:
    """A photo attached to U006's mail but named after U002 is U006's (the sender is stronger evidence)."""
    assert _code(_material("来信.eml!/U002_照片.jpg", sender="U006")) == "U006"
    assert _code(_material("邮件/2023-06-28/U006_清河县某单位/U002_照片.jpg")) == "U006"


def test_a_hand_made_mail_folder_is_still_a_name() -> None:
    """A folder under 邮件/<date>/ named after a unit without its code (saved by hand) names the unit like any folder."""
    assert _code(_material("邮件/2023-06-28/清河县公路管理站/照片.jpg")) == "U015"


def test_typed_name_outranks_the_fetch_folder_with_a_warning() -> None:
    """填报单位 says U017 but fetch filed the mail under U015's folder: U017, with a 警告 naming both."""
    sub = _return("邮件/2023-06-28/U015_清河县公路管理站/附件1.xlsx", typed="清河县道路运输服务中心")
    assert _code(sub) == "U017"
    [finding] = sub.findings
    assert finding.rule == "单位来源不一致" and "U015" in finding.message and "U017" in finding.message


# ----------------------------------------------------------------------------- numbered rosters


@pytest.fixture(scope="module")
def numbered() -> Roster:
    """A roster whose codes are plain numbers 1..20 (the repository's units renumbered)."""
    units = [Unit(str(i), u.name, u.category, u.email, u.emails, u.aliases)
             for i, u in enumerate(settings()[2], start=1)][:20]
    return Roster(units, Path("units.csv"))


@pytest.mark.parametrize("file", ["附件1.xlsx", "表2.xlsx", "2023-06-28/附件3.xlsx", "6.28报表.xlsx",
                                  "2023年附件1.xlsx", "第1批/附件1.xlsx", "3月/附件1.xlsx", "20230628/附件1.xlsx",
                                  "附件 1.xlsx", "附件1（2）.xlsx", "2023.6.28/附件2.xlsx", "6-28/附件1.xlsx",
                                  "3个单位汇总/附件1.xlsx"])
def test_numbers_in_names_are_not_numeric_codes(numbered: Roster, file: str) -> None:
    """With codes “1”, “2”, “3”, an annex number, a table number, a date or a year never names a unit."""
    assert _return(file, roster=numbered).unit is None
    assert _material(file.replace(".xlsx", ".jpg"), roster=numbered).unit is None


@pytest.mark.parametrize(("file", "code"), [("1_附件1.xlsx", "1"), ("12/附件1.xlsx", "12"),
                                            ("3-清河县某单位/附件2.xlsx", "3")])
def test_a_leading_number_is_a_numeric_code(numbered: Roster, file: str, code: str) -> None:
    """A folder or file name that starts with a numeric code, standing alone, names that unit."""
    assert _code(_return(file, roster=numbered)) == code
    assert _code(_material(file.replace(".xlsx", ".jpg"), roster=numbered)) == code


def test_typed_numeric_code_identifies_the_unit(numbered: Roster) -> None:
    """A bare numeric code typed as 填报单位 names its unit, whatever numbers the file name holds."""
    assert _code(_return("附件1.xlsx", typed="7", roster=numbered)) == "7"
