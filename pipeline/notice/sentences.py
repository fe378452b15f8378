"""A sentence-with-blanks table (活动项目 / 内容要求 / 进展情况) as sections and fields of a form spec.

Field ids are made from the section's place, the blank's place in its sentence and its own wording (what
leads to it and its measure word), so the same notice always gives the same ids, a revised notice keeps
the id of every blank whose section, wording and position are unchanged, and a blank added at the end of
a sentence changes no id before it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pipeline.notice.blanks import BLANK, find_blanks, participation_pairs
from pipeline.notice.model import Review, Table

_TITLE_WORDS = ("项目", "名称", "类别", "事项")
_ENDS = re.compile(r"[。；;！!？?]$")
_SENTENCE_WORDS = ("情况", "进展", "完成", "落实", "成效", "数量")


def _norm(cell: str) -> str:
    return re.sub(r"\s+", "", cell)


def is_sentence_table(table: Table) -> bool:
    """Whether some column of the table's body has blanks to fill in."""
    return any(BLANK.search(cell) for row in table.rows[1:] for cell in row)


def _columns(table: Table) -> tuple[int, int, list[int]]:
    """(title column, sentence column, requirement columns) from the header words, else by position."""
    header = [_norm(c) for c in table.rows[0]]
    width = len(header)
    with_blanks = [sum(bool(BLANK.search(row[i])) for row in table.rows[1:] if i < len(row)) for i in range(width)]
    sentence = max(range(width), key=lambda i: (with_blanks[i], any(w in header[i] for w in _SENTENCE_WORDS), i))
    title = next((i for i, h in enumerate(header) if i != sentence and any(w in h for w in _TITLE_WORDS)), 0)
    middle = [i for i in range(width) if i not in (title, sentence) and _norm(header[i]) not in ("序号", "编号")]
    return title, sentence, middle


def _field_id(section_id: str, ordinal: int, wording: str) -> str:
    digest = hashlib.sha256(wording.encode("utf-8")).hexdigest()[:4]
    return f"{section_id}_{ordinal}_{digest}"


def sections_from_tables(tables: list[Table], annex: int,
                         review: Review) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The [[sections]] of a form from its sentence tables, in order (a second table continues the numbering),
    and the (sessions, participants) field pairs its sentences hold."""
    pairs: list[tuple[str, str]] = []
    rows: list[tuple[str, str, str]] = []
    for table in tables:
        title_col, sentence_col, middle = _columns(table)
        header = tuple(_norm(c) for c in table.rows[0])
        after_break = False
        for row in table.rows[1:]:
            if tuple(_norm(c) for c in row) == header:
                after_break = True  # the header row repeated where Word breaks the table over a page
                continue
            cells = [c.strip() for c in row] + [""] * (len(header) - len(row))
            for i, cell in enumerate(cells):
                if i != sentence_col and BLANK.search(cell):
                    review.add(f"附件{annex}表格“{table.rows[0][i] if i < len(table.rows[0]) else ''}”一栏中的“{cell[:40]}”"
                               f"也有填空，但只有“{table.rows[0][sentence_col]}”一栏的填空作为填报项。请核对。")
            title = re.sub(r"\s*\n\s*", "", cells[title_col])
            requirement = "".join(cells[i] for i in middle)
            # a brace would read as a placeholder in the spec's sentence
            sentence = re.sub(r"\s*\n\s*", "", cells[sentence_col]).replace("{", "｛").replace("}", "｝")
            # The rest of a row that a page break cut in two: no title of its own, or, just after the
            # repeated header, a row whose first part stopped in mid-sentence.
            cut = bool(rows) and (not title or (after_break and not _ENDS.search(rows[-1][2])))
            after_break = False
            if cut:
                last = rows[-1]
                rows[-1] = (last[0] + title, last[1] + requirement, last[2] + sentence)
            elif title or sentence:
                rows.append((title, requirement, sentence))
    sections: list[dict[str, Any]] = []
    for title, requirement, sentence in rows:
        blanks = find_blanks(sentence, title)
        number = len(sections) + 1
        if not blanks:
            review.add(f"附件{annex}表格中“{title or sentence[:20]}”一行没有填空（括号或下划线），未作为活动项目。请核对。")
            continue
        section_id = f"s{number}"
        fields: list[dict[str, Any]] = []
        pieces: list[str] = []
        cursor = 0
        for ordinal, blank in enumerate(blanks, start=1):
            field_id = _field_id(section_id, ordinal, f"{title}|{blank.wording}")
            field: dict[str, Any] = {"id": field_id, "label": blank.label, "kind": blank.kind, "unit": blank.unit}
            fields.append(field)
            pieces.append(sentence[cursor:blank.start] + "（{" + field_id + "}）")
            cursor = blank.end
            for note in blank.notes:
                review.add(f"附件{annex}第{number}项“{title}”：{note}")
        pieces.append(sentence[cursor:])
        sections.append({"id": section_id, "title": title, "requirement": requirement,
                         "sentence": "".join(pieces), "fields": fields})
        pairs.extend((fields[a]["id"], fields[b]["id"]) for a, b in participation_pairs(blanks))
    return sections, pairs


def unique_labels(header: list[dict[str, Any]], sections: list[dict[str, Any]], annex: int, review: Review) -> None:
    """Make every label of the form unique (the rollup's column names), listing each change for review."""
    seen = {f["label"] for f in header}
    for number, section in enumerate(sections, start=1):
        for field in section["fields"]:
            label = field["label"]
            if label not in seen:
                seen.add(label)
                continue
            candidate = f"{label}（{section['title'][:12]}）"
            n = 2
            while candidate in seen:
                candidate = f"{label}（{n}）"
                n += 1
            review.add(f"附件{annex}第{number}项“{section['title']}”中的填报项名称“{label}”与前面的重复，"
                       f"已改为“{candidate}”。请核对是否为同一事项。")
            field["label"] = candidate
            seen.add(candidate)
