"""Load the unit roster (``units.csv`` or an ``.xlsx`` with the same columns) and match unit names.

The optional ``别名`` column lists other names a unit goes by (“永安出租车公司”), several separated by
“;” or “；”; an alias identifies its unit exactly like the full name. A name that matches no name or alias
may still be matched fuzzily (:meth:`Roster.fuzzy`), which the caller must report as a 警告.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import os
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
ALIAS_COLUMN = "别名"  # optional
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")
# Several addresses of one unit are separated by a semicolon, ASCII or full-width.
EMAIL_SEPARATOR_RE = re.compile(r"[;；]")
_SPACE_RE = re.compile(r"\s+")
# A seal note typed after the name: “（盖章）”, “(公章)”, “（单位盖章）”… (after NFKC the brackets are ASCII).
_SEAL_RE = re.compile(r"\((?:单位)?(?:盖章|公章|签章|章|盖公章|印章)\)|(?:单位)?(?:盖章|公章)$")
FUZZY_SCORE = 80.0  # a fuzzy match must score at least this (rapidfuzz ratio, 0-100) ...
FUZZY_MARGIN = 15.0  # ... and this much more than the next unit's score


@dataclass(frozen=True)
class Unit:
    """One subordinate unit on the roster."""

    code: str
    name: str
    category: str
    email: str  # the first address: where mail to the unit goes
    emails: tuple[str, ...] = ()  # every address the unit writes from (the 邮箱 column, split at “;”)
    aliases: tuple[str, ...] = ()  # other names of the unit (the optional 别名 column, split at “;”)

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every address of the unit (``email`` alone when ``emails`` was not given)."""
        return self.emails or ((self.email,) if self.email else ())


def normalise_name(name: str) -> str:
    """Fold full-width characters, spaces and bracket styles so that typing variants compare equal."""
    folded = unicodedata.normalize("NFKC", name)
    folded = folded.replace("〔", "(").replace("〕", ")").replace("【", "(").replace("】", ")")
    return _SPACE_RE.sub("", folded).lower()


@functools.lru_cache(maxsize=1 << 16)  # a roster's names are keyed twice on load (checked, then indexed)
def unit_key(name: str) -> str:
    """A unit name as compared with the roster: :func:`normalise_name` without a seal note (“（盖章）”, “(公章)”)."""
    return _SEAL_RE.sub("", normalise_name(name))


class Roster:
    """The roster in file order, with lookups by code and by normalised name."""

    def __init__(self, units: list[Unit], path: Path, encoding: str = "", digest: str = "") -> None:
        self.units = units
        self.path = path
        self.encoding = encoding  # how the file was saved, as the summary names it (编码 GBK, Excel 工作簿…)
        # What this roster is a function of (with the program): its file's place and bytes (see roster_digest),
        # or, for a roster made in memory, its units.
        self.digest = digest or hashlib.sha256(f"{path}\0{units!r}".encode()).hexdigest()
        self._by_code = {u.code: u for u in units}
        self._by_name = {unit_key(u.name): u for u in units}
        self._by_alias = {unit_key(a): u for u in units for a in u.aliases}
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
        """The unit whose name or alias equals this one after normalisation (seal notes dropped); never a fuzzy guess."""
        key = unit_key(name)
        return self._by_name.get(key) or self._by_alias.get(key)

    def by_alias(self, name: str) -> Unit | None:
        """The unit with this alias (别名 column), if any."""
        return self._by_alias.get(unit_key(name))

    def fuzzy(self, name: str, county: str = "") -> tuple[Unit, float] | None:
        """The one unit whose name or alias is close to ``name`` (rapidfuzz ratio at least :data:`FUZZY_SCORE` and
        :data:`FUZZY_MARGIN` above any other unit), with its score; None when no unit or several are that close.

        The county prefix (“清河县”) is dropped on both sides first: every name shares it, so it says nothing.
        """
        from rapidfuzz import fuzz  # lazy: only names that match nothing exactly get here

        prefix = normalise_name(county) if county else ""

        def bare(text: str) -> str:
            return text[len(prefix):] if prefix and text.startswith(prefix) and len(text) > len(prefix) else text

        query = bare(unit_key(name))
        if len(query) < 2:
            return None
        best: dict[str, tuple[float, Unit]] = {}
        for key, unit in [*self._by_name.items(), *self._by_alias.items()]:
            score = fuzz.ratio(query, bare(key))
            if score > best.get(unit.code, (-1.0, unit))[0]:
                best[unit.code] = (score, unit)
        ranked = sorted(best.values(), key=lambda pair: pair[0], reverse=True)
        if not ranked or ranked[0][0] < FUZZY_SCORE:
            return None
        if len(ranked) > 1 and ranked[0][0] - ranked[1][0] < FUZZY_MARGIN:
            return None
        return ranked[0][1], ranked[0][0]

    def by_email(self, address: str) -> Unit | None:
        """The one unit with this 邮箱 (compared case-insensitively), if exactly one has it."""
        return self._by_email.get(address.strip().lower())

    def closest_names(self, name: str, n: int = 3) -> list[str]:
        """Roster names that look like ``name``, for a suggestion in an error message."""
        from rapidfuzz import fuzz, process  # lazy: only names that match nothing exactly get here

        hits = process.extract(unit_key(name), list(self._by_name), scorer=fuzz.ratio, limit=n, score_cutoff=40)
        return [self._by_name[key].name for key, _, _ in hits]


WORKBOOK = "Excel 工作簿"


def roster_digest(path: Path) -> str:
    """The digest of the roster file at ``path``, its place and bytes: with the program, all that
    :func:`load_roster` depends on, so it stands for the loaded roster without loading it; "" when unreadable."""
    digest = hashlib.sha256(os.fsencode(path.resolve()) + b"\0")
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, lambda: digest).hexdigest()
    except OSError:  # missing or unreadable: load_roster says so, in Chinese
        return ""


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


def _row(path: Path, index: int) -> str:
    """“单位名录 units.csv 第12行”, as every message about one row of the roster begins."""
    return f"单位名录 {path} 第{index}行"


def _split(cell: str) -> tuple[str, ...]:
    """The items of a cell separated by “;” or “；” (a single item, the usual case, without the split)."""
    if ";" not in cell and "；" not in cell:
        return (cell,) if cell else ()
    return tuple(e.strip() for e in EMAIL_SEPARATOR_RE.split(cell) if e.strip())


def load_roster(path: Path = DEFAULT_PATH) -> Roster:
    """Read and check the roster, raising :class:`RosterError` with the row number and reason."""
    digest = roster_digest(path)  # before reading: a file changed meanwhile is read again by the next run
    header, body, encoding = _table(path)
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise RosterError(f"单位名录 {path} 缺少列：{'、'.join(missing)}。第一行应为：{','.join(COLUMNS)}。")
    at_code, at_name, at_category, at_email = (header.index(c) for c in COLUMNS)
    alias_at = header.index(ALIAS_COLUMN) if ALIAS_COLUMN in header else None
    units: list[Unit] = []
    codes: dict[str, int] = {}
    names: dict[str, int] = {}
    for index, row in enumerate(body, start=2):
        code, name, category, email = (row[at_code].strip(), row[at_name].strip(), row[at_category].strip(),
                                       row[at_email].strip())
        alias_text = row[alias_at].strip() if alias_at is not None else ""
        if not (code or name or category or email or alias_text):
            continue  # a wholly blank row (blank line in the CSV, empty row in the sheet)
        if not code:
            raise RosterError(f"{_row(path, index)}：单位编码为空。")
        if not name:
            raise RosterError(f"{_row(path, index)}：单位名称为空。")
        if code in codes:
            raise RosterError(f"{_row(path, index)}：单位编码“{code}”与第{codes[code]}行重复。")
        key = unit_key(name)
        if key in names:
            raise RosterError(f"{_row(path, index)}：单位名称“{name}”与第{names[key]}行重复。")
        aliases = _split(alias_text)
        for alias in aliases:
            if unit_key(alias) in names and unit_key(alias) != key:
                raise RosterError(f"{_row(path, index)}：别名“{alias}”与第{names[unit_key(alias)]}行的单位名称或别名相同，"
                                  "无法区分是哪个单位，请删去或改写。")
        emails = _split(email)
        for address in emails:
            if not EMAIL_RE.match(address):
                raise RosterError(f"{_row(path, index)}：邮箱“{address}”格式不正确，应形如 name@example.com"
                                  "（一个单位有多个邮箱时用分号“;”隔开）。")
        codes[code] = index
        names[key] = index
        for alias in aliases:
            names[unit_key(alias)] = index
        units.append(Unit(code, name, category, emails[0] if emails else "", emails, aliases))
    if not units:
        raise RosterError(f"单位名录 {path} 中没有任何单位。")
    return Roster(units, path, encoding, digest)
