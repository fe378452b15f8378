"""Which campaign and form version a return belongs to; its unit is :mod:`pipeline.units.attribution`'s rule.

A template of another year's campaign, or an outdated version of this year's form, is 退回 with the
name of the template to use instead.
"""

from __future__ import annotations

from pipeline.forms.spec import FormSpec, template_name
from pipeline.model import Severity, Submission
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster
from pipeline.units.attribution import attribute_return


def check_identity(sub: Submission, spec: FormSpec, campaign: Campaign, roster: Roster,
                   sender: str = "") -> bool:
    """Campaign, form version and unit; returns whether the template is this campaign's current one.

    ``sender`` is the address a mailed return came from, when known.
    """
    attribute_return(sub, spec, campaign, roster, sender)
    meta = sub.meta
    if not meta:
        return True
    likely = sub.unit or (roster.by_code(meta["unit_code"]) if meta.get("unit_code") else None)
    if meta.get("campaign_id") and meta["campaign_id"] != campaign.id:
        sub.add(Severity.ERROR, "其他年度模板", f"该文件是其他年度活动（{meta.get('year') or meta['campaign_id']}）的模板，"
                f"请改用{campaign.year}年下发的模板“{template_name(spec, likely)}”重新填报。")
        return False
    if meta.get("form_version") and meta["form_version"] != spec.version:
        sub.add(Severity.ERROR, "模板版本过期", f"该文件使用的是旧版模板（版本 {meta['form_version']}），"
                f"请改用最新下发的模板“{template_name(spec, likely)}”重新填报。")
        return False
    return True
