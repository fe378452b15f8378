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
_CN_NUMERALS = frozenset("零〇一二两三四五六七八九十")

# Every spelling of a date, in one table: numbers only, after cn2an has turned Chinese numerals into digits.
_DATE_RES = (
    # 2023-06-28 (the template's form), 2023/6/28, 2023.6.28, 23-6-28, and 6/28, 6.28 (year from the campaign)
    re.compile(r"^(?:(?P<y>\d{4}|\d{2})[-/.])?(?P<m>\d{1,2})(?P<sep>[-/.])(?P<d>\d{1,2})$"),
    # 2023年6月28日 (the template's form), 2023年6月28号, 23年6月28日, and 6月28日, 6月28号 (year from the campaign)
    re.compile(r"^(?:(?P<y>\d{4}|\d{2})年)?(?P<m>\d{1,2})月(?P<d>\d{1,2})(?P<end>[日号]?)$"),
    # 20230628
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"),
)


def _digits(text: str) -> str:
    """“二〇二三年六月二十八日” -> “2023年6月28日” (cn2an); text without Chinese numerals as it stands."""
    if _CN_NUMERALS.isdisjoint(text):
        return text
    import cn2an  # lazy: slow to import and rarely needed

    try:
        return str(cn2an.transform(text, "cn2an"))
    except (ValueError, KeyError):
        return text


def _plain(match: re.Match[str], text: str) -> bool:
    """Whether ``text`` is written as the template asks: 2023-06-28 or 2023年6月28日."""
    groups = match.groupdict()
    if groups.get("y") is None or len(match["y"]) != 4:
        return False
    return "-" in text if "sep" in groups else groups.get("end") == "日"


def read_date(text: str, year: int | None) -> tuple[dt.date, str] | None:
    """The date ``text`` names and a note ("" for the template's own forms); None when it names no real date.

    Looser forms (no year, a two-digit year, 号, Chinese numerals, 2023/6/28, 20230628) come with a note
    saying how they were read. A missing year is ``year`` (the campaign's); without it such a date is None.
    """
    digits = _digits(text)
    match = next((m for m in (p.match(digits) for p in _DATE_RES) if m), None)
    if match is None:
        return None
    y = int(match["y"]) if match["y"] else None
    if y is None:
        if year is None:
            return None
        y, how = year, f"未写年份（按活动年度 {year} 年补全）"
    elif y < 100:
        y, how = 2000 + y, "年份只写了两位"
    else:
        how = "" if digits == text and _plain(match, text) else "日期写法不规范"
    try:
        value = dt.date(y, int(match["m"]), int(match["d"]))
    except ValueError:
        return None
    return value, f"{how}，已按 {value.isoformat()} 计" if how else ""


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
