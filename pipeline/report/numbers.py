"""Numbers as Chinese official documents write them: “12,345”, “1.2万”, “95.5%”, dates “2023年6月30日”."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import cn2an

WAN = 10_000
YI = 100_000_000


def grouped(value: int) -> str:
    """An integer with thousands separators: 12345 → “12,345”."""
    return f"{value:,}"


def _one_decimal(value: Decimal) -> str:
    text = str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    return text.removesuffix(".0")


def wan(value: int) -> str:
    """Large counts in 万 or 亿 with at most one decimal: 12345 → “1.2万”, 9999 → “9,999”."""
    if abs(value) >= YI:
        return _one_decimal(Decimal(value) / YI) + "亿"
    if abs(value) >= WAN:
        return _one_decimal(Decimal(value) / WAN) + "万"
    return grouped(value)


def percent(part: int, whole: int) -> str:
    """A share as a percentage with at most one decimal (“95.5%”); “—” when there is no whole."""
    if whole <= 0:
        return "—"
    return _one_decimal(Decimal(part) * 100 / whole) + "%"


def change(now: int, before: int) -> str:
    """Year-over-year change in the documents' words: “增长12.5%”, “下降3%”, “持平”; “—” without a base."""
    if before <= 0:
        return "—"
    if now == before:
        return "持平"
    rate = _one_decimal(abs(Decimal(now - before)) * 100 / before)
    return f"{'增长' if now > before else '下降'}{rate}%"


def chinese_date(day: dt.date) -> str:
    """A date as in a document's 落款: “2023年6月30日” (Arabic numerals, GB/T 9704-2012 7.3.5.3)."""
    return f"{day.year}年{day.month}月{day.day}日"


def month_day(day: dt.date) -> str:
    """“5月31日”."""
    return f"{day.month}月{day.day}日"


def ordinal(number: int) -> str:
    """1 → “一”, 12 → “十二” (the numbers of headings “一、” and “（一）”)."""
    text: str = cn2an.an2cn(number)
    return text
