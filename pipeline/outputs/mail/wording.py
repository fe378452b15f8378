"""What the messages say: titles, letters and one matter per thing a unit owes or must fix."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.forms.layout import section_heading
from pipeline.forms.spec import FormSpec
from pipeline.model import Status
from pipeline.outputs.feedback import Feedback, cn_date, cn_full_date
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Unit

if TYPE_CHECKING:  # pipeline.checks.rollup pulls in pandera: the commands import it when they run
    from pipeline.checks.rollup import UnitStatus



def year_title(spec: FormSpec, year: int) -> str:
    """A form's title with the year in front: 2023年“安全生产月”活动情况统计表."""
    title = spec.title_for(year)
    return title if title.startswith(f"{year}年") else f"{year}年{title}"


def joint_title(specs: Sequence[FormSpec], year: int) -> str:
    """Several forms named together: 2023年“安全生产月”活动情况统计表及联络员表."""
    titles = [year_title(s, year) for s in specs]
    if len(titles) == 1:
        return titles[0]
    common = titles[0]
    for title in titles[1:]:
        while not title.startswith(common):
            common = common[:-1]
    if not common.endswith("活动"):
        common = common[: common.rfind("”") + 1] if "”" in common else ""
    return common + "及".join(t[len(common):] for t in titles)


def _quoted(spec: FormSpec, year: int) -> str:
    return f"{spec.annex}《{spec.title_for(year)}》"


def _what(spec: FormSpec, year: int) -> str:
    """What a unit must send for a form, as the plan words it."""
    return ("活动总结及" if spec.roles.summary else "") + _quoted(spec, year)


INDENT = "\u3000\u3000"  # two full-width spaces open a paragraph, as in the official documents


def _until(due: dt.date, on: dt.date) -> str:
    """The time left to act, said once: “于2023年6月30日前”, or “尽快” once the deadline has passed."""
    return f"于{cn_full_date(due)}前" if on <= due else "尽快"


def _late(due: dt.date, on: dt.date) -> str:
    """Once the deadline has passed, a note saying which it was; before it, nothing (the date is given already)."""
    return "" if on <= due else f"（报送截止日期{cn_full_date(due)}已过）"


def plan_name(campaign: Campaign) -> str:
    """The campaign plan's title as cited in notices."""
    return f"《全县交通运输系统{campaign.year}年“{campaign.name}”活动方案》"


def letter(campaign: Campaign, unit: Unit, paragraphs: Sequence[str], attachments: Sequence[Path],
           on: dt.date) -> str:
    """A notice in the plan's layout: salutation, indented paragraphs, contact, attachments, sign-off."""
    lines = [f"{unit.name}："]
    lines += [INDENT + p if p else "" for p in paragraphs]
    lines += ["", f"联系人：{campaign.contact_person}", f"联系电话：{campaign.contact_phone}",
              f"邮箱：{campaign.contact_email}", ""]
    for i, path in enumerate(attachments, start=1):
        lines.append(f"附件：{i}.{path.name}" if i == 1 else f"{chr(0x3000) * 3}{i}.{path.name}")
    lines += ["", campaign.bureau, cn_full_date(on)]
    return "\n".join(lines) + "\n"


_FILL_HINT = ("模板已锁定，请只在浅黄色的单元格内填写；数量一律填阿拉伯数字整数，没有开展的填0。"
              "请勿增删行列、改动表名或另存为其他格式，填好后将原文件直接作为附件发回本邮箱。")


def templates_body(campaign: Campaign, specs: Sequence[FormSpec], unit: Unit, attachments: Sequence[Path],
                   on: dt.date) -> str:
    """The notice sent with the blank templates."""
    c = campaign
    names = "、".join(_quoted(s, c.year) for s in specs)
    paragraphs = [
        f"{c.year}年{c.end.month}月是全国{c.edition}，活动主题为“{c.theme}”，活动时间为{cn_date(c.start)}至"
        f"{cn_date(c.end)}。根据{plan_name(c)}要求，现将{names}填报模板发给贵单位（见附件），请按以下要求及时报送：",
    ]
    items = []
    for spec in sorted(specs, key=lambda s: c.deadline(s.deadline)):
        item = f"请于{cn_date(c.deadline(spec.deadline))}前报送{_what(spec, c.year)}"
        if not spec.roles.summary and not spec.has_sentences:
            item += (f"，每个单位报送一名联络员，负责收集汇总活动期间正反两方面典型和特色项目、重要活动资料，"
                     f"及时把视频、图片、文字等电子版资料报至{c.section}")
        items.append(item + "。")
    items.append(_FILL_HINT)
    paragraphs += [section_heading(i, text) for i, text in enumerate(items)]
    return letter(c, unit, paragraphs, attachments, on)


@dataclass(frozen=True)
class Matter:
    """One thing a unit still owes, must fix or should check: one numbered section of its notice."""

    label: str  # 附件2 未报送, 附件1 退回, 活动总结 未报送, 附件1 有警告
    paragraphs: tuple[str, ...]  # the section: its first sentence, then the problems and the request
    key: str  # ledger key of this matter (kind, unit, form and what it is about)
    spec: FormSpec | None = None  # None for the 活动总结
    attachment: Path | None = None
    owed: bool = False  # 未报送 (a form or the 活动总结), as opposed to 退回 / 有警告


def missing_matter(campaign: Campaign, spec: FormSpec, unit: Unit, attachment: Path, on: dt.date,
                   key: str) -> Matter:
    """A form not received: the requirement, whether its deadline has passed, the blank template attached."""
    c = campaign
    due = c.deadline(spec.deadline)
    extra = "活动总结请一并发送。" if spec.roles.summary else ""
    late = on > due
    text = (f"{_quoted(spec, c.year)}未报送。按{plan_name(c)}要求，各单位应于{cn_full_date(due)}前报送"
            f"{_what(spec, c.year)}{'，现已逾期' if late else ''}。{c.section}尚未收到贵单位报送的该表，"
            f"请{'抓紧' if late else ''}填写附件中的模板“{attachment.name}”，{'尽快' if late else '在截止日期前'}"
            f"将原文件直接作为附件发回本邮箱。{extra}")
    return Matter(f"{spec.annex} 未报送", (text,), key, spec, attachment, owed=True)


def mismatch_matter(campaign: Campaign, spec: FormSpec, st: UnitStatus, attachment: Path, key: str) -> Matter:
    """A return received but unreadable (格式不符): what came, why it cannot be used, the template attached."""
    c = campaign
    file = st.latest.file if st.latest else ""
    shown = file.rsplit("/", 1)[-1] if file else "所报送的文件"
    text = (f"{_quoted(spec, c.year)}格式不符。{c.section}已收到贵单位报送的“{shown}”，但无法读取，"
            f"请使用附件中的模板“{attachment.name}”重新报送：在模板上填写后，将 .xlsx 原文件直接作为附件发回本邮箱，"
            "不要发送照片、截图、扫描件或压缩包。")
    return Matter(f"{spec.annex} {Status.MISMATCH}", (text,), key, spec, attachment, owed=True)


def summary_matter(campaign: Campaign, due: dt.date, on: dt.date, key: str) -> Matter:
    """The 活动总结 not received by its deadline; nothing to attach."""
    c = campaign
    late = on > due
    text = (f"{c.year}年“{c.name}”活动总结未报送。按{plan_name(c)}要求，各单位应于{cn_full_date(due)}前报送活动总结"
            f"及情况统计表{'，现已逾期' if late else ''}。{c.section}尚未收到贵单位的活动总结，请抓紧撰写，"
            f"{'尽快' if late else '在截止日期前'}"
            "将活动总结（Word 或 PDF 格式，文件名请注明单位名称和“活动总结”字样）作为附件发回本邮箱；"
            "活动期间的视频、图片、文字等资料请一并报送。")
    return Matter("活动总结 未报送", (text,), key, owed=True)


def returned_matter(campaign: Campaign, item: Feedback, on: dt.date, key: str) -> Matter:
    """A returned form: its problems and the feedback workbook to correct."""
    c = campaign
    due = c.deadline(item.spec.deadline)
    sent = Path(item.submission.file).name
    counted = item.status.counted
    fate = (f"在贵单位重新报送前，全县汇总暂用贵单位较早报送的合格报表“{Path(counted.file).name}”。"
            if counted is not None else "该表在重新报送并通过审核前不纳入全县汇总。")
    paragraphs = (
        f"{_quoted(item.spec, c.year)}（文件“{sent}”）经审核存在以下问题，现予退回：",
        *item.problems,
        f"附件“{item.path.name}”为根据贵单位原报送内容生成的审核反馈表，存在问题的单元格已标红并附批注。请在标红的"
        f"单元格中更正（其他内容无需重填），保存后将该文件直接作为附件发回本邮箱，{_until(due, on)}重新报送"
        f"{_late(due, on)}。{fate}",
    )
    return Matter(f"{item.spec.annex} 退回", paragraphs, key, item.spec, item.path)


def warned_matter(campaign: Campaign, item: Feedback, on: dt.date, key: str) -> Matter:
    """A form that passed with warnings: what to check and the feedback workbook."""
    c = campaign
    due = c.deadline(item.spec.deadline)
    sent = Path(item.submission.file).name
    paragraphs = (
        f"{_quoted(item.spec, c.year)}（文件“{sent}”）已通过审核，纳入全县汇总。经核对，以下情况请予核实：",
        *item.problems,
        f"附件“{item.path.name}”为根据贵单位报送内容生成的审核反馈表，需核实的单元格已标红并附批注。如确有差错，"
        f"请在标红的单元格中更正，保存后将该文件直接作为附件发回本邮箱，{_until(due, on)}重新报送"
        f"{_late(due, on)}；核实无误的，无需再次报送。",
    )
    return Matter(f"{item.spec.annex} {Status.WARNED}", paragraphs, key, item.spec, item.path)


def notice_body(campaign: Campaign, unit: Unit, matters: Sequence[Matter], on: dt.date, kind: str,
                also: str = "") -> str:
    """One notice listing every matter as a numbered section (一、二、…), then what applies to all of them, and
    ``also``: the other mail the unit gets at the same time, if any."""
    c = campaign
    if kind == "feedback":
        opening = f"经{c.section}审核，截至{cn_full_date(on)}，贵单位报送的报表中有以下情况请予核实："
    else:
        opening = f"根据{plan_name(c)}要求，截至{cn_full_date(on)}，贵单位尚有以下事项需要办理："
    paragraphs = [opening]
    for index, matter in enumerate(matters):
        first, *rest = matter.paragraphs
        paragraphs += [section_heading(index, first), *rest]
    if any(m.owed and m.spec is not None for m in matters):
        paragraphs.append(_FILL_HINT.split("；")[0] + "，不要另存为其他格式。")
    if any(m.owed and not m.label.endswith(Status.MISMATCH) for m in matters):  # 格式不符: it did arrive
        paragraphs.append("如已报送，请将原邮件重新发送一次，并电话告知联系人。")
    if also:
        paragraphs.append(also)
    attachments = [m.attachment for m in matters if m.attachment is not None]
    return letter(c, unit, paragraphs, attachments, on)


def notice_subject(campaign: Campaign, matters: Sequence[Matter], kind: str) -> str:
    """The subject names what the notice is about: 催报, 退回修改 or both, or 核实 for the feedback."""
    year = campaign.year
    matters = sorted(matters, key=lambda m: m.spec.annex if m.spec else "")  # titles in annex order: 附件1 及 附件2
    forms = [m.spec for m in matters if m.spec is not None]
    if kind == "feedback":
        return f"关于核实{joint_title(forms, year)}有关情况的通知"
    owed = [m for m in matters if m.owed]
    returned = [m.spec for m in matters if not m.owed and m.spec is not None]
    if owed and returned:
        return f"关于催报及退回修改{year}年“{campaign.name}”有关报送事项的通知"
    if returned:
        return f"关于退回修改{joint_title(returned, year)}的通知"
    owed_forms = [m.spec for m in owed if m.spec is not None]
    summary = any(m.spec is None for m in owed)
    what = joint_title(owed_forms, year) if owed_forms else f"{year}年“{campaign.name}”活动"
    return f"关于催报{what}{'及活动总结' if summary and owed_forms else '总结' if summary else ''}的通知"


