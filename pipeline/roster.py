"""Load the unit roster (``units.csv`` or an ``.xlsx`` with the same columns) and match unit names."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.errors import RosterError

DEFAULT_PATH = Path("units.csv")
COLUMNS = ("单位编码", "单位名称", "类别", "邮箱")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class Unit:
    """One subordinate unit on the roster."""

    code: str
    name: str
    category: str
    email: str


def normalise_name(name: str) -> str:
    """Fold full-width characters, spaces and bracket styles so that typing variants compare equal."""
    folded = unicodedata.normalize("NFKC", name)
    folded = folded.replace("〔", "(").replace("〕", ")").replace("【", "(").replace("】", ")")
    return _SPACE_RE.sub("", folded).lower()


class Roster:
    """The roster in file order, with lookups by code and by normalised name."""

    def __init__(self, units: list[Unit], path: Path) -> None:
        self.units = units
        self.path = path
        self._by_code = {u.code: u for u in units}
        self._by_name = {normalise_name(u.name): u for u in units}

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

    def closest_names(self, name: str, n: int = 3) -> list[str]:
        """Roster names that look like ``name``, for a suggestion in an error message."""
        keys = list(self._by_name)
        hits = difflib.get_close_matches(normalise_name(name), keys, n=n, cutoff=0.4)
        return [self._by_name[k].name for k in hits]


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
    # Keep blank lines as empty rows so that 第N行 in messages is the line in the file.
    return pd.read_csv(
        path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skip_blank_lines=False
    )


def load_roster(path: Path = DEFAULT_PATH) -> Roster:
    """Read and check the roster, raising :class:`RosterError` with the row number and reason."""
    try:
        frame = _read_table(path)
    except FileNotFoundError:
        raise RosterError(f"找不到单位名录 {path}，请用 --roster 指定。") from None
    except (UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise RosterError(f"单位名录 {path} 无法读取（请保存为 UTF-8 编码的 CSV 或 .xlsx）：{exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise RosterError(f"单位名录 {path} 缺少列：{'、'.join(missing)}。第一行应为：{','.join(COLUMNS)}。")
    units: list[Unit] = []
    codes: dict[str, int] = {}
    names: dict[str, int] = {}
    for index, row in enumerate(frame[list(COLUMNS)].itertuples(index=False), start=2):
        code, name, category, email = (str(v).strip() for v in row)
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
        if email and not EMAIL_RE.match(email):
            raise RosterError(f"{where}：邮箱“{email}”格式不正确，应形如 name@example.com。")
        codes[code] = index
        names[key] = index
        units.append(Unit(code, name, category, email))
    if not units:
        raise RosterError(f"单位名录 {path} 中没有任何单位。")
    return Roster(units, path)
