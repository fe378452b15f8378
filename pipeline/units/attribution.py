"""Which unit a file belongs to: one rule for returns and supporting material alike.

Evidence, strongest first (:class:`Kind`):

1. ``TYPED`` — the filled 填报单位 (the form's ``roles.unit`` field) equal to a roster name, 别名 or code after
   dropping a seal note (“（盖章）”, “(公章)”), spaces and full-/half-width differences;
2. ``TEMPLATE`` — the template's hidden identity (the unit code in ``_meta``);
3. ``SENDER`` — who sent it: the sender's address through the roster's 邮箱, the saved mail a file was attached
   to, or the ``邮件/<YYYY-MM-DD>/<U013_单位名称>/`` folder ``make fetch`` files each mail under;
4. ``NAMES`` — other folder, archive-member, sheet and file names, innermost first: a roster code anywhere in
   them before a roster name anywhere in them (then, for a document, its title lines);
5. ``FUZZY`` — a unique, strong fuzzy match of the filled 填报单位 to a roster name or 别名.

The strongest kind present decides. Evidence of another kind that names another unit is reported in a 警告
naming both (“使用的是U001的模板，填报单位写的是U002，已计入U002”): a unit that filled another unit's template
counts for itself, and the template's owner is never answered for a file it did not send. A return whose unit
rests on folder or file names alone gets a 警告 saying so.

Codes are matched as whole tokens (``U001`` not inside ``U0012``). A code made of digits only (“1”, “2”) is
matched only as the leading token of a name (``1_清河县公路站``, ``1-照片.jpg``), never in “附件1”, “表2”, a
date (“6.28”, “6月28日”) or a year, so that a roster of numbered units does not claim every annex.

One :class:`UnitMatcher` per roster and county is built and cached (:func:`matcher`).
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from pipeline.forms.spec import FormSpec, template_name
from pipeline.intake.arrival import MAIL_FOLDER, folder_date
from pipeline.model import Severity, Submission
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster, Unit, normalise_name, unit_key


class Kind(enum.IntEnum):
    """Kinds of evidence for a file's unit; a smaller value is stronger."""

    TYPED = 1
    TEMPLATE = 2
    SENDER = 3
    NAMES = 4
    FUZZY = 5


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: the unit it names, its kind, and how a message describes it."""

    unit: Unit
    kind: Kind
    basis: str  # 填报单位“…” / 模板中的单位编码“U001” / 发件地址“…” / 文件名“…”中的编码“U016” / 文件夹“…”


@dataclass(frozen=True)
class Attribution:
    """The deciding evidence (None when nothing names a unit), the evidence that names other units, and the units
    a name named at once with nothing to settle which."""

    decided: Evidence | None
    against: tuple[Evidence, ...] = ()
    ambiguous: tuple[Unit, ...] = ()

    @property
    def unit(self) -> Unit | None:
        """The unit the file is counted for."""
        return self.decided.unit if self.decided else None

    @property
    def basis(self) -> str:
        """What decided, for a note (“文件夹“…””), or ``""``."""
        return self.decided.basis if self.decided else ""


def decide(evidence: Iterable[Evidence | None], ambiguous: tuple[Unit, ...] = ()) -> Attribution:
    """The strongest evidence wins; every other kind naming another unit is kept to be reported (one per unit)."""
    ranked = sorted((e for e in evidence if e is not None), key=lambda e: e.kind)
    if not ranked:
        return Attribution(None, ambiguous=ambiguous)
    winner = ranked[0]
    against: dict[str, Evidence] = {}
    for other in ranked[1:]:
        if other.unit != winner.unit and other.unit.code not in against:
            against[other.unit.code] = other
    return Attribution(winner, tuple(against.values()))


# ----------------------------------------------------------------------------- the matcher

_TOKEN_RE = re.compile(r"[a-z]*[0-9]+|[a-z]+")  # “u013附件1” -> u013, 1 (a code never sits inside another token)
# A leading number that is a date, a time, a year or a count (“6.28”, “2023-06-28”, “6月”, “3个”), not a code.
_NUMBER_WORD = "年月日号时点分秒期批次届季周天个份项张页人场"
_LEADING_NUMBER_RE = re.compile(r"^([0-9]+)(?![0-9])(?![-./:_][0-9])(?![" + _NUMBER_WORD + "])")


def _is_year(token: str) -> bool:
    return len(token) == 4 and 1900 <= int(token) <= 2099


class UnitMatcher:
    """Finds roster codes and names inside folder, file and document-title text.

    A code with a letter matches as a token; a code of digits only matches as the leading token of the text
    and never as a date, year or count. A name matches as a substring after :func:`normalise_name`, also
    without the county prefix when what is left is at least four characters; where one unit's match lies
    inside another's (``汽车客运站`` inside ``城南汽车客运站``), the longer one wins.
    """

    def __init__(self, roster: Roster, county: str = "") -> None:
        self.roster = roster
        self.order = {u.code: i for i, u in enumerate(roster)}
        self.codes: dict[str, Unit] = {}
        self.numbers: dict[str, Unit] = {}
        self.names: list[tuple[str, Unit]] = []
        prefix = normalise_name(county)
        for unit in roster:
            code = normalise_name(unit.code)
            if code.isdigit():
                self.numbers[code] = unit
            elif code:
                self.codes[code] = unit
            name = normalise_name(unit.name)
            self.names.append((name, unit))
            if prefix and name.startswith(prefix) and len(name) - len(prefix) >= 4:
                self.names.append((name[len(prefix):], unit))

    def by_code(self, text: str) -> Unit | None:
        """The unit whose code is exactly ``text`` (after :func:`normalise_name`)."""
        key = normalise_name(text)
        return self.codes.get(key) or self.numbers.get(key)

    def codes_in(self, text: str) -> list[Unit]:
        """The distinct units whose code ``text`` holds, in roster order."""
        folded = normalise_name(text)
        found = {u.code: u for token in _TOKEN_RE.findall(folded) if (u := self.codes.get(token))}
        if self.numbers:
            lead = _LEADING_NUMBER_RE.match(folded)
            if lead and not _is_year(lead.group(1)) and (unit := self.numbers.get(lead.group(1))):
                found[unit.code] = unit
        return self._ordered(found.values())

    def names_in(self, text: str) -> list[Unit]:
        """The distinct units whose name ``text`` holds, in roster order (a name inside a longer match is dropped)."""
        folded = normalise_name(text)
        spans: list[tuple[int, int, Unit]] = []
        for key, unit in self.names:
            start = folded.find(key)
            while start >= 0:
                spans.append((start, start + len(key), unit))
                start = folded.find(key, start + 1)
        kept = {s[2].code: s[2] for s in spans
                if not any(o[2] is not s[2] and o[0] <= s[0] and s[1] <= o[1] and o[1] - o[0] > s[1] - s[0]
                           for o in spans)}
        return self._ordered(kept.values())

    def units_in(self, text: str) -> list[Unit]:
        """The distinct units ``text`` names by code or by name, in roster order."""
        return self._ordered({u.code: u for u in [*self.codes_in(text), *self.names_in(text)]}.values())

    def _ordered(self, units: Iterable[Unit]) -> list[Unit]:
        return sorted(units, key=lambda u: self.order[u.code])


@functools.lru_cache(maxsize=8)
def matcher(roster: Roster, county: str = "") -> UnitMatcher:
    """The one cached matcher of ``roster`` and ``county``."""
    return UnitMatcher(roster, county)


# ----------------------------------------------------------------------------- evidence from outside the content


def name_parts(file: str) -> list[tuple[str, str]]:
    """(where, text) of every folder, archive, file and sheet name of ``file``, innermost first (the file's
    extension dropped)."""
    outer, _, sheet = file.partition("#")
    path = PurePosixPath(outer.replace("!/", "/"))
    folders = list(path.parts[:-1])
    parts: list[tuple[str, str]] = []
    if sheet:
        parts.append(("工作表名", sheet))
    parts.append(("文件名", path.stem))
    parts.extend(("文件夹名", folder) for folder in reversed(folders))
    return [(where, text) for where, text in parts if text]


def _first_single(found: list[tuple[str, str, list[Unit]]], by_code: bool) -> tuple[Evidence | None, tuple[Unit, ...]]:
    """The innermost part naming exactly one unit; a part naming several is settled by another part naming
    exactly one of them, else it is ambiguous."""
    def evidence(where: str, text: str, unit: Unit) -> Evidence:
        what = f"中的编码“{unit.code}”" if by_code else "中的单位名称"
        return Evidence(unit, Kind.NAMES, f"{where}“{text}”{what}")

    for where, text, units in found:
        if len(units) == 1:
            return evidence(where, text, units[0]), ()
        if len(units) > 1:
            for other_where, other_text, other in found:
                if len(other) == 1 and other[0] in units:
                    return evidence(other_where, other_text, other[0]), ()
            return None, tuple(units)
    return None, ()


def names_evidence(file: str, roster: Roster, county: str = "", title: str = "", *,
                   names: bool = True) -> tuple[Evidence | None, tuple[Unit, ...], list[Evidence]]:
    """The unit the names of ``file`` give (a code in any of them before a roster name in any of them, then a
    document's ``title``), the units left ambiguous, and the other single units named in other parts.

    With ``names=False`` only codes are looked for (cheap: the check of a return whose content already
    named its unit)."""
    m = matcher(roster, county)
    parts = name_parts(file)
    coded = [(w, t, m.codes_in(t)) for w, t in parts]
    decided, ambiguous = _first_single(coded, by_code=True)
    by_name: list[tuple[str, str, list[Unit]]] = []
    if decided is None and names:
        by_name = [(w, t, m.names_in(t)) for w, t in parts]
        decided, more = _first_single(by_name, by_code=False)
        ambiguous = ambiguous or more
        if title and (decided is None):
            in_title = m.units_in(title)
            if len(in_title) == 1 and (not ambiguous or in_title[0] in ambiguous):
                decided, ambiguous = Evidence(in_title[0], Kind.NAMES, "文档标题"), ()
    others = [Evidence(units[0], Kind.NAMES, f"{w}“{t}”") for w, t, units in [*coded, *by_name]
              if len(units) == 1 and (decided is None or units[0] != decided.unit)]
    if decided is not None:
        ambiguous = ()
    return decided, ambiguous, others


def mail_folder_unit(file: str, roster: Roster) -> Unit | None:
    """The unit of the ``邮件/<YYYY-MM-DD>/<U013_单位名称>/`` folder ``make fetch`` saved ``file`` under, if any."""
    parts = PurePosixPath(file.replace("!/", "/")).parts
    if len(parts) < 4 or parts[0] != MAIL_FOLDER or folder_date(f"{parts[1]}/x") is None:
        return None
    code, sep, _ = parts[2].partition("_")
    return roster.by_code(code) if sep else None


def sender_evidence(sub: Submission, roster: Roster, address: str = "") -> Evidence | None:
    """Who sent ``sub``: ``address`` (a mailed return's sender) through the roster's 邮箱, else the saved mail it
    was attached to (``sub.sender`` is that sender's unit code), else the fetch folder it lies in."""
    if address and (unit := roster.by_email(address)) is not None:
        return Evidence(unit, Kind.SENDER, f"发件地址“{address}”")
    if sub.sender and (unit := roster.by_code(sub.sender)) is not None:
        return Evidence(unit, Kind.SENDER, "所附邮件的发件人邮箱")
    if (unit := mail_folder_unit(sub.file, roster)) is not None:
        return Evidence(unit, Kind.SENDER, f"发件单位文件夹“{PurePosixPath(sub.file).parts[2]}”")
    return None


def attribute_file(sub: Submission, roster: Roster, county: str = "", title: str = "",
                   extra: Iterable[str] = ()) -> Attribution:
    """The unit of a file judged without its content (material, an unreadable return, an archive): the sender,
    then its names and ``title``, then ``extra`` names (the members of an archive that cannot be opened)."""
    sender = sender_evidence(sub, roster)
    named, ambiguous, others = names_evidence(sub.file, roster, county, title)
    if named is None and sender is None:
        inner = {u.code: u for text in extra for u in matcher(roster, county).units_in(text)}
        if len(inner) == 1:
            named = Evidence(next(iter(inner.values())), Kind.NAMES, "压缩包内的文件名")
    found = decide([sender, named, *others])
    return found if found.decided is not None else Attribution(None, ambiguous=ambiguous)


# ----------------------------------------------------------------------------- a return


def _described(e: Evidence) -> str:
    return f"{e.basis}表明是“{e.unit.name}”（{e.unit.code}）"


def attribute_return(sub: Submission, spec: FormSpec, campaign: Campaign, roster: Roster, address: str = "") -> None:
    """Set ``sub.unit`` by the evidence order, with the findings the evidence calls for.

    ``address`` is the address a mailed return came from, when known.
    """
    unit_field = spec.field(spec.roles.unit)
    label = unit_field.label
    raw = sub.raw.get(unit_field.id)
    typed = str(raw.value).strip() if raw and raw.value is not None else ""
    cell = (unit_field.id, label, raw.address if raw else "")
    m = matcher(roster, campaign.county)
    typed_unit = (roster.by_name(typed) or m.by_code(typed)) if typed else None
    meta_code = sub.meta.get("unit_code", "")
    template_unit = roster.by_code(meta_code) if meta_code else None
    if meta_code and template_unit is None and typed_unit is None:
        sub.add(Severity.ERROR, "未知单位", f"模板中的单位编码“{meta_code}”不在单位名录中，请核实后使用本单位的模板。")
        return
    typed_ev = Evidence(typed_unit, Kind.TYPED, f"{label}“{typed}”") if typed_unit else None
    template_ev = Evidence(template_unit, Kind.TEMPLATE, f"模板中的单位编码“{meta_code}”") if template_unit else None
    sender = sender_evidence(sub, roster, address)
    content = typed_ev or template_ev
    # With the content naming the unit, only codes in the names are looked for, to be reported when they differ.
    named, ambiguous, others = names_evidence(sub.file, roster, campaign.county, names=content is None)
    near = roster.fuzzy(typed, campaign.county) if typed and typed_unit is None and not (content or sender or named) \
        else None
    fuzzy = Evidence(near[0], Kind.FUZZY, f"{label}“{typed}”") if near else None
    found = decide([typed_ev, template_ev, sender, named, *([] if content else others), fuzzy])
    sub.unit = found.unit
    if found.decided is None:
        _no_unit(sub, roster, typed, label, cell, ambiguous)
        return
    unit, kind = found.decided.unit, found.decided.kind
    if kind == Kind.TYPED and template_unit is not None and template_unit != unit:
        sub.add(Severity.WARNING, "单位不一致", f"使用的是{template_unit.code}（{template_unit.name}）的模板，{label}写的是"
                f"“{typed}”（{unit.code}），已计入{unit.code}（{unit.name}）。今后请使用本单位的模板“"
                f"{template_name(spec, unit)}”。", *cell, typed)
    elif kind == Kind.TEMPLATE and typed and unit_key(typed) != unit_key(unit.name):
        sub.add(Severity.WARNING, "单位名称被改动", f"这是“{unit.name}”的模板，但{label}被改成了“{typed}”。"
                f"已按模板计入“{unit.name}”，如有误请联系局安全股。", *cell, typed)
    elif kind in (Kind.SENDER, Kind.NAMES) and typed:
        sub.add(Severity.WARNING, "按文件名确定单位", f"{label}填的是“{typed}”，与单位名录不符；已按{found.basis}"
                f"计入“{unit.name}”（{unit.code}），请核实。今后请填写单位全称。", *cell, typed)
    elif kind == Kind.NAMES:
        sub.add(Severity.WARNING, "按文件名确定单位", f"没有填写{label}，仅凭{found.basis}计入“{unit.name}”"
                f"（{unit.code}），请核实。今后请填写单位全称。", *cell)
    elif kind == Kind.FUZZY:
        sub.add(Severity.WARNING, "单位名称不规范", f"{label}填的是“{typed}”，与单位名录中的名称不完全一致，"
                f"已按最接近的“{unit.name}”（{unit.code}）计入，请核实。今后请填写单位全称。", *cell, typed)
    for other in found.against:
        if other.kind == Kind.TEMPLATE:
            continue  # said above
        sub.add(Severity.WARNING, "单位来源不一致", f"{_described(found.decided)}，但{_described(other)}。"
                f"已按{found.decided.basis}计入“{unit.name}”，请核实。")


def _no_unit(sub: Submission, roster: Roster, typed: str, label: str, cell: tuple[str, str, str],
             ambiguous: tuple[Unit, ...]) -> None:
    if not typed:
        among = f"（文件名或文件夹名中同时出现了{'、'.join(u.name for u in ambiguous)}）" if ambiguous else ""
        sub.add(Severity.ERROR, "未填单位", f"没有填写{label}{among}，无法确定是哪个单位的报表，请填写单位全称后重新发送。", *cell)
        return
    close = roster.closest_names(typed)
    hint = f"是否为：{'、'.join(close)}？" if close else ""
    sub.add(Severity.ERROR, "未知单位", f"“{typed}”不在单位名录中。{hint}请填写与名录一致的单位全称，"
            "或联系局安全股将本单位加入名录。", *cell, typed)
