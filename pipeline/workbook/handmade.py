"""Read a sheet a unit made itself (or retyped) by what its texts say, never by guessing.

Three layouts are recognised on each visible sheet, and the one that places the most items wins:

- **labels**: a label with its value in the cell to the right (or below, when the right one is
  another label), or “标签：值” in one cell. Labels are compared with the spec's labels and with
  the clauses of its 进展情况 sentences by a similarity score (rapidfuzz), so slightly different
  wording is understood;
- **sentences**: the notice's 3-column table retyped, numbers typed inside the （） of the
  进展情况 sentences, read by :func:`pipeline.documents.sentences.match_form` on the sheet's cell
  texts in row order, exactly as the Word reader does;
- **rows**: one row per activity with 场次/次数 and 人次/人数 columns.

A text that scores almost as well for two items is ambiguous: it is not placed, and the return
is sent back (退回) listing what could not be placed. A missing optional field (典型案例) is never
an error; a missing activity item is unread, not blank: the return is 退回 with one 错误 naming every
missing item (an item present but left empty stays blank). Other items missing are a 警告.
Reading is pure (a loaded :class:`~pipeline.workbook.book.Book` in, a :class:`HandRead` out);
:func:`fill_submission` then records it on the submission with its findings.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from pipeline.documents.sentences import match_form
from pipeline.forms.spec import PROGRAM_SHEETS, READ_MAP_SHEET, Field, FormSpec
from pipeline.model import RawCell, Severity, Submission
from pipeline.workbook.book import Book, Grid, cell_address

THRESHOLD = 75.0  # similarity (0-100) from which a text is taken to name an item
MARGIN = 10.0  # a runner-up this close to the best score makes the text ambiguous
CONTAINED = 90.0  # the score of a text holding an item's whole name and a few more words
MAX_LABEL = 40  # characters: a longer text is a sentence or a note, not a label
HEADING_LABELS = 3  # labels in one row that make it a row of column headings
MIN_PLACED = 2  # body items a sheet must place to be taken for a form at all
TOTAL_WORDS = ("合计", "总计", "小计", "累计")
_PEOPLE = re.compile("人")  # a measure counting people: 人次, 人数, 受众人数…
_SESSION_HEAD = re.compile("场次|次数|场数|数量|篇数|个数|条数|^次$|^场$")
_PEOPLE_HEAD = re.compile("人次|人数|受众|参与")
_SEPARATORS = re.compile(r"[；;，,。]")
_PLACEHOLDER = re.compile(r"（\{([a-z][a-z0-9_]*)\}）")
_COLONS = "：:"
_NUMBER_LIKE = re.compile(r"[0-9０-９.,，\s]*")  # a cell of digits only: a count, never a 典型案例 text


def norm(text: str) -> str:
    """A text reduced to what labels are compared on: letters, digits and CJK, full width folded."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text))


def _show(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Placed:
    """One item read from the sheet: where, what it holds, and the text it was recognised by."""

    field_id: str
    row: int
    col: int
    value: Any
    text: str

    @property
    def address(self) -> str:
        """A1 address of the cell the value was read from."""
        return cell_address(self.row, self.col)


@dataclass
class HandRead:
    """What one sheet yields for one form in its best layout."""

    spec: FormSpec
    grid: Grid
    layout: str
    placed: dict[str, Placed] = field(default_factory=dict)
    unplaced: list[str] = field(default_factory=list)  # items that could not be placed, in words

    @property
    def body(self) -> int:
        """Number of body items placed."""
        return sum(f.id in self.placed for f in self.spec.body_fields)


# ----------------------------------------------------------------------------- names of each item


def _clauses(spec: FormSpec) -> dict[str, str]:
    """For each blank, the sentence clause naming it (with the clause before when it only says 参与/受众)."""
    names: dict[str, str] = {}
    for section in spec.sections:
        if not section.sentence:
            continue
        units = {f.id: f.unit for f in section.fields}
        previous = ""
        start = 0
        for match in _PLACEHOLDER.finditer(section.sentence):
            before = _SEPARATORS.split(section.sentence[start:match.start()])[-1]
            before = _PLACEHOLDER.sub("", before)
            fid = match.group(1)
            clause = norm(before)
            if len(clause) <= 4 and previous:
                clause = previous + clause
            names[fid] = clause + units[fid]
            if len(norm(before)) > 4:
                previous = norm(before)
            start = match.end()
    return names


@functools.cache
def _names(spec: FormSpec) -> dict[str, tuple[str, ...]]:
    """Every field's names to compare a label with: its label (with and without the unit), its clause."""
    clauses = _clauses(spec)
    names: dict[str, tuple[str, ...]] = {}
    for f in spec.fields:
        own = {norm(f.label)}
        if f.id in clauses:
            own.add(clauses[f.id])
        names[f.id] = tuple(sorted(n for n in own if n))
    return names


@functools.cache
def _activities(spec: FormSpec) -> dict[str, tuple[tuple[str, ...], tuple[Field, ...]]]:
    """Each activity (the label part before “·”) -> its names and its count fields."""
    clauses = _clauses(spec)
    groups: dict[str, list[Field]] = {}
    for f in spec.body_fields:
        if f.kind == "count":
            groups.setdefault(f.label.split("·")[0], []).append(f)
    found: dict[str, tuple[tuple[str, ...], tuple[Field, ...]]] = {}
    for activity, fields in groups.items():
        names = {norm(activity)}
        first = clauses.get(fields[0].id, "")
        if first:
            names.add(first.removesuffix(fields[0].unit))
        found[activity] = (tuple(sorted(names)), tuple(fields))
    return found


def _ranked(text: str, names: Mapping[str, Iterable[str]]) -> list[tuple[float, str]]:
    """Each key's best similarity with ``text``, best first."""
    key = norm(text)
    if len(key) < 2:
        return []
    scores = [(max((_similarity(key, n) for n in ns), default=0.0), k) for k, ns in names.items()]
    return sorted(scores, key=lambda s: -s[0])


def _similarity(text: str, name: str) -> float:
    """fuzz.ratio, or 90 when the text is the name with a few words added (“联络员姓名” for 姓名)."""
    score = float(fuzz.ratio(text, name))
    if score < CONTAINED and len(name) >= 2 and name in text and len(text) <= 2 * len(name) + 3:
        return CONTAINED
    return score


def _pick(ranked: list[tuple[float, str]]) -> tuple[str | None, list[str]]:
    """(the one key the text names, []) or (None, the keys it could equally name); (None, []) for none."""
    if not ranked or ranked[0][0] < THRESHOLD:
        return None, []
    if ranked[0][0] == 100.0 and (len(ranked) == 1 or ranked[1][0] < 100.0):
        return ranked[0][1], []  # the very wording of one item
    close = [k for s, k in ranked if s >= THRESHOLD and ranked[0][0] - s < MARGIN]
    return (close[0], []) if len(close) == 1 else (None, close)


# ----------------------------------------------------------------------------- the three layouts


def _strings(grid: Grid) -> list[tuple[int, int, str]]:
    return [(r, c, v.strip()) for (r, c), v in sorted(grid.cells.items()) if isinstance(v, str) and v.strip()]


def _labels(grid: Grid, spec: FormSpec, fields: tuple[Field, ...]) -> HandRead:
    """Label and value in neighbouring cells, or “标签：值” in one cell."""
    names = {fid: ns for fid, ns in _names(spec).items() if fid in {f.id for f in fields}}
    every = _names(spec)
    labels = {f.id: f.label for f in spec.fields}
    short = {norm(f.label.split("·")[0]): f.id for f in fields if f.kind == "text"}
    read = HandRead(spec, grid, "labels")

    def is_label(value: Any) -> bool:
        if not isinstance(value, str) or len(value) > MAX_LABEL:
            return False
        ranked = _ranked(value.rstrip(_COLONS), every)
        return bool(ranked) and ranked[0][0] >= THRESHOLD

    strings = _strings(grid)
    per_row: dict[int, int] = {}
    for r, _, text in strings:
        per_row[r] = per_row.get(r, 0) + is_label(text)
    for r, c, text in strings:
        if len(text) > MAX_LABEL:
            continue
        heading_row = per_row.get(r, 0) >= HEADING_LABELS  # a row of column headings: each value is below
        label, value, pos = text, None, None
        head, sep, tail = text.partition("：") if "：" in text else text.partition(":")
        if sep and tail.strip() and not any(ch in tail for ch in _COLONS):
            label, value, pos = head, tail.strip(), (r, c)
        fid, ties = _pick(_ranked(label.rstrip(_COLONS), names))
        if fid is None and not ties:
            fid = short.get(norm(label))  # “典型案例” alone, exactly: a fuzzy match would also take “曝光典型案例”
        if ties:
            read.unplaced.append(f"{cell_address(r, c)}“{text}”（可能是{'或'.join(labels[t] for t in ties)}）")
            continue
        if fid is None:
            continue
        if pos is None:
            right, below = grid.value(r, c + 1), grid.value(r + 1, c)
            if heading_row:
                pos = (r + 1, c)
            elif right is not None and not is_label(right):
                pos = (r, c + 1)
            elif below is not None and not is_label(below):
                pos = (r + 1, c)
            else:
                pos = (r, c + 1)
            value = grid.value(*pos)
        placed = Placed(fid, pos[0], pos[1], value, text)
        earlier = read.placed.get(fid)
        if earlier is None:
            read.placed[fid] = placed
        elif _show(earlier.value) != _show(value) and value is not None:
            if earlier.value is None:
                read.placed[fid] = placed
            else:
                read.unplaced.append(f"{labels[fid]}（{earlier.address}与{placed.address}两处都像此项，所填不同）")
    return read


def _sentences(grid: Grid, spec: FormSpec) -> HandRead:
    """The notice's table retyped: the 进展情况 sentences with numbers inside （）."""
    read = HandRead(spec, grid, "sentences")
    if not spec.has_sentences:
        return read
    cells = [(r, c, _show(v)) for (r, c), v in sorted(grid.cells.items())]
    match = match_form([t for _, _, t in cells], spec)
    if not match.found:
        return read
    where: dict[str, tuple[int, int, str]] = {}
    for r, c, text in cells:
        if len(text) > MAX_LABEL and any(b in text for b in "（("):
            for section_id in match_form([text], spec).found:
                where.setdefault(section_id, (r, c, text))
    sections = {s.id: s for s in spec.sections}
    for section_id in match.found:
        r, c, text = where.get(section_id, (0, 0, ""))
        for f in sections[section_id].fields:
            read.placed[f.id] = Placed(f.id, r, c, match.values[f.id], text[:16] + ("…" if len(text) > 16 else ""))
    for section_id in match.ambiguous:
        section = sections[section_id]
        read.unplaced.append(f"“{section.title}”的进展情况语句出现了不止一次且所填不同"
                             f"（{'、'.join(f.label for f in section.fields)}）")
    for fid, value in match.header.items():
        if value is not None:
            r, c, _ = next(((r, c, t) for r, c, t in cells if value in t), (0, 0, ""))
            cell = grid.value(r, c)
            raw = cell if _show(cell) == value else value
            read.placed[fid] = Placed(fid, r, c, raw, spec.field(fid).label)
    return read


def _header_rows(grid: Grid) -> list[tuple[int, dict[int, str]]]:
    """Rows holding both a 场次/次数 column and a 人次/人数 column: row -> {column: heading}."""
    rows: dict[int, dict[int, str]] = {}
    for r, c, text in _strings(grid):
        key = norm(text)
        if len(key) <= 8 and (_SESSION_HEAD.search(key) or _PEOPLE_HEAD.search(key)):
            rows.setdefault(r, {})[c] = key
    return [(r, heads) for r, heads in sorted(rows.items())
            if any(_PEOPLE_HEAD.search(h) for h in heads.values())
            and any(_SESSION_HEAD.search(h) and not _PEOPLE_HEAD.search(h) for h in heads.values())]


def _measure(activity: tuple[Field, ...], heading: str) -> tuple[Field | None, list[Field]]:
    """The activity's field a column heading names: (field, []) or (None, the fields it could be)."""
    people = bool(_PEOPLE_HEAD.search(heading))
    fields = [f for f in activity if bool(_PEOPLE.search(f.label.split("·")[-1])) == people]
    if len(fields) <= 1:
        return (fields[0] if fields else None), []
    fid, ties = _pick(_ranked(heading, {f.id: (norm(f.label.split("·")[-1]),) for f in fields}))
    by_id = {f.id: f for f in fields}
    if fid is not None:
        return by_id[fid], []
    return None, [by_id[t] for t in ties] or fields


def _text_names(spec: FormSpec) -> dict[str, tuple[str, ...]]:
    """The free-text items (典型案例) with their names, the activity part of the label (“典型案例”) included."""
    every = _names(spec)
    return {f.id: tuple(sorted({*every[f.id], norm(f.label.split("·")[0])})) for f in spec.body_fields
            if f.kind == "text"}


def _text_row(grid: Grid, r: int, texts: list[tuple[int, str]], names: Mapping[str, tuple[str, ...]],
              rivals: Mapping[str, Iterable[str]]) -> Placed | None:
    """A row named by a free-text item (典型案例) with words to its right: those words are the item's value.

    The row's name must fit the text item better than any count or activity (``rivals``), and what is
    typed beside it must be words, not a number: “曝光典型案例 | 3” stays a count row.
    """
    for c, text in texts:
        ranked = _ranked(text, names)
        fid, _ = _pick(ranked)
        if fid is None:
            continue
        rival = _ranked(text, rivals)
        if rival and rival[0][0] >= ranked[0][0]:
            continue
        cells = [(col, v) for (row, col), v in sorted(grid.cells.items()) if row == r and col > c and _show(v).strip()]
        if not any(isinstance(v, str) and not _NUMBER_LIKE.fullmatch(v.strip()) for _, v in cells):
            continue
        value = cells[0][1] if len(cells) == 1 else "；".join(_show(v).strip() for _, v in cells)
        return Placed(fid, r, cells[0][0], value, text)
    return None


def _rows(grid: Grid, spec: FormSpec) -> HandRead:
    """One row per activity, with 场次/次数 and 人次/人数 columns; a 典型案例 row gives the text beside it."""
    read = HandRead(spec, grid, "rows")
    headers = _header_rows(grid)
    if not headers:
        return read
    head_row, heads = headers[0]
    first_measure = min(heads)
    activities = _activities(spec)
    names = {a: ns for a, (ns, _) in activities.items()}
    strings = {(r, c): t for r, c, t in _strings(grid)}
    counts = {f.id: ns for f in spec.body_fields if f.kind == "count" for ns in [_names(spec)[f.id]]}
    last = max(r for r, _ in grid.cells)
    labels = {f.id: f.label for f in spec.fields}
    text_names = _text_names(spec)
    rivals = {**counts, **names}
    for r in range(head_row + 1, last + 1):
        values = {c: grid.value(r, c) for c in heads if grid.value(r, c) is not None}
        texts = [(c, strings[(r, c)]) for c in range(1, first_measure) if (r, c) in strings]
        case = _text_row(grid, r, texts, text_names, rivals) if text_names and texts else None
        if case is not None:
            read.placed.setdefault(case.field_id, case)
            continue
        if not values or any(norm(t) in TOTAL_WORDS for _, t in texts):
            continue
        shown = "、".join(f"{cell_address(r, c)}“{_show(v)}”" for c, v in values.items())
        # The row's name: the text cell naming one item (家庭安全文化精品·推广播放次数) or one activity best.
        best: tuple[float, str, str | None, str | None, list[str]] | None = None
        for _, text in texts:
            by_field, by_activity = _ranked(text, counts), _ranked(text, names)
            item, _ = _pick(by_field)
            activity, ties = _pick(by_activity)
            score = max(by_field[0][0] if by_field else 0.0, by_activity[0][0] if by_activity else 0.0)
            if item is not None and (not by_activity or by_field[0][0] >= by_activity[0][0]):
                activity = None
            if best is None or score > best[0]:
                best = (score, text, item if activity is None else None, activity, ties)
        if best is None or (best[2] is None and best[3] is None):
            what = f"第{r}行“{best[1]}”" if best else f"第{r}行"
            maybe = f"（可能是{'或'.join(best[4])}）" if best and best[4] else "（对应不到任何活动项目）"
            read.unplaced.append(f"{what}{maybe}的数字{shown}")
            continue
        _, row_text, item, activity, _ = best
        for c, value in values.items():
            if item is not None:
                target: Field | None = spec.field(item)
                ties2: list[Field] = []
                if len(values) > 1 and bool(_PEOPLE.search(labels[item].split("·")[-1])) != bool(
                        _PEOPLE_HEAD.search(heads[c])):
                    target = None
            else:
                assert activity is not None
                target, ties2 = _measure(activities[activity][1], heads[c])
            if target is None:
                owner = labels[item] if item else activity
                maybe = f"可能是{'或'.join(f.label for f in ties2)}" if ties2 else f"“{owner}”没有“{heads[c]}”这一项"
                read.unplaced.append(f"{cell_address(r, c)}“{_show(value)}”（{maybe}）")
                continue
            placed = Placed(target.id, r, c, value, f"{row_text}·{heads[c]}" if item is None else row_text)
            earlier = read.placed.get(target.id)
            if earlier is not None and _show(earlier.value) != _show(value):
                read.unplaced.append(f"{target.label}（{earlier.address}与{placed.address}两处都像此项，所填不同）")
            read.placed.setdefault(target.id, placed)
    return read


# ----------------------------------------------------------------------------- the whole book


def _read_sheet(grid: Grid, spec: FormSpec) -> HandRead:
    """The best of the three layouts on one sheet, with the header read from labels."""
    candidates = [_rows(grid, spec), _sentences(grid, spec), _labels(grid, spec, spec.body_fields)]
    best = max(candidates, key=lambda h: h.body)  # ties: rows, then sentences, then labels
    header = _labels(grid, spec, spec.header)
    for fid, placed in header.placed.items():
        best.placed.setdefault(fid, placed)
    best.unplaced += [u for u in header.unplaced if u not in best.unplaced]
    return best


def read_handmade(book: Book, forms: Mapping[str, FormSpec]) -> HandRead | None:
    """The form, sheet and layout placing the most items; None when no sheet reads as any form."""
    best: HandRead | None = None
    for grid in book.sheets:
        if grid.title in PROGRAM_SHEETS or grid.state != "visible" or not grid.cells:
            continue
        for spec in forms.values():
            read = _read_sheet(grid, spec)
            if read.body >= MIN_PLACED and (best is None or read.body > best.body):
                best = read
    return best


def complete(spec: FormSpec, located: Iterable[str]) -> bool:
    """Whether every field but the optional text ones (典型案例) was located."""
    found = set(located)
    return all(f.id in found for f in spec.fields if not f.optional)


MAPPED_RULE = "自制表格"
UNPLACED_RULE = "无法对应"
MISSING_RULE = "未找到填报项"


def fill_submission(sub: Submission, read: HandRead) -> None:
    """Record a hand-made sheet on ``sub``: form, sheet, raw values, and the findings on how it was read."""
    spec = read.spec
    sub.form_id, sub.sheet, sub.located_by = spec.id, read.grid.title, f"handmade:{read.layout}"
    for fid, placed in read.placed.items():
        sub.raw[fid] = RawCell(placed.value, placed.address if placed.row else "")
    cells: dict[tuple[int, int, str], list[str]] = {}
    for fid, p in sorted(read.placed.items(), key=lambda item: (item[1].row, item[1].col)):
        cells.setdefault((p.row, p.col, p.text), []).append(spec.field(fid).label)
    sub.read_map = [(cell_address(r, c) if r else "", text, "、".join(items)) for (r, c, text), items in cells.items()]
    sub.add(Severity.WARNING, MAPPED_RULE, f"该文件不是下发的模板，是自制或重新录入的表格，已按表中文字对应 "
            f"{len(read.placed)} 项，对应关系见“{READ_MAP_SHEET}”表。请核对对应关系和数字；今后请直接使用下发的Excel模板填报。")
    if read.unplaced:
        sub.add(Severity.ERROR, UNPLACED_RULE, f"以下{len(read.unplaced)}处内容无法确定对应哪个填报项，程序不作猜测："
                f"{'；'.join(read.unplaced)}。本次报送退回，请改用下发的Excel模板填报，或把这些项目写成与模板一致的名称后重新报送。")
    # The activity items of a statistics form: one the sheet does not have is unread, not blank, so the
    # return is 退回, naming every missing item. Other items (header, 联络员) missing are a 警告 and stay blank.
    body = [f for f in spec.body_fields if not f.optional] if spec.has_sentences else []
    items = [f for f in body if f.id not in read.placed]
    if items:
        sub.add(Severity.ERROR, MISSING_RULE, f"表中找不到以下{len(items)}个填报项（共{len(body)}项）："
                f"{'、'.join(f.label for f in items)}。缺少的项目不能按未填处理，本次报送退回。"
                "请在表中补上这些项目（未开展的填0）后重新报送；今后请使用下发的Excel模板填报。")
    others = [f for f in spec.fields if not f.optional and f.id not in read.placed and f not in body]
    if others:
        sub.add(Severity.WARNING, MISSING_RULE, f"表中找不到以下{len(others)}项，按未填处理：{'、'.join(f.label for f in others)}。"
                "如有漏填请补报；今后请使用下发的Excel模板填报。")
