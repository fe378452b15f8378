"""Split the notice into its body and its 附件: each annex's title, header line, tables and other text."""

from __future__ import annotations

import re

from pipeline.notice.model import Annex, Block, Table

# “附件1”, “附件 2”, “附件3：……名单” on a line of its own (the body's list “附件：1.…” is not a heading).
NUMBER = r"([0-9０-９]{1,2}|[一二三四五六七八九十]{1,3})"  # an annex number: 1, １ or 一
_HEADING = re.compile(r"^附\s*件\s*" + NUMBER + r"\s*(?:[：:]\s*(\S.{0,60}))?$")
_LIST_ITEM = re.compile(r"^(?:附\s*件\s*[：:])?\s*" + NUMBER + r"\s*[.．、]\s*(\S.*)$")
HEADER_LABEL = re.compile(r"([\u4e00-\u9fff（）()]{2,8})\s*[：:]")
_HEADER_WORDS = ("单位", "联系人", "电话", "手机", "日期", "邮箱", "填报人", "审核人", "负责人", "时间")


def annex_number(text: str) -> int:
    """An annex number written 1, １ or 一."""
    import cn2an

    digits = text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    return int(digits) if digits.isdigit() else int(cn2an.cn2an(digits, "normal"))


def is_annex_heading(text: str) -> bool:
    """Whether a line is an annex heading: “附件1” (or “附件一”, “附件1：标题”) on a line of its own."""
    return bool(_HEADING.match(text))


def is_header_line(text: str) -> bool:
    """Whether a line is a form's header line: two or more “label：” with the usual header words."""
    labels = HEADER_LABEL.findall(text)
    return len(labels) >= 2 and all(any(w in label for w in _HEADER_WORDS) for label in labels)


def listed_titles(body: list[Block]) -> dict[int, str]:
    """The annex titles the body lists after “附件：” (“1.“安全生产月”活动情况统计表”)."""
    titles: dict[int, str] = {}
    listing = False
    for block in body:
        if not isinstance(block, str):
            listing = False
            continue
        if re.match(r"^附\s*件\s*[：:]", block):
            listing = True
        found = _LIST_ITEM.match(block) if listing else None
        if found:
            titles[annex_number(found.group(1))] = found.group(2).strip()
        elif listing and not re.match(r"^附\s*件\s*[：:]\s*$", block):
            listing = False
    return titles


def split_annexes(blocks: list[Block]) -> tuple[list[Block], list[Annex]]:
    """The body (everything before the first annex heading) and the annexes in order."""
    starts = [i for i, b in enumerate(blocks) if isinstance(b, str) and is_annex_heading(b.strip())]
    if not starts:
        return blocks, []
    body = blocks[:starts[0]]
    listed = listed_titles(body)
    annexes: list[Annex] = []
    for n, start in enumerate(starts):
        heading = _HEADING.match(str(blocks[start]).strip())
        assert heading is not None
        number = annex_number(heading.group(1))
        part = blocks[start + 1:starts[n + 1] if n + 1 < len(starts) else len(blocks)]
        title = (heading.group(2) or "").strip()
        header_line = ""
        tables: list[Table] = []
        paragraphs: list[str] = []
        for block in part:
            if isinstance(block, Table):
                tables.append(block)
            elif not title and not tables and not paragraphs and not is_header_line(block):
                title = block.strip()
            elif not header_line and not tables and is_header_line(block):
                header_line = block.strip()
            else:
                paragraphs.append(block.strip())
        annexes.append(Annex(number, title or listed.get(number, f"附件{number}"), header_line,
                             tuple(tables), tuple(paragraphs)))
    return body, annexes
