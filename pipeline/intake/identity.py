"""Which campaign, form version and unit a return belongs to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.forms.spec import FormSpec, template_name
from pipeline.model import Severity, Submission
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster, normalise_name

if TYPE_CHECKING:
    pass



def check_identity(sub: Submission, spec: FormSpec, campaign: Campaign, roster: Roster) -> bool:
    """Campaign, form version and unit; returns whether the template is this campaign's current one."""
    meta = sub.meta
    current = True
    unit_field = spec.field(spec.roles.unit)
    name_raw = sub.raw.get(unit_field.id)
    typed = str(name_raw.value).strip() if name_raw and name_raw.value is not None else ""
    # The unit is settled below; for the advice on which template to use, a best guess is enough.
    likely = roster.by_code(meta["unit_code"]) if meta.get("unit_code") else roster.by_name(typed)
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
    if meta.get("unit_code"):
        sub.unit = roster.by_code(meta["unit_code"])
        if sub.unit is None:
            sub.add(Severity.ERROR, "未知单位", f"模板中的单位编码“{meta['unit_code']}”不在单位名录中，"
                    "请核实后使用本单位的模板。")
        elif typed and roster.by_name(typed) not in (None, sub.unit):
            other = roster.by_name(typed)
            assert other is not None
            sub.add(Severity.ERROR, "单位不一致", f"这是“{sub.unit.name}”的模板，但{label}填的是“{typed}”（另一个单位）。"
                    f"请使用本单位的模板“{template_name(spec, other)}”重新填写后发送。",
                    unit_field.id, label, address, typed)
        elif typed and normalise_name(typed) != normalise_name(sub.unit.name):
            sub.add(Severity.WARNING, "单位名称被改动", f"这是“{sub.unit.name}”的模板，但{label}被改成了“{typed}”。"
                    f"已按模板计入“{sub.unit.name}”，如有误请联系局安全股。", unit_field.id, label, address, typed)
        return current
    if not typed and _unit_from_folder(sub, roster):
        return current
    if not typed:
        sub.add(Severity.ERROR, "未填单位", f"没有填写{label}，无法确定是哪个单位的报表，请填写单位全称后重新发送。",
                unit_field.id, label, address)
        return current
    sub.unit = roster.by_name(typed)
    if sub.unit is None:
        close = roster.closest_names(typed)
        hint = f"是否为：{'、'.join(close)}？" if close else ""
        sub.add(Severity.ERROR, "未知单位", f"“{typed}”不在单位名录中。{hint}请填写与名录一致的单位全称，"
                "或联系局安全股将本单位加入名录。", unit_field.id, label, address, typed)
    return current


def _unit_from_folder(sub: Submission, roster: Roster) -> bool:
    """When the file does not say its unit, take the unit its folder names (``邮件/<date>/U013_…/``,
    the sender's unit as fetch saved it), else the sender of the saved mail it came in; returns whether that settled the unit."""
    from pipeline.intake.arrival import folder_unit

    sub.unit = folder_unit(sub.file, roster) or (roster.by_code(sub.sender) if sub.sender else None)
    return sub.unit is not None
