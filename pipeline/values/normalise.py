"""Turn raw cell values into typed values, recording every correction as a 警告.

Nothing is thrown away: the raw value stays on the :class:`RawCell`; what cannot be
understood is passed on unchanged so that the pandera schema reports it against its cell.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal
from typing import Any

from pipeline.forms.spec import Field, FormSpec
from pipeline.model import RawCell, Severity, Submission
from pipeline.values.header import fix_email, loose_phone, one_phone_ok, read_date

NIL_WORDS = {"无", "没有", "/", "\\", "—", "——", "-", "--", "－", "×", "x", "空", "暂无", "未开展"}
_NUMBER_RE = re.compile(
    r"^(?:全年共|全年|约|大约|共|合计|计|近|超过)?\s*(?P<num>[0-9]+(?:\.[0-9]+)?)\s*(?:余|多)?\s*(?P<unit>[\u4e00-\u9fff（）()]{0,4})$"
)
# “3万人”, “1.5万”, “2千”, “1万5千”: Arabic digits with 十/百/千/万/亿, read by cn2an.
_MAGNITUDE_RE = re.compile(
    r"^(?:全年共|全年|约|大约|共|合计|计|近|超过)?\s*(?P<num>(?P<lead>[0-9]+(?:\.[0-9]+)?)(?P<mag>[十百千万亿]+)(?:[0-9]+[十百千万亿]*)*)"
    r"\s*(?:余|多)?\s*(?P<unit>[\u4e00-\u9fff（）()]{0,4})$"
)
_CHINESE_NUMERAL_RE = re.compile(r"^[零〇一二两三四五六七八九十百千万亿]+$")
# “三场”, “全年十二次”: a Chinese numeral with a measure word (never “二十多”, an estimate, nor a range).
_CHINESE_COUNT_RE = re.compile(
    r"^(?:全年共|全年|共|合计)?(?P<num>[零〇一二两三四五六七八九十百千万亿]+)(?P<unit>[场次人篇个件份期条项处名]|人次|场次)$"
)
# “5（含线上2场）”: a number, then a remark in brackets (NFKC made the brackets ASCII).
_NUMBER_REMARK_RE = re.compile(r"^(?P<num>[0-9]+)\s*(?P<unit>[\u4e00-\u9fff]{0,3})\s*\((?P<remark>[^()]*)\)$")
# Excel serial numbers for 2000-01-01 .. 2099-12-31: a bare number in that range in a date cell is a serial.
_SERIAL_RANGE = (36526, 73415)


# Kinds whose value is an identifier, not prose: folded (full-width digits and signs to ASCII) so that
# “０３１１－６６２７５２７” or “ａｂｃ＠１６３.ｃｏｍ” are understood. Free text is never folded.
FOLDED_KINDS = ("phone", "mobile", "email")


def fold(text: str) -> str:
    """Full-width digits, letters and signs to ASCII; trim surrounding spaces (for matching and comparison only)."""
    return unicodedata.normalize("NFKC", text).strip()


def display(value: Any) -> str:
    """A raw value as the unit typed it, for messages."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    return str(value)


def _count(text: str) -> tuple[Any, str]:
    """Parse a count typed as text; returns (value, correction note) or (text, "") when unknown."""
    if text in NIL_WORDS:
        return 0, f"“{text}”已按 0 计"
    cleaned = text.replace(",", "").replace("，", "")
    if re.fullmatch(r"[+]?[0-9]+(\.0+)?", cleaned):
        return int(float(cleaned)), ("已去掉千位分隔符" if cleaned != text else "")
    if re.fullmatch(r"-[0-9]+(\.[0-9]+)?", cleaned):
        return float(cleaned), ""
    if re.fullmatch(r"[+]?[0-9]*\.[0-9]+", cleaned):
        return float(cleaned), ""
    match = _MAGNITUDE_RE.match(cleaned)
    if match:
        return _magnitude_count(match, text)
    match = _NUMBER_RE.match(cleaned)
    if match:
        number = float(match["num"])
        value = int(number) if number.is_integer() else number
        return value, f"已按数字 {match['num']} 计"
    if _CHINESE_NUMERAL_RE.match(cleaned):
        return _chinese_count(cleaned, text)
    return _count_with_words(cleaned, text)


def _chinese_count(numeral: str, text: str) -> tuple[Any, str]:
    import cn2an  # lazy: slow to import and rarely needed

    try:
        number = int(cn2an.cn2an(numeral, "smart"))
    except (ValueError, KeyError):
        return text, ""
    return number, f"中文数字已按 {number} 计"


def _magnitude_count(match: re.Match[str], text: str) -> tuple[Any, str]:
    """“3万” -> 30000, “1.5万” -> 15000, “2千” -> 2000, “1万5千” -> 15000, with a note saying so.

    cn2an cuts a product that is no whole number (“1.23456万” would be 12345): such a value is passed
    on as the exact fraction, for validation to report as 不是整数.
    """
    import cn2an  # lazy: slow to import and rarely needed

    try:
        number = cn2an.cn2an(match["num"], "smart")
    except (ValueError, KeyError):
        return text, ""
    if "." in match["lead"] and match["num"] == match["lead"] + match["mag"]:
        exact = Decimal(match["lead"]) * Decimal(cn2an.cn2an("1" + match["mag"], "smart"))
        if exact != exact.to_integral_value():
            return float(exact), ""
    if not isinstance(number, int):
        return text, ""
    return number, f"“{text}”已按 {number} 计"


def _count_with_words(cleaned: str, text: str) -> tuple[Any, str]:
    """Rarer spellings, tried only after the usual ones failed: “三场” and “5（含线上2场）”."""
    match = _CHINESE_COUNT_RE.match(cleaned)
    if match:
        return _chinese_count(match["num"], text)
    match = _NUMBER_REMARK_RE.match(cleaned)
    if match:
        return int(match["num"]), f"已按括号前的数字 {match['num']} 计，括号中的“{match['remark']}”未计入"
    return text, ""


def normalise_count(raw: Any) -> tuple[Any, str]:
    """A count value and a correction note ("" when none was needed)."""
    if raw is None:
        return None, ""
    if isinstance(raw, bool):
        return str(raw), ""
    if isinstance(raw, int):
        return raw, ""
    if isinstance(raw, float):
        return (int(raw), "") if raw.is_integer() else (raw, "")
    if isinstance(raw, dt.datetime | dt.date):
        return display(raw), ""
    text = fold(str(raw))
    if not text:
        return None, ""
    return _count(text)


def normalise_date(raw: Any, year: int | None = None) -> tuple[Any, str]:
    """A date from a date cell, an Excel serial or text in the usual Chinese spellings.

    Looser spellings (no year, a two-digit year, 号, Chinese numerals, 2023/6/28) are read with a note;
    a missing year is ``year`` (the campaign's), and without it such a date stays text.
    """
    if raw is None:
        return None, ""
    if isinstance(raw, dt.datetime):
        return raw.date(), ""
    if isinstance(raw, dt.date):
        return raw, ""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if _SERIAL_RANGE[0] <= raw <= _SERIAL_RANGE[1]:
            from openpyxl.utils.datetime import from_excel  # imports all of openpyxl: only for a date typed as a serial

            return from_excel(raw).date(), "日期以数字形式保存，已换算"
        raw = display(raw)  # not a serial: 20230628 typed as a number is read like the text "20230628"
    text = fold(str(raw)).replace(" ", "")
    if not text:
        return None, ""
    read = read_date(text, year)
    return read if read is not None else (text, "")


def normalise_text(raw: Any, kind: str) -> tuple[Any, str]:
    """Text-like kinds become a trimmed string; free text (names, titles, cases, notes) stays exactly as typed,
    identifiers (:data:`FOLDED_KINDS`) are folded to ASCII digits and signs."""
    if raw is None:
        return None, ""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = fold(display(raw)) if kind in FOLDED_KINDS else display(raw).strip()
    if kind in ("phone", "mobile"):
        # "(0311) 662 7527" -> "0311-6627527": an area code in brackets becomes a prefix.
        spaced = text
        text = re.sub(r"\s+", "", text)
        text = re.sub(r"^\((\d{3,4})\)", r"\1-", text)
        if kind == "phone" and text and not one_phone_ok(text):
            loose = loose_phone(spaced)
            if loose is not None:
                return loose
    elif kind == "email" and text:
        fixed = fix_email(text)
        if fixed is not None:
            return fixed
    return (text or None), ""


def normalise_field(f: Field, cell: RawCell, year: int | None = None) -> tuple[Any, str]:
    """Dispatch on the field kind (``year``, the campaign's, completes a date typed without one)."""
    if f.kind == "count":
        return normalise_count(cell.value)
    if f.kind == "date":
        return normalise_date(cell.value, year)
    return normalise_text(cell.value, f.kind)


def normalise_submission(sub: Submission, spec: FormSpec, year: int | None = None) -> None:
    """Fill ``sub.values`` from ``sub.raw`` and record corrections and uncomputed formulas.

    ``year`` is the campaign's year, for a 填报日期 typed without one.
    """
    sub.date_field = spec.roles.report_date
    for f in spec.fields:
        cell = sub.raw.get(f.id)
        if cell is None:
            continue
        if cell.formula is not None and cell.value is None:
            sub.add(Severity.ERROR, "公式未计算", f"单元格中是公式“{cell.formula}”，但没有计算结果。请直接填写数字，或在 Excel/WPS 中打开后保存一次再发送。",
                    f.id, f.label, cell.address, cell.formula)
            sub.values[f.id] = None
            continue
        value, note = normalise_field(f, cell, year)
        sub.values[f.id] = value
        if note:
            sub.add(Severity.WARNING, "已自动更正", f"{note}。请今后只填阿拉伯数字。" if f.kind == "count" else f"{note}。",
                    f.id, f.label, cell.address, display(cell.value))
