"""Which campaign, form version and unit a return belongs to.

The unit is taken from, in this order:

1. the template's ``_meta`` (a unit's own template names its code);
2. the filled 填报单位 (the form's ``roles.unit`` field), matched to a roster name, code or 别名, after
   dropping a seal note (“（盖章）”, “(公章)”), spaces and full-/half-width differences;
3. a unit code, then a unit name, in the file, folder or archive-member name (``sub.file``, innermost first:
   ``附件.zip!/U013附件1.xlsx``, ``邮件/2023-06-28/U013_清河县公路站/附件1.xlsx``);
4. the sender's address, through the roster's 邮箱 (:func:`sender_unit`, for returns that came by mail);
5. a unique, strong fuzzy match of the filled 填报单位 to a roster name or alias, with a 警告 naming it.

When the content (1 or 2) names one unit and the name or sender another, the content wins, with a 警告
naming both.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from pipeline.forms.spec import FormSpec, template_name
from pipeline.intake.materials import UnitMatcher
from pipeline.model import Severity, Submission
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster, Unit, normalise_name, unit_key


@dataclass(frozen=True)
class Clue:
    """A unit suggested by something outside the form's content, and what suggested it (for messages)."""

    unit: Unit
    basis: str  # 文件名中的编码“U016” / 文件夹名中的单位名称 / 发件地址“…”


def sender_unit(address: str, roster: Roster) -> Unit | None:
    """The unit whose roster 邮箱 is ``address`` (the hook for returns that came by mail), if exactly one."""
    return roster.by_email(address) if address else None


_TOKEN_RE = re.compile(r"[a-z]*[0-9]+|[a-z]+")  # “u013附件1” -> u013, 1 (a code never sits inside another token)


@functools.lru_cache(maxsize=8)
def _codes(roster: Roster) -> dict[str, Unit]:
    return {normalise_name(u.code): u for u in roster}


@functools.lru_cache(maxsize=8)
def _matcher(roster: Roster, county: str) -> UnitMatcher:
    return UnitMatcher(roster, county)


def _path_parts(file: str) -> list[str]:
    """The folder, file and archive-member names of ``file``, innermost first (extensions dropped)."""
    parts = [p.rstrip("!") for p in PurePosixPath(file).parts]
    if parts:
        parts[-1] = PurePosixPath(parts[-1]).stem
    return [p for p in reversed(parts) if p]


def path_clue(file: str, roster: Roster, county: str = "", *, names: bool = True) -> Clue | None:
    """The unit named in ``file``'s path: a roster code in the innermost name that holds exactly one, else (with
    ``names``) a roster name, or the name without the county, likewise; None when the path names no unit or is
    ambiguous. Codes are looked up token by token, so the cost does not grow with the roster."""
    parts = _path_parts(file)
    codes = _codes(roster)
    for index, part in enumerate(parts):
        found = {u.code: u for token in _TOKEN_RE.findall(normalise_name(part)) if (u := codes.get(token))}
        if len(found) == 1:
            unit = next(iter(found.values()))
            return Clue(unit, f"{_where(index)}“{part}”中的编码“{unit.code}”")
        if len(found) > 1:
            break  # one name naming two units says nothing
    if not names:
        return None
    matcher = _matcher(roster, county)
    for index, part in enumerate(parts):
        units = matcher.units_in(part)
        if len(units) == 1:
            return Clue(units[0], f"{_where(index)}“{part}”中的单位名称")
        if len(units) > 1:
            break
    return None


def _where(index: int) -> str:
    return "文件名" if index == 0 else "文件夹名"


def check_identity(sub: Submission, spec: FormSpec, campaign: Campaign, roster: Roster,
                   sender: str = "") -> bool:
    """Campaign, form version and unit; returns whether the template is this campaign's current one.

    ``sender`` is the address a mailed return came from, when known.
    """
    meta = sub.meta
    current = True
    unit_field = spec.field(spec.roles.unit)
    name_raw = sub.raw.get(unit_field.id)
    typed = str(name_raw.value).strip() if name_raw and name_raw.value is not None else ""
    typed_unit = roster.by_name(typed) or (_codes(roster).get(normalise_name(typed)) if typed else None)
    # The unit is settled below; for the advice on which template to use, a best guess is enough.
    likely = roster.by_code(meta["unit_code"]) if meta.get("unit_code") else typed_unit
    if meta:
        if meta.get("campaign_id") and meta["campaign_id"] != campaign.id:
            current = False
            sub.add(Severity.ERROR, "其他年度模板", f"该文件是其他年度活动（{meta.get('year') or meta['campaign_id']}）的模板，"
                    f"请改用{campaign.year}年下发的模板“{template_name(spec, likely)}”重新填报。")
        elif meta.get("form_version") and meta["form_version"] != spec.version:
            current = False
            sub.add(Severity.ERROR, "模板版本过期", f"该文件使用的是旧版模板（版本 {meta['form_version']}），"
                    f"请改用最新下发的模板“{template_name(spec, likely)}”重新填报。")
    label = unit_field.label
    address = name_raw.address if name_raw else ""
    # Outside clues checked against the content: a code in the path and the sender (both cheap).
    code_clue, mail_clue = path_clue(sub.file, roster, names=False), _sender_clue(sender, roster) or _mail_clue(sub, roster)
    clues = [c for c in (code_clue, mail_clue) if c]
    if meta.get("unit_code"):
        sub.unit = roster.by_code(meta["unit_code"])
        if sub.unit is None:
            sub.add(Severity.ERROR, "未知单位", f"模板中的单位编码“{meta['unit_code']}”不在单位名录中，"
                    "请核实后使用本单位的模板。")
        elif typed_unit not in (None, sub.unit):
            assert typed_unit is not None
            sub.add(Severity.ERROR, "单位不一致", f"这是“{sub.unit.name}”的模板，但{label}填的是“{typed}”（另一个单位）。"
                    f"请使用本单位的模板“{template_name(spec, typed_unit)}”重新填写后发送。",
                    unit_field.id, label, address, typed)
        elif typed and typed_unit is None and unit_key(typed) != unit_key(sub.unit.name):
            sub.add(Severity.WARNING, "单位名称被改动", f"这是“{sub.unit.name}”的模板，但{label}被改成了“{typed}”。"
                    f"已按模板计入“{sub.unit.name}”，如有误请联系局安全股。", unit_field.id, label, address, typed)
        if sub.unit is not None:
            _disagreements(sub, sub.unit, "模板中的单位编码", clues)
        return current
    if typed_unit is not None:
        sub.unit = typed_unit
        _disagreements(sub, typed_unit, f"{label}“{typed}”", clues)
        return current
    # A code in the path, then a name in the path, then the sender.
    clue = code_clue or path_clue(sub.file, roster, campaign.county) or mail_clue
    if clue is not None:
        sub.unit = clue.unit
        if typed:
            sub.add(Severity.WARNING, "按文件名确定单位", f"{label}填的是“{typed}”，与单位名录不符；已按{clue.basis}"
                    f"计入“{clue.unit.name}”（{clue.unit.code}），请核实。今后请填写单位全称。",
                    unit_field.id, label, address, typed)
        elif not clue.basis.startswith("文件夹名") and not clue.basis.startswith("发件地址"):
            sub.add(Severity.WARNING, "按文件名确定单位", f"没有填写{label}，已按{clue.basis}计入“{clue.unit.name}”"
                    f"（{clue.unit.code}），请核实。今后请填写单位全称。", unit_field.id, label, address)
        return current
    if not typed:
        sub.add(Severity.ERROR, "未填单位", f"没有填写{label}，无法确定是哪个单位的报表，请填写单位全称后重新发送。",
                unit_field.id, label, address)
        return current
    near = roster.fuzzy(typed, campaign.county)
    if near is not None:
        sub.unit = near[0]
        sub.add(Severity.WARNING, "单位名称不规范", f"{label}填的是“{typed}”，与单位名录中的名称不完全一致，"
                f"已按最接近的“{near[0].name}”（{near[0].code}）计入，请核实。今后请填写单位全称。",
                unit_field.id, label, address, typed)
        return current
    close = roster.closest_names(typed)
    hint = f"是否为：{'、'.join(close)}？" if close else ""
    sub.add(Severity.ERROR, "未知单位", f"“{typed}”不在单位名录中。{hint}请填写与名录一致的单位全称，"
            "或联系局安全股将本单位加入名录。", unit_field.id, label, address, typed)
    return current


def _sender_clue(sender: str, roster: Roster) -> Clue | None:
    unit = sender_unit(sender, roster)
    return Clue(unit, f"发件地址“{sender}”") if unit else None


def _mail_clue(sub: Submission, roster: Roster) -> Clue | None:
    """The unit a saved mail's sender named, for a file that came as its attachment (``sub.sender`` is its code)."""
    unit = roster.by_code(sub.sender) if sub.sender else None
    return Clue(unit, "所附邮件的发件地址") if unit else None


def _disagreements(sub: Submission, unit: Unit, basis: str, clues: list[Clue]) -> None:
    """A 警告 for each outside clue that names another unit than the content does; the content wins."""
    for clue in clues:
        if clue.unit != unit:
            sub.add(Severity.WARNING, "单位来源不一致", f"{basis}表明是“{unit.name}”（{unit.code}），但{clue.basis}"
                    f"表明是“{clue.unit.name}”（{clue.unit.code}）。已按表中内容计入“{unit.name}”，请核实。")
