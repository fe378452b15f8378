"""The campaign's facts from the body of the notice: year, edition, theme, dates, deadlines, contact."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from pipeline.notice.annexes import NUMBER, annex_number
from pipeline.notice.model import Annex, Block, Review

_YEAR = re.compile(r"(20\d\d)\s*年")
_EDITION = re.compile(r"第\s*([0-9]{1,3}|[一二三四五六七八九十]{1,4})\s*个\s*“([^”]{2,20})”")
_QUOTED_NAME = re.compile(r"“([^”]{2,12}(?:月|周|日|活动|行动|检查|排查))”")
_DAY = r"(?:(20\d\d)\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*日"
_SPAN = re.compile(_DAY + r"\s*(?:至|到|—|－|-|~|～)\s*" + _DAY)
_DUE = re.compile(_DAY + r"\s*(?:前|之前|以前|止)")
_COUNTY = re.compile(r"([\u4e00-\u9fff]{1,8}?[县区市旗])(?:交通运输局|人民政府|安全生产委员会|应急管理局)")
_BUREAU = re.compile(r"([\u4e00-\u9fff]{1,10}?[县区市旗][\u4e00-\u9fff]{2,10}?局)")
_SECTION = re.compile(r"(局[\u4e00-\u9fff]{1,5}?[股科室])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?:\d{3,4}[-－ ]?)?\d{7,8}|1[3-9]\d{9}")
_CONTACT_LABEL = re.compile(r"(联\s*系\s*人|联系电话|电\s*话|手\s*机|(?:电子)?邮\s*箱|E-?mail)\s*[：:]\s*([^，,；;。\s]+)", re.I)
_SENTENCE_END = re.compile(r"[。；;！!]")


@dataclass
class Facts:
    """What the notice says about the campaign (empty strings / None where it says nothing)."""

    year: int | None = None
    name: str = ""  # 安全生产月
    edition: str = ""
    theme: str = ""
    start: dt.date | None = None
    end: dt.date | None = None
    county: str = ""
    bureau: str = ""
    section: str = ""
    person: str = ""
    phone: str = ""
    email: str = ""
    deadlines: dict[int, dt.date] = field(default_factory=dict)  # annex number -> due date
    summary_annex: int | None = None  # the annex sent together with the written 活动总结


def _lines(body: list[Block]) -> list[str]:
    return [b for b in body if isinstance(b, str)]


def _after_heading(lines: list[str], word: str) -> str:
    """The line under a heading such as “二、活动主题” (or after “活动主题：” on the same line)."""
    for i, line in enumerate(lines):
        found = re.match(rf"^(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十]+[）)])?\s*{word}\s*[：:]?\s*(.*)$", line)
        if found:
            rest = found.group(1).strip().strip("“”\"")
            if rest:
                return rest
            if i + 1 < len(lines):
                return lines[i + 1].strip().strip("“”\"")
    return ""


def _date(year: int, found: tuple[str | None, ...], offset: int = 0) -> dt.date | None:
    explicit, month, day = found[offset:offset + 3]
    try:
        return dt.date(int(explicit) if explicit else year, int(month or 0), int(day or 0))
    except ValueError:
        return None


def _annex_core(title: str) -> str:
    """An annex title without its year, quoted campaign name and the words every title has."""
    core = re.sub(r"20\d\d\s*年|“[^”]*”|\{year\}年", "", title)
    for word in ("活动", "情况", "报送"):
        core = core.replace(word, "")
    return core


def _common(a: str, b: str) -> int:
    """The length of the longest common substring of two short strings."""
    best = 0
    for i in range(len(a)):
        for j in range(i + best + 1, len(a) + 1):
            if a[i:j] in b:
                best = j - i
            else:
                break
    return best


def _tie(clause: str, annexes: list[Annex]) -> list[Annex]:
    """The annexes a deadline clause names: by “附件N”, else by the longest shared wording (≥ 3 characters)."""
    named = {annex_number(n) for n in re.findall(r"附\s*件\s*" + NUMBER, clause)}
    if named:
        return [a for a in annexes if a.number in named]
    objects = re.split(r"[及和与、，,]", clause.split("报送", 1)[-1] if "报送" in clause else clause)
    tied: list[Annex] = []
    for obj in objects:
        scored = sorted(((_common(obj, _annex_core(a.title)), a.number) for a in annexes), reverse=True)
        if scored and scored[0][0] >= 3 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
            annex = next(a for a in annexes if a.number == scored[0][1])
            if annex not in tied:
                tied.append(annex)
    return tied


def find_facts(body: list[Block], annexes: list[Annex], review: Review) -> Facts:
    """The campaign facts of the notice's body; what is missing or unsure goes to the review list."""
    lines = _lines(body)
    text = "\n".join(lines)
    facts = Facts()
    head = "\n".join(lines[:4])
    year = _YEAR.search(head) or _YEAR.search(text)
    if year:
        facts.year = int(year.group(1))
    else:
        review.add("通知中没有写明年份（如“2023年”），活动年度已暂按今年填写。请核对 campaign.toml 的 [campaign] year 及各日期。")
    edition = _EDITION.search(text)
    if edition:
        facts.edition = edition.group(0)
        facts.name = edition.group(2)
    else:
        named = _QUOTED_NAME.search(head) or _QUOTED_NAME.search(text)
        facts.name = named.group(1) if named else ""
        review.add("通知中没有“第N个“……””这样的届次说明，campaign.toml 的 [campaign] edition 已留空，请按需填写。")
    if not facts.name:
        title_line = next((ln for ln in lines if "方案" in ln or "通知" in ln), lines[0] if lines else "")
        name = re.sub(r"[（(]\s*20\d\d\s*年?\s*[)）]", "", title_line)
        name = re.sub(r"^.*?(?:局|委员会|政府|办公室)(?!长)", "", name) or name
        facts.name = re.sub(r"20\d\d\s*年|关于|开展|印发|的通知|实施方案|活动方案|方案|工作", "", name)[:20] or "活动"
        review.add(f"未能从通知中认定活动名称，已暂用“{facts.name}”。请核对 campaign.toml。")
    facts.theme = _after_heading(lines, "活动主题")
    if not facts.theme:
        review.add("通知中没有“活动主题”一节，campaign.toml 的 [campaign] theme 已留空，请按需填写。")
    when = _after_heading(lines, "活动时间")
    span = _SPAN.search(when) or _SPAN.search(text)
    base_year = facts.year or dt.date.today().year
    if span:
        facts.start = _date(base_year, span.groups(), 0)
        facts.end = _date(base_year, span.groups(), 3)
    if facts.start is None or facts.end is None:
        review.add(f"未能从通知中读出活动起止日期（“活动时间”一节为“{when or '（无）'}”），已暂填为全年。"
                   "请核对 campaign.toml 的 [campaign] start 和 end。")
    _place(facts, lines, review)
    _contact(facts, lines, review)
    _deadlines(facts, "".join(lines), annexes, base_year, review)
    return facts


def _place(facts: Facts, lines: list[str], review: Review) -> None:
    text = "".join(lines)  # a PDF's lines break inside words
    county = _COUNTY.search(text)
    bureau = _BUREAU.search(text)
    section = _SECTION.search(text)
    facts.county = county.group(1) if county else ""
    facts.bureau = bureau.group(1) if bureau else ""
    facts.section = section.group(1) if section else ""
    for value, key, what in ((facts.county, "county", "县（区）名称"), (facts.bureau, "bureau", "发文单位全称"),
                             (facts.section, "section", "承办科室（如“局安全股”）")):
        if not value:
            review.add(f"通知中没有写明{what}（标题为“{lines[0] if lines else ''}”），"
                       f"campaign.toml 的 [campaign] {key} 已留空，请填写。")


def _contact(facts: Facts, lines: list[str], review: Review) -> None:
    for found in (m for line in lines for m in _CONTACT_LABEL.finditer(line)):
        label, value = found.group(1), found.group(2).strip()
        if "人" in label and not facts.person:
            facts.person = re.split(r"[\s，,；;（(]", value)[0]
            phone = _PHONE.search(value)
            if phone and not facts.phone:
                facts.phone = phone.group(0)
        elif ("话" in label or "机" in label) and not facts.phone:
            phone = _PHONE.search(value)
            facts.phone = phone.group(0) if phone else value
        elif ("箱" in label or "mail" in label.lower()) and not facts.email:
            email = _EMAIL.search(value)
            facts.email = email.group(0) if email else ""
    if not facts.email:
        email = _EMAIL.search("\n".join(lines))
        facts.email = email.group(0) if email else ""
    for value, key, what in ((facts.person, "person", "联系人"), (facts.phone, "phone", "联系电话"),
                             (facts.email, "email", "电子邮箱")):
        if not value:
            review.add(f"通知中没有写明{what}，campaign.toml 的 [contact] {key} 已留空或暂填，请填写。")


def _deadlines(facts: Facts, text: str, annexes: list[Annex], year: int, review: Review) -> None:
    for clause in _SENTENCE_END.split(text):
        for found in _DUE.finditer(clause):
            piece = clause[found.start():]
            nxt = _DUE.search(piece, len(found.group(0)))
            piece = piece[:nxt.start()] if nxt else piece
            day = _date(year, found.groups())
            if day is None:
                continue
            tied = _tie(piece, annexes)
            quoted = piece.strip("，,。 ")
            if not tied:
                if "报送" in piece or "报" in piece:
                    review.add(f"通知中“{quoted}”的截止日期 {day.isoformat()} 没有对应到任何附件，未采用。"
                               "如它是某张表的截止日期，请改 campaign.toml 的 [deadlines]。")
                continue
            for annex in tied:
                if annex.number in facts.deadlines and facts.deadlines[annex.number] != day:
                    review.add(f"附件{annex.number}有两个截止日期（{facts.deadlines[annex.number].isoformat()} 和 "
                               f"“{quoted}”的 {day.isoformat()}），已采用前者，请核对。")
                    continue
                facts.deadlines.setdefault(annex.number, day)
            if "总结" in piece and facts.summary_annex is None:
                facts.summary_annex = tied[-1].number
