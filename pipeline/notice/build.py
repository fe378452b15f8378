"""Notice → campaign folder contents: campaign.toml and one form spec per 附件 that is a form, as tables."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import NoticeError
from pipeline.notice.annexes import split_annexes
from pipeline.notice.blanks import BLANK
from pipeline.notice.columns import column_form, header_fields, is_filled, standard_liaison
from pipeline.notice.facts import Facts, find_facts
from pipeline.notice.model import Annex, Block, Review
from pipeline.notice.read import read_notice
from pipeline.notice.rules import participation_rules
from pipeline.notice.sentences import is_sentence_table, sections_from_tables, unique_labels
from pipeline.settings.campaign import Limits

FORMS_FOLDER = "forms"
PLACEHOLDER_EMAIL = "fill-in@example.com"


@dataclass(frozen=True)
class CampaignFolder:
    """What ``init`` writes: the campaign settings, the form specs by id, and the review list."""

    campaign: dict[str, Any]
    forms: dict[str, dict[str, Any]]
    review: tuple[str, ...]


def _titled(title: str, year: int | None) -> str:
    """The annex title with its year written as {year}, so that the form serves the year of campaign.toml."""
    return title.replace(f"{year}年", "{year}年") if year else title


def _sheet_name(title: str) -> str:
    """A short rollup sheet name from a title: no year, no quoted campaign name, at most 28 characters."""
    name = re.sub(r"\{year\}年|20\d\d\s*年|“[^”]*”|[\\/?*\[\]:：]", "", title).removeprefix("活动")
    return name[:28] or "表"


def _form(annex: Annex, facts: Facts, review: Review) -> dict[str, Any] | None:
    """The spec of one annex, or None when the annex is not a form (a 活动方案, a filled-in list)."""
    n = annex.number
    form: dict[str, Any] = {"id": f"annex{n}", "annex": f"附件{n}", "title": _titled(annex.title, facts.year),
                            "sheet": f"附件{n}", "deadline": f"annex{n}_due"}
    sentence_tables = [t for t in annex.tables if t.rows and is_sentence_table(t)]
    column_tables = [t for t in annex.tables if t.rows and not is_sentence_table(t)]
    if sentence_tables:
        header, roles = header_fields(annex.header_line, n, review)
        sections, pairs = sections_from_tables(sentence_tables, n, review)
        if not sections:
            review.add(f"附件{n}“{annex.title}”的表格中没有任何填空，未生成表单。")
            return None
        unique_labels(header, sections, n, review)
        roles["summary"] = facts.summary_annex == n
        spec: dict[str, Any] = {"form": {**form, "roles": roles}, "header": header, "sections": sections}
        rules = participation_rules(pairs)
        return {**spec, "rules": rules} if rules else spec
    if column_tables:
        table = column_tables[0]
        if is_filled(table):
            review.add(f"附件{n}“{annex.title}”的表格已填有内容（如名单、通讯录），不是需要各单位填报的表，未生成表单。")
            return None
        header, sections, roles = column_form(table, n, review)
        unique_labels(header, sections, n, review)
        return {"form": {**form, "rollup_sheet": _sheet_name(annex.title), "roles": roles},
                "header": header, "sections": sections}
    if "联络员" in annex.title:
        spec = standard_liaison()
        spec["form"] = {**spec["form"], **form, "rollup_sheet": spec["form"].get("rollup_sheet", "联络员表")}
        review.add(f"附件{n}“{annex.title}”在通知中只有标题、没有表格，已按标准联络员表生成（单位名称、姓名、职务、"
                   "办公电话、手机、电子邮箱、备注）。请运行 make templates 后查看是否符合要求。")
        return spec
    with_blanks = next((p for p in annex.paragraphs if BLANK.search(p)), "")
    if with_blanks:
        review.add(f"附件{n}“{annex.title}”的文字中有填空（如“{with_blanks[:30]}”），但程序没有找到它所在的表格"
                   "（PDF 中没有框线的表格、或以文本框排版的表格会这样），未生成表单。请提供 Word 版通知后重新运行。")
        return None
    what = "只有文字" if annex.paragraphs else "只有标题"
    review.add(f"附件{n}“{annex.title}”{what}、没有需填写的表格，不是报表，未生成表单。")
    return None


def _campaign(facts: Facts, forms: dict[str, dict[str, Any]], review: Review) -> dict[str, Any]:
    year = facts.year or dt.date.today().year
    start = facts.start or dt.date(year, 1, 1)
    end = facts.end or dt.date(year, 12, 31)
    deadlines: dict[str, dt.date] = {}
    for spec in forms.values():
        number = int(spec["form"]["annex"].removeprefix("附件"))
        due = facts.deadlines.get(number)
        if due is None:
            due = end
            review.add(f"通知中没有找到{spec['form']['annex']}“{spec['form']['title']}”的报送截止日期，"
                       f"已暂定为活动结束日 {end.isoformat()}。请核对 campaign.toml 的 [deadlines] {spec['form']['deadline']}。")
        deadlines[spec["form"]["deadline"]] = due
    name = facts.name or "活动"
    if not facts.email:
        review.add(f"campaign.toml 的 [contact] email 暂填为 {PLACEHOLDER_EMAIL}，发出邮件前必须改为本单位的邮箱。")
    return {
        "campaign": {"id": f"{year}-{name}", "name": name, "year": year, "edition": facts.edition, "theme": facts.theme,
                     "start": start, "end": end, "county": facts.county, "bureau": facts.bureau,
                     "section": facts.section, "forms": FORMS_FOLDER},
        "deadlines": deadlines,
        "contact": {"person": facts.person, "phone": facts.phone, "email": facts.email or PLACEHOLDER_EMAIL},
        "limits": {key: value.default for key, value in Limits.__dataclass_fields__.items()},
    }


def build_campaign(blocks: list[Block], source: str) -> CampaignFolder:
    """The campaign folder's contents from the notice's blocks; :class:`NoticeError` when there is no form."""
    review = Review()
    body, annexes = split_annexes(blocks)
    if not annexes:
        raise NoticeError(f"通知“{source}”中没有找到附件（如单独一行的“附件1”），也就没有需要各单位填报的附件表格，"
                          "未生成任何文件。请核对是否选对了通知文件，或是否为带附件表格的完整通知。")
    facts = find_facts(body, annexes, review)
    forms: dict[str, dict[str, Any]] = {}
    for annex in annexes:
        spec = _form(annex, facts, review)
        if spec is not None:
            forms[spec["form"]["id"]] = spec
    if not forms:
        why = "".join(f"\n  {line}" for line in review.lines if line.startswith("附件"))
        raise NoticeError(f"通知“{source}”的附件中没有需要填报的表格（没有带填空的表格、栏目表或联络员表），"
                          f"未生成任何文件。请核对通知原文。{why}")
    return CampaignFolder(_campaign(facts, forms, review), forms, tuple(review.lines))


def campaign_from_notice(path: Path) -> CampaignFolder:
    """Read the notice file and build its campaign folder's contents."""
    return build_campaign(read_notice(path), path.name)
