"""The unit roster: units.csv as shipped, the .xlsx variant, and every kind of bad row."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest

from pipeline.errors import RosterError
from pipeline.settings.roster import COLUMNS, Roster, load_roster

UNITS_CSV = Path(__file__).resolve().parents[1] / "units.csv"
CSV_TEXT = UNITS_CSV.read_text(encoding="utf-8")
LINES = CSV_TEXT.splitlines()
RECORDS = list(csv.reader(LINES))


def _write(tmp_path: Path, lines: list[str], name: str = "units.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _with_row(line_number: int, **changes: str) -> list[str]:
    """The real roster with fields of one line (1-based, header = line 1) replaced."""
    records = [list(r) for r in RECORDS]
    record = records[line_number - 1]
    for column, value in changes.items():
        record[COLUMNS.index(column)] = value
    return [",".join(r) for r in records]


def _units(roster: Roster) -> list[tuple[str, str, str, str]]:
    return [(u.code, u.name, u.category, u.email) for u in roster]


def test_real_roster_loads_every_data_row(roster: Roster) -> None:
    """units.csv loads with one unit per data line, in file order, with header columns as given."""
    assert RECORDS[0] == list(COLUMNS)
    assert _units(roster) == [tuple(r) for r in RECORDS[1:]]
    assert len(roster) == 20


def test_a_unit_without_email_is_accepted(roster: Roster) -> None:
    """An empty 邮箱 is allowed (U013 has none): templates then go out by other means."""
    unit = roster.by_code("U013")
    assert unit is not None
    assert unit.email == ""


def test_lookup_by_name_folds_full_width_and_spaces(roster: Roster) -> None:
    """by_name finds a unit typed with full-width letters/digits or stray spaces, never a fuzzy guess."""
    assert roster.by_name("Ｓ２３１线清河段改建工程项目经理部") == roster.by_code("U011")
    assert roster.by_name(" 清河县 顺达货物运输有限公司　") == roster.by_code("U001")
    assert roster.by_name("清河县顺达货运有限公司") is None
    assert "清河县顺达货物运输有限公司" in roster.closest_names("清河县顺达货运有限公司")


def test_utf8_with_bom_gives_the_same_units(tmp_path: Path, roster: Roster) -> None:
    """A CSV saved by Excel as 'CSV UTF-8' (with a byte-order mark) reads the same as without."""
    path = tmp_path / "units-bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + UNITS_CSV.read_bytes())
    assert _units(load_roster(path)) == _units(roster)


def test_xlsx_roster_gives_the_same_units(tmp_path: Path, roster: Roster) -> None:
    """The same table saved as .xlsx (empty e-mail as an empty cell) gives the same units as the CSV."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for record in RECORDS:
        ws.append([value if value else None for value in record])
    path = tmp_path / "units.xlsx"
    wb.save(path)
    assert _units(load_roster(path)) == _units(roster)


def test_xlsx_roster_reports_the_excel_row(tmp_path: Path) -> None:
    """In an .xlsx roster, 第N行 is the spreadsheet row number of the bad row."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(list(COLUMNS))
    ws.append(["U001", "甲单位", "运输企业", "a@example.com"])
    ws.append(["U002", "乙单位", "运输企业", None])
    ws.append(["U001", "丙单位", "运输企业", None])
    path = tmp_path / "units.xlsx"
    wb.save(path)
    with pytest.raises(RosterError, match="第4行") as caught:
        load_roster(path)
    assert "U001" in str(caught.value)


BAD_ROWS = {
    "duplicate code": (_with_row(4, 单位编码="U001"), 4, ["单位编码", "U001", "重复", "第2行"]),
    "duplicate name": (
        _with_row(6, 单位名称=RECORDS[2][1]), 6, ["单位名称", RECORDS[2][1], "重复", "第3行"],
    ),
    "name repeated with full-width letters": (
        _with_row(13, 单位名称="Ｓ２３１线清河段改建工程项目经理部"), 13, ["重复", "第12行"],
    ),
    "name repeated with a space inside": (
        _with_row(21, 单位名称="清河县 汽车客运总站"), 21, ["重复", "第8行"],
    ),
    "blank name": (_with_row(5, 单位名称=""), 5, ["单位名称为空"]),
    "blank code": (_with_row(7, 单位编码=" "), 7, ["单位编码为空"]),
    "malformed email": (_with_row(9, 邮箱="u008@example"), 9, ["邮箱", "u008@example", "格式不正确"]),
    "email with a Chinese comma": (_with_row(3, 邮箱="u002@example，com"), 3, ["邮箱", "格式不正确"]),
    "unquoted comma in a name": ([*LINES[:4], LINES[4].replace(RECORDS[4][1], RECORDS[4][1] + ",第二工区", 1),
                                  *LINES[5:]], 5, ["5 列", "多于表头的 4 列", "引号"]),
}


@pytest.mark.parametrize(("lines", "row", "expected"), list(BAD_ROWS.values()), ids=list(BAD_ROWS))
def test_bad_row_is_rejected_with_row_number_and_reason(
    tmp_path: Path, lines: list[str], row: int, expected: list[str]
) -> None:
    """A bad row raises RosterError naming the file, the row (第N行) and what is wrong."""
    path = _write(tmp_path, lines)
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"第{row}行" in message
    for fragment in expected:
        assert fragment in message


def test_row_numbers_count_blank_lines(tmp_path: Path) -> None:
    """Blank lines are skipped but still counted, so 第N行 is the line an editor shows."""
    lines = _with_row(4, 单位编码="U001")
    lines.insert(2, "")  # the duplicate moves from line 4 to line 5
    path = _write(tmp_path, lines)
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    assert "第5行" in str(caught.value)
    assert "第2行" in str(caught.value)


def test_blank_lines_and_empty_rows_are_ignored(tmp_path: Path, roster: Roster) -> None:
    """A blank line or a row of empty cells (as Excel writes ",,,") adds no unit and no error."""
    lines = [*LINES[:5], "", ",,,", *LINES[5:], ""]
    assert _units(load_roster(_write(tmp_path, lines))) == _units(roster)


def test_missing_column_is_named(tmp_path: Path) -> None:
    """A roster without the 邮箱 column is rejected naming that column and the expected header."""
    lines = [",".join(r[:3]) for r in RECORDS]
    path = _write(tmp_path, lines)
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    message = str(caught.value)
    assert str(path) in message
    assert "缺少列：邮箱" in message
    assert ",".join(COLUMNS) in message


def test_header_only_roster_is_rejected(tmp_path: Path) -> None:
    """A roster with a header but no units is an error, not an empty run."""
    with pytest.raises(RosterError, match="没有任何单位"):
        load_roster(_write(tmp_path, LINES[:1]))


def test_undecodable_csv_gives_a_clear_error(tmp_path: Path) -> None:
    """Bytes that are neither UTF-8 nor GB18030 are refused naming the encodings tried and how to re-save, not a traceback."""
    path = tmp_path / "units-broken.csv"
    path.write_bytes(CSV_TEXT.encode("gbk") + b"\x80")
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    message = str(caught.value)
    assert message == (f"单位名录 {path} 的文字编码无法识别（已依次按 UTF-8、GBK、GB18030 读取，均不成功：按 GB18030 读取时，"
                       f"第 {len(CSV_TEXT.encode('gbk')) + 1} 个字节起无法解读）。请在 Excel 中打开该文件，"
                       "“另存为”选择“CSV UTF-8（逗号分隔）”或“Excel 工作簿”后再试。")


def test_missing_file_is_reported(tmp_path: Path) -> None:
    """A roster path that does not exist names the path and the --roster option."""
    path = tmp_path / "nowhere.csv"
    with pytest.raises(RosterError, match="--roster") as caught:
        load_roster(path)
    assert str(path) in str(caught.value)


def test_alias_column_is_optional_and_split_at_either_semicolon(tmp_path: Path) -> None:
    """The 别名 column may list several aliases, separated by “;” or “；”; each finds its unit through by_name."""
    path = tmp_path / "units.csv"
    path.write_text("单位编码,单位名称,类别,邮箱,别名\nU019,清河县永安出租汽车有限公司,运输企业,,永安出租；永安的哥; 永安公司 \n"
                    "U015,清河县公路管理站,局属单位,,\n", encoding="utf-8")
    roster = load_roster(path)
    assert [u.aliases for u in roster] == [("永安出租", "永安的哥", "永安公司"), ()]
    assert roster.by_name("永安的哥") == roster.by_name("永安公司（盖章）") == roster.by_code("U019")
    assert roster.by_alias("清河县公路管理站") is None


def test_xlsx_roster_reads_the_alias_column(tmp_path: Path) -> None:
    """A roster saved as an Excel workbook carries its 别名 column too."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["单位编码", "单位名称", "类别", "邮箱", "别名"])
    ws.append(["U019", "清河县永安出租汽车有限公司", "运输企业", None, "永安出租;永安的哥"])
    wb.save(tmp_path / "units.xlsx")
    roster = load_roster(tmp_path / "units.xlsx")
    assert roster.by_name("永安的哥") == roster.by_code("U019")


def test_alias_equal_to_another_unit_s_name_is_rejected(tmp_path: Path) -> None:
    """An alias that is another unit's name (or alias) could identify either: RosterError naming the row."""
    path = tmp_path / "units.csv"
    path.write_text("单位编码,单位名称,类别,邮箱,别名\nU015,清河县公路管理站,局属单位,,\n"
                    "U016,清河县农村公路服务中心,局属单位,,清河县公路管理站\n", encoding="utf-8")
    with pytest.raises(RosterError, match=r"第3行.*别名“清河县公路管理站”与第2行"):
        load_roster(path)
