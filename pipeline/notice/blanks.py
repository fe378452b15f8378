"""The blanks of one 进展情况 sentence: where each is, its kind, its measure word and a readable label.

A blank is written （）, （ ）, (  ), （    ） or ____. A count's unit is the measure word printed right
after it (次, 人次, 场, 张（条）…). A blank after 具体为 / 名称 with no measure word asks for words. A
generic word before a blank (参与, 受众, 答题) takes the subject of its clause:
“理论学习中心组学习（）次，参与（）人次” gives 理论学习中心组学习·次数 and 理论学习中心组学习·参与人次.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A blank as notices print it: （）, （ ）, (  ), （    ） (full-width spaces too), or a run of underscores.
BLANK = re.compile(r"[（(][ \u3000\t\xa0]*[)）]|[_＿]{2,}")
# Measure words, longest first, as printed -> (unit stored in the spec, the label's ending).
MEASURES: tuple[tuple[str, str, str], ...] = (
    ("张（条）", "张", "张（条）数"), ("张(条)", "张", "张（条）数"),
    ("人次", "人次", "人次"), ("家次", "家次", "家次"), ("户次", "户次", "户次"), ("车次", "车次", "车次"), ("场次", "场次", "场次"), ("条次", "条次", "条次"),
    ("小时", "小时", "小时数"),
    ("次", "次", "次数"), ("场", "场", "场次"), ("篇", "篇", "篇数"), ("个", "个", "个数"), ("条", "条", "条数"),
    ("家", "家", "家数"), ("部", "部", "部数"), ("张", "张", "张数"), ("人", "人", "人数"), ("名", "名", "人数"),
    ("项", "项", "项数"), ("起", "起", "起数"), ("处", "处", "处数"), ("份", "份", "份数"), ("辆", "辆", "辆数"),
    ("所", "所", "所数"), ("期", "期", "期数"), ("块", "块", "块数"), ("件", "件", "件数"), ("户", "户", "户数"),
    ("台", "台", "台数"), ("套", "套", "套数"), ("批", "批", "批数"), ("幅", "幅", "幅数"), ("本", "本", "本数"),
    ("册", "册", "册数"), ("天", "天", "天数"), ("元", "元", "金额（元）"),
)
# Words before a blank that say nothing of their own: the label takes the clause's subject.
GENERIC = frozenset({"参与", "参加", "受众", "答题", "覆盖", "涉及", "其中", "线上线下", "推广展开或播放", "播放",
                     "推广", "观看", "培训", "出动", "共", "合计", "累计", "人数", "参训"})
# What before a blank with no measure word makes it a text blank, and the label's ending then.
TEXT_CUES: tuple[tuple[str, str], ...] = (("具体为", "具体情况"), ("具体是", "具体情况"), ("名称", "名称"),
                                          ("名单", "名单"), ("内容", "内容"), ("主要做法", "主要做法"),
                                          ("情况说明", "情况说明"), ("说明", "说明"), ("备注", "备注"))
_PHRASE = re.compile(r"[，,；;。：:\n]")
_SUBTITLE = re.compile(r"——[^》]*》")  # 《生命重于泰山——学习……》 -> 《生命重于泰山》 in a label
_LEADING = re.compile(r"^(?:并且|并|及|和|与|还|另有|同时|其中|共计|共)")
_TRAILING = re.compile(r"(?:约|共|达|计|共计|累计|等|(?<=[数量])为)$")
_PREPOSITIONS = frozenset({"对", "向", "为", "在", "有", "给", "从", "共", ""})


# A count of sessions followed, in its clause, by the people who took part: a rule pair (场次 ≤ 参与人次).
SESSIONS = frozenset({"场", "次", "场次"})
PEOPLE = frozenset({"人次", "人"})
PARTICIPATION = frozenset({"参与", "参加", "受众", "线上线下", ""})


@dataclass(frozen=True)
class Blank:
    """One blank of a sentence."""

    start: int  # where the blank is in the sentence
    end: int
    kind: str  # count or text
    unit: str  # the spec's unit ("" for text, or for a count with no measure word)
    measure: str  # the measure word as printed ("" when none)
    label: str
    wording: str  # the words that identify the blank: what leads to it and its measure word
    notes: tuple[str, ...]  # uncertain choices, in Chinese
    lead: str = ""  # the words right before the blank, tidied (“参与”, “组织开展全员应急救援演练”)
    same_clause: bool = False  # no “；” or “。” between the previous blank and this one


def _clean(lead: str) -> str:
    lead = _LEADING.sub("", lead.strip().lstrip("、"))
    return _SUBTITLE.sub("》", _TRAILING.sub("", lead).strip())


def _measure(after: str) -> tuple[str, str, str]:
    for printed, unit, ending in MEASURES:
        if after.startswith(printed):
            return printed, unit, ending
    return "", "", ""


def find_blanks(sentence: str, title: str) -> list[Blank]:
    """Every blank of the sentence, in order, with its kind, unit, label and uncertain choices."""
    spans = [(m.start(), m.end()) for m in BLANK.finditer(sentence)]
    blanks: list[Blank] = []
    subject = ""  # the last thing named before the blank: what a generic word (参与, 受众) is about
    cursor = 0
    for i, (start, end) in enumerate(spans):
        before = sentence[cursor:start]
        lead = _clean(_PHRASE.split(before)[-1])
        measure, unit, ending = _measure(sentence[end:])
        following = spans[i + 1][0] if i + 1 < len(spans) else len(sentence)
        tail = _clean(re.split(r"[，,、；;。：:\n]", sentence[end + len(measure):following])[0])
        notes: list[str] = []
        kind = "count"
        text_ending = ""
        if not measure:
            named = _clean(_PHRASE.split(before.rstrip("：:　 "))[-1])  # “名称：（）” too
            cue = next(((c, e) for c, e in TEXT_CUES if named.endswith(c)), None)
            if cue:
                kind, text_ending = "text", cue[1]
                lead = _clean(named.removesuffix(cue[0]))
                notes.append(f"“{_quote(sentence, start, end)}”后面没有量词，前面是“{cue[0]}”，已作为文字填报项。")
            else:
                notes.append(f"“{_quote(sentence, start, end)}”后面没有量词，已作为不带单位的数量填报项，请核对。")
        if measure and lead in _PREPOSITIONS and tail:  # “对（）个企业开展排查”: the noun after the count
            core = tail
        elif measure and len(lead) <= 2 and lead not in GENERIC and tail:
            core = lead + tail
        else:
            core = lead
        if not subject:
            subject = title
        if kind == "text":
            label = f"{core or subject}·{text_ending}"
        elif not core or core in GENERIC:
            label = f"{subject}·{core}{ending or '数量'}"
        else:
            label = f"{core}·{ending or '数量'}"
        if i and spans[i - 1][1] + len(blanks[-1].measure) == start:
            notes.append(f"“{_quote(sentence, spans[i - 1][0], end)}”中两个填空之间没有标点，已按两个填报项处理，请核对。")
        if core and core not in GENERIC:
            subject = core
        blanks.append(Blank(start, end, kind, unit, measure, label, f"{before.strip()}|{measure}", tuple(notes),
                            lead, i > 0 and not re.search(r"[；;。！？!?]", before)))
        cursor = end + len(measure)
    return blanks


def participation_pairs(blanks: list[Blank]) -> list[tuple[int, int]]:
    """(sessions, participants) blank indexes: “活动（）场，参与（）人次”; not a broadcast and its audience."""
    pairs: list[tuple[int, int]] = []
    for i in range(1, len(blanks)):
        first, second = blanks[i - 1], blanks[i]
        if (first.kind == second.kind == "count" and first.unit in SESSIONS and second.unit in PEOPLE
                and second.same_clause and second.lead in PARTICIPATION
                and first.lead not in GENERIC and "播放" not in first.lead):
            pairs.append((i - 1, i))
    return pairs


def _quote(sentence: str, start: int, end: int) -> str:
    """The phrase of the sentence the blank is in, as the notice prints it."""
    left = max((m.end() for m in _PHRASE.finditer(sentence, 0, start)), default=0)
    right = _PHRASE.search(sentence, end)
    return sentence[left:right.start() if right else len(sentence)].strip()
