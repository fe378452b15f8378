"""Lenient readings of the header and contact cells: dates, phone numbers and e-mail addresses.

A slip in the header (a date without its year, a phone number with a long dash, two numbers in
one cell) must never cost the counts: each reading here returns the value meant and a note, which
:mod:`pipeline.values.normalise` records as a 警告. Only the plain, expected forms come back
without a note. These paths run only after the plain forms failed, so the common case stays fast.
"""

from __future__ import annotations

import datetime as dt
import re

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,6})?$")
LOCAL_RE = re.compile(r"^\d{7,8}$")
PHONE_SEPARATOR = "/"  # several numbers in one cell are kept joined by this

# Dashes a unit may type between area code and number (NFKC has already turned “－” into “-”).
_DASHES_RE = re.compile(r"[\u2010-\u2015\u2212\ufe58\ufe63~\u301c]+")
_PHONE_SPLIT_RE = re.compile(r"[/、,;；，]|或")
_DIGITS = "零〇一二两三四五六七八九"
_CN_DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}

_LOOSE_DATE_RES = (
    # 2023年6月28号, 23年6月28日, 6月28日 / 6月28号 (year from the campaign)
    re.compile(r"^(?:(?P<y>\d{2}|\d{4})年)?(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]?$"),
    # 23.6.28, 23-6-28, 23/6/28
    re.compile(r"^(?P<y>\d{2})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})$"),
    # 6/28, 6.28, 6-28 (year from the campaign)
    re.compile(r"^(?P<m>\d{1,2})[-/.](?P<d>\d{1,2})$"),
)
_CN_DATE_RE = re.compile(rf"^(?:(?P<y>[{_DIGITS}]{{2,4}})年)?(?P<m>[{_DIGITS}十]{{1,3}})月(?P<d>[{_DIGITS}十]{{1,3}})[日号]?$")


def _cn_small(text: str) -> int | None:
    """“六” -> 6, “二十八” -> 28, “十二” -> 12 (numbers below 100 as written in dates)."""
    try:
        return _cn_below_100(text)
    except KeyError:
        return None


def _cn_below_100(text: str) -> int | None:
    if "十" in text:
        tens, _, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1:
            return None
        return (_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[ones] if ones else 0)
    if len(text) == 1:
        return _CN_DIGIT[text]
    return None


def _cn_year(text: str) -> int:
    """“二〇二三” -> 2023, digit by digit."""
    return int("".join(str(_CN_DIGIT[c]) for c in text))


def loose_date(text: str, year: int | None) -> tuple[dt.date, str] | None:
    """A date written in a looser form (no year, a two-digit year, 号, Chinese numerals) and a note; None when
    ``text`` is none of these or names no real date. A missing year is ``year`` (the campaign's)."""
    match = next((m for m in (p.match(text) for p in _LOOSE_DATE_RES) if m), None)
    parts: tuple[int | None, int | None, int | None]
    if match is not None:
        y = match.groupdict().get("y")
        parts = (int(y) if y else None, int(match["m"]), int(match["d"]))
    else:
        match = _CN_DATE_RE.match(text)
        if match is None:
            return None
        parts = (_cn_year(match["y"]) if match["y"] else None, _cn_small(match["m"]), _cn_small(match["d"]))
    y, m, d = parts
    if m is None or d is None:
        return None
    if y is None:
        if year is None:
            return None
        y, how = year, f"未写年份（按活动年度 {year} 年补全）"
    elif y < 100:
        y, how = 2000 + y, "年份只写了两位"
    else:
        how = "日期写法不规范"
    try:
        value = dt.date(y, m, d)
    except ValueError:
        return None
    return value, f"{how}，已按 {value.isoformat()} 计"


def one_phone_ok(text: str) -> bool:
    """Whether ``text`` is one phone number in a plain form: a mobile, a landline with its area code, a local number."""
    return bool(MOBILE_RE.match(text) or LANDLINE_RE.match(text) or LOCAL_RE.match(text))


def phone_ok(text: str) -> bool:
    """Whether ``text`` is one phone number in a plain form, or several joined by :data:`PHONE_SEPARATOR`."""
    return all(map(one_phone_ok, text.split(PHONE_SEPARATOR)))


def _one_phone(part: str) -> str | None:
    bare = part.replace("-", "")
    if MOBILE_RE.match(bare):
        return bare
    if LANDLINE_RE.match(part) or LOCAL_RE.match(part):
        return part
    if bare.startswith("0") and 10 <= len(bare) <= 12 and bare.isdigit():
        return bare  # 0311-662-7527: an area code and number with the dash in the wrong place
    return None


def loose_phone(text: str) -> tuple[str, str] | None:
    """Phone numbers with odd dashes, spaces or several in one cell, as plain numbers joined by “/”, and a
    note; None when some part is not a phone number at all."""
    cleaned = _DASHES_RE.sub("-", text)
    parts = [re.sub(r"\s+", "", p) for p in _PHONE_SPLIT_RE.split(cleaned)]
    parts = [p for p in parts if p]
    if not parts:
        return None
    tidy = [_one_phone(p) for p in parts]
    if any(t is None for t in tidy):
        return None
    value = PHONE_SEPARATOR.join(t for t in tidy if t)
    how = f"填写了 {len(parts)} 个号码" if len(parts) > 1 else "号码写法不规范"
    return value, f"{how}，已按“{value}”记录"


_EMAIL_DOT_RE = re.compile(r"[。，,、]")


def fix_email(text: str) -> tuple[str, str] | None:
    """An e-mail address with an evident slip after the “@” (“qq。com”, “163,com”) corrected, and a note;
    None when there is nothing evident to fix."""
    local, at, domain = text.partition("@")
    if not at:
        return None
    fixed_domain = _EMAIL_DOT_RE.sub(".", domain).rstrip(".")
    if fixed_domain == domain or not local:
        return None
    value = f"{local}@{fixed_domain}"
    return value, f"邮箱中的标点已改为“.”，已按“{value}”记录"
