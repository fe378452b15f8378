"""Load the unit roster (``units.csv`` or an ``.xlsx`` with the same columns) and match unit names."""

from __future__ import annotations

import csv
import difflib
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import RosterError
from pipeline.settings.textfile import UndecodableTextError, delimiter, read_text

DEFAULT_PATH = Path("units.csv")
COLUMNS = ("单位编码", "单位名称", "类别", "邮箱")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")
# Several addresses of one unit are separated by a semicolon, ASCII or full-width.
EMAIL_SEPARATOR_RE = re.compile(r"[;；]")
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class Unit:
    """One subordinate unit on the roster."""

    code: str
    name: str
    category: str
    email: str  # the first address: where mail to the unit goes
    emails: tuple[str, ...] = ()  # every address the unit writes from (the 邮箱 column, split at “;”)

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every address of the unit (``email`` alone when ``emails`` was not given)."""
        return self.emails or ((self.email,) if self.email else ())


def normalise_name(name: str) -> str:
    """Fold full-width characters, spaces and bracket styles so that typing variants compare equal."""
    folded = unicodedata.normalize("NFKC", name)
    folded = folded.replace("〔", "(").replace("〕", ")").replace("【", "(").replace("】", ")")
    return _SPACE_RE.sub("", folded).lower()


class Roster:
    """The roster in file order, with lookups by code and by normalised name."""

    def __init__(self, units: list[Unit], path: Path, encoding: str = "") -> None:
        self.units = units
        self.path = path
        self.encoding = encoding  # how the file was saved, as the summary names it (编码 GBK, Excel 工作簿…)
        self._by_code = {u.code: u for u in units}
        self._by_name = {normalise_name(u.name): u for u in units}
        by_email: dict[str, list[Unit]] = {}
        for u in units:
            for address in u.addresses:
                by_email.setdefault(address.lower(), []).append(u)
        # An address shared by several units identifies none of them.
        self._by_email = {address: found[0] for address, found in by_email.items() if len(found) == 1}

    def __iter__(self) -> Iterator[Unit]:
        return iter(self.units)

    def __len__(self) -> int:
        return len(self.units)

    def by_code(self, code: str) -> Unit | None:
        """The unit with this code, if any."""
        return self._by_code.get(code.strip())

    def by_name(self, name: str) -> Unit | None:
        """The unit whose name equals this one after normalisation; never a fuzzy guess."""
        return self._by_name.get(normalise_name(name))

    def by_email(self, address: str) -> Unit | None:
        """The one unit with this 邮箱 (compared case-insensitively), if exactly one has it."""
        return self._by_email.get(address.strip().lower())

    def closest_names(self, name: str, n: int = 3) -> list[str]:
        """Roster names that look like ``name``, for a suggestion in an error message."""
        keys = list(self._by_name)
        hits = difflib.get_close_matches(normalise_name(name), keys, n=n, cutoff=0.4)
        return [self._by_name[k].name for k in hits]


WORKBOOK = "Excel 工作簿"


def roster_line(roster: Roster) -> str:
    """The summary's line on the roster: where it is, how many units, how it was saved (编码 GBK…)."""
    how = f"，{roster.encoding}" if roster.encoding else ""
    return f"单位名录 {roster.path}：{len(roster)} 个单位{how}。"


def _read_rows(path: Path) -> tuple[list[list[str]], str]:
    """Every row of the roster as text, the header first, and how the file was saved.

    Blank rows stay, so row numbers match the file. A CSV may be UTF-8 (with or without BOM),
    GBK/GB18030 or UTF-16 tab-separated (Excel's “Unicode 文本”), see :mod:`pipeline.settings.textfile`.
    Through the csv module and openpyxl, not pandas, so that ``make templates`` starts without importing pandas.
    """
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            return [["" if v is None else str(v) for v in row]
                    for row in wb.worksheets[0].iter_rows(min_row=1, values_only=True)], WORKBOOK
        finally:
            wb.close()
    decoded = read_text(path)
    tab = delimiter(decoded.text) == "\t"
    # newline="" lets csv handle line breaks inside quoted cells; a blank line reads as an empty row.
    rows = list(csv.reader(io.StringIO(decoded.text, newline=""), delimiter="\t" if tab else ","))
    return rows, f"编码 {decoded.label}" + ("，制表符分隔" if tab else "")


def _table(path: Path) -> tuple[list[str], list[list[str]], str]:
    """The header, the data rows (each padded to the header's width) and the file's encoding."""
    try:
        rows, encoding = _read_rows(path)
    except FileNotFoundError:
        raise RosterError(f"找不到单位名录 {path}，请用 --roster 指定。") from None
    except UndecodableTextError as exc:
        raise RosterError(f"单位名录 {path} 的文字编码无法识别（已依次按 UTF-8、GBK、GB18030 读取，均不成功：{exc}）。"
                          "请在 Excel 中打开该文件，“另存为”选择“CSV UTF-8（逗号分隔）”或“Excel 工作簿”后再试。") from None
    except (ValueError, csv.Error, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise RosterError(f"单位名录 {path} 无法读取（请保存为 CSV 或 .xlsx）：{exc}") from None
    header = [c.strip() for c in rows[0]] if rows else []
    body = rows[1:]
    for number, row in enumerate(body, start=2):
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header):]):
            raise RosterError(f"单位名录 {path} 第{number}行有 {len(row)} 列，多于表头的 {len(header)} 列"
                              "（可能是单位名称中含有英文逗号而没有加引号），请更正后再试。")
    return header, [row + [""] * (len(header) - len(row)) for row in body], encoding


def load_roster(path: Path = DEFAULT_PATH) -> Roster:
    """Read and check the roster, raising :class:`RosterError` with the row number and reason."""
    header, body, encoding = _table(path)
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise RosterError(f"单位名录 {path} 缺少列：{'、'.join(missing)}。第一行应为：{','.join(COLUMNS)}。")
    positions = [header.index(c) for c in COLUMNS]
    units: list[Unit] = []
    codes: dict[str, int] = {}
    names: dict[str, int] = {}
    for index, row in enumerate(body, start=2):
        code, name, category, email = (row[i].strip() for i in positions)
        if not (code or name or category or email):
            continue  # a wholly blank row (blank line in the CSV, empty row in the sheet)
        where = f"单位名录 {path} 第{index}行"
        if not code:
            raise RosterError(f"{where}：单位编码为空。")
        if not name:
            raise RosterError(f"{where}：单位名称为空。")
        if code in codes:
            raise RosterError(f"{where}：单位编码“{code}”与第{codes[code]}行重复。")
        key = normalise_name(name)
        if key in names:
            raise RosterError(f"{where}：单位名称“{name}”与第{names[key]}行重复。")
        emails = tuple(e.strip() for e in EMAIL_SEPARATOR_RE.split(email) if e.strip())
        for address in emails:
            if not EMAIL_RE.match(address):
                raise RosterError(f"{where}：邮箱“{address}”格式不正确，应形如 name@example.com"
                                  "（一个单位有多个邮箱时用分号“;”隔开）。")
        codes[code] = index
        names[key] = index
        units.append(Unit(code, name, category, emails[0] if emails else "", emails))
    if not units:
        raise RosterError(f"单位名录 {path} 中没有任何单位。")
    return Roster(units, path, encoding)
