"""A scanned, photographed or printed return read by the same matchers as a hand-made sheet or a Word return.

Our template printed and scanned is read label by label (:func:`pipeline.workbook.handmade.read_handmade`
on a grid built from the lines); the notice's Word form by its 进展情况 sentences
(:func:`pipeline.documents.sentences.match_form` on that column's lines). The layout that places
more items wins. Every value read by OCR carries its lowest character score and a crop of its
place on the page; a low score is read again from a larger crop before it is given up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.documents.extract import AMBIGUOUS_RULE as AMBIGUOUS_SENTENCE
from pipeline.documents.extract import MISSING_RULE as MISSING_SENTENCE
from pipeline.documents.extract import PDF_ORIGINAL, WordIssue, word_return
from pipeline.documents.sentences import match_form, value_spans
from pipeline.forms.spec import FormSpec
from pipeline.model import ScanValue, Severity, Submission
from pipeline.scans.layout import Table, TextRun, lay_out, progress_blocks
from pipeline.scans.lines import Line, crop_png, ink_share, red_share, reread
from pipeline.scans.marks import CHECK_RULE, PART_KEY, SCANNED, UNSURE_RULE, check_message
from pipeline.scans.marks import CHECK_TEXT as CHECK_TEXT  # re-exported: the names of a scan read live in marks
from pipeline.scans.marks import MISSING_ON_SCAN as MISSING_ON_SCAN
from pipeline.scans.marks import part_of as part_of
from pipeline.scans.pages import ReadPage
from pipeline.workbook.book import Book
from pipeline.workbook.handmade import MAPPED_RULE, MISSING_RULE, HandRead, fill_submission, read_handmade

# The lowest character score a value must reach to count (with its 警告). Calibrated on the test corpus
# (tests/test_scan.py): no wrong value scored above it; see the developer README.
THRESHOLD = 0.93
SEAL_SHARE = 0.04  # share of a value's box under red ink from which the seal is said to cover it
INK_SHARE = 0.02  # share of dark pixels in an empty value box from which it may hold a faint digit


@dataclass
class ScanRead:
    """What a scan or printed PDF yields for one form: raw values, their places, the values to confirm, issues."""

    spec: FormSpec
    layout: str  # "labels" (our template) or "sentences" (the Word form)
    ocr: bool  # False when every page had a text layer
    raw: dict[str, str | None] = field(default_factory=dict)
    places: dict[str, str] = field(default_factory=dict)
    scanned: list[ScanValue] = field(default_factory=list)
    issues: list[WordIssue] = field(default_factory=list)
    hand: HandRead | None = None
    body: int = 0

    @property
    def read_as(self) -> str:
        """读取方式: 扫描识别 for OCR, PDF原文 for a PDF with a text layer."""
        return SCANNED if self.ocr else PDF_ORIGINAL


def _union(lines: Sequence[Line]) -> tuple[float, float, float, float]:
    return (min(ln.box[0] for ln in lines), min(ln.box[1] for ln in lines),
            max(ln.box[2] for ln in lines), max(ln.box[3] for ln in lines))


def _judge(page: ReadPage, box: tuple[float, float, float, float], confidence: float, value: str, count: bool) -> str:
    """Why a count read by OCR cannot be trusted, or "" (texts, dates and phones are only shown for checking)."""
    assert page.image is not None
    if not count:
        return ""
    if red_share(page.image, box) >= SEAL_SHARE:
        return "公章压住了数字"
    if not value:
        return "有字迹但无法辨认（无法确定是空白还是0）" if ink_share(page.image, box) >= INK_SHARE else ""
    if confidence < THRESHOLD:
        return f"识别可信度{confidence:.2f}，低于{THRESHOLD:.2f}"
    return ""


def _template(table: Table, forms: Mapping[str, FormSpec], pages: dict[int, ReadPage]) -> ScanRead | None:
    hand = read_handmade(Book("scan", [table.grid], {}), forms)
    if hand is None:
        return None
    ocr = any(p.image is not None for p in pages.values())
    read = ScanRead(hand.spec, "labels", ocr, hand=hand, body=hand.body)
    value_column = table.heading_columns.get("填报数")
    for fid, placed in hand.placed.items():
        fld = hand.spec.field(fid)
        value = "" if placed.value is None else str(placed.value)
        if fld.kind == "text" and HINT in _squeezed(value):
            value = _below(table, placed.row, placed.col)  # the template's “（请在下一行填写）”: the text is below
        read.raw[fid] = value or None
        if not ocr or fld.kind == "text":
            continue
        where = table.cells.get((placed.row, placed.col), [])
        if not where:  # an empty value cell: judged by the ink in the place a number would be printed
            label = table.cells.get((placed.row, placed.col - 1), [])
            if not label or value_column is None or placed.col != value_column:
                continue
            number, line = label[0]
            box = _value_box(table, number, line)
            if box is None:
                continue
            page = pages[number]
            problem = _judge(page, box, 1.0, "", fld.kind == "count")
            if page.image is not None:
                read.scanned.append(ScanValue(fid, fld.label, "", 1.0, crop_png(page.image, box), number, problem))
            continue
        number = where[0][0]
        page = pages[number]
        if page.image is None:
            continue
        lines = [line for _, line in where]
        if min(ln.least for ln in lines) < THRESHOLD:  # read again from a larger crop before giving up
            lines = [reread(page.image, ln) for ln in lines]
            value = "".join(ln.text for ln in sorted(lines, key=lambda ln: ln.box[0]))
            if placed.text == str(table.grid.cells.get((placed.row, placed.col), "")):
                value = value.replace(":", "：").partition("：")[2].strip()  # “标签：值” in one cell
            read.raw[fid] = value or None
        confidence = min(ln.least for ln in lines)
        box = _union(lines)
        problem = _judge(page, box, confidence, value, fld.kind == "count")
        read.scanned.append(ScanValue(fid, fld.label, value, confidence, crop_png(page.image, box), number, problem))
    return read


HINT = "请在下一行填写"


def _squeezed(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


def _below(table: Table, row: int, col: int) -> str:
    """The text of the row under a label, from its column on (a long text typed below its label)."""
    texts = [str(v) for (r, c), v in sorted(table.grid.cells.items()) if r == row + 1 and c >= col - 1]
    return "".join(texts)


def _value_box(table: Table, number: int, label: Line) -> tuple[float, float, float, float] | None:
    """Where the value of a label's row is printed: under the 填报数 heading, at the label's height."""
    page = table.pages[number - 1] if 0 < number <= len(table.pages) else None
    if page is None:
        return None
    heading = next((ln for ln in page.lines if ln.text.startswith("填报数")), None)
    if heading is None:
        heading = next((ln for p in table.pages for ln in p.lines if ln.text.startswith("填报数")), None)
    if heading is None:
        return None
    margin = label.height * 0.15
    return (heading.box[0], label.box[1] + margin, heading.box[2], label.box[3] - margin)


def _run_at(runs: Sequence[TextRun], offset: int) -> tuple[TextRun, int] | None:
    """The block holding character ``offset`` of the joined text, and the offset inside it."""
    start = 0
    for run in runs:
        if start <= offset <= start + len(run.text):
            return run, offset - start
        start += len(run.text) + 1
    return None


def _words(spec: FormSpec, table: Table, pages: dict[int, ReadPage]) -> ScanRead | None:
    runs = progress_blocks(table)
    if not runs or not spec.has_sentences:
        return None
    blocks = [r.text for r in runs]
    match = match_form(blocks, spec)
    if not match.found:
        return None
    ocr = any(p.image is not None for p in pages.values())
    ret = word_return(match, spec, SCANNED if ocr else PDF_ORIGINAL)
    issues = list(ret.issues)
    if ocr:  # a sentence not found on a scan may be one the OCR misread: never taken as blank
        issues = [i._replace(severity=Severity.ERROR) if i.rule in (MISSING_SENTENCE, AMBIGUOUS_SENTENCE) else i
                  for i in issues]
    read = ScanRead(spec, "sentences", ocr, issues=issues, places=dict(ret.places))
    read.body = sum(1 for s in spec.sections if s.id in match.found for _ in s.fields)
    read.raw = {**ret.header, **ret.values}
    if not ocr:
        return read
    spans = value_spans(blocks, spec)
    for s in spec.sections:
        if s.id not in match.found:
            continue
        for fld in s.fields:
            span = spans.get(fld.id)
            found = _run_at(runs, span[0]) if span else None
            if span is None or found is None:
                continue
            run, inside = found
            page_no, line, start = next(((p, ln, o) for p, ln, o in reversed(run.parts) if o <= inside), run.parts[0])
            page = pages[page_no]
            if page.image is None:
                continue
            first, last = inside - start, inside - start + (span[1] - span[0])
            scores = line.chars[first:last] if line.chars else ()
            if scores and min(scores) < THRESHOLD:
                again = reread(page.image, line)
                if again.text == line.text:
                    scores = tuple(max(a, b) for a, b in zip(scores, again.chars[first:last], strict=False))
            confidence = min(scores) if scores else line.least
            box = line.box
            if line.columns and last > first and last <= len(line.columns):
                width = box[2] - box[0]
                left = box[0] + width * line.columns[first] - line.height * 0.8
                right = box[0] + width * line.columns[last - 1] + line.height * 0.8
                box = (max(box[0], left), box[1], min(box[2], right), box[3])
            value = (read.raw.get(fld.id) or "")
            problem = _judge(page, box, confidence, value, fld.kind == "count")
            read.scanned.append(ScanValue(fld.id, fld.label, value, confidence, crop_png(page.image, box),
                                          page_no, problem))
    return read


def read_pages_as_form(pages: Sequence[ReadPage], forms: Mapping[str, FormSpec]) -> ScanRead | None:
    """The form the pages hold, read in the layout that places the most items; None when none is found."""
    by_number = {p.lines.number: p for p in pages}
    table = lay_out([p.lines for p in pages])
    candidates = [r for r in (_template(table, forms, by_number),
                              *(_words(spec, table, by_number) for spec in forms.values())) if r is not None]
    if not candidates:
        return None
    return max(candidates, key=lambda r: r.body)


def fill_labels(sub: Submission, read: ScanRead) -> None:
    """Record a template read (labels) on the submission with the hand-made reader's findings, minus its
    “自制表格” wording (a scan of our own template is not a hand-made sheet)."""
    assert read.hand is not None
    fill_submission(sub, read.hand)
    sub.findings = [f for f in sub.findings if f.rule != MAPPED_RULE]
    if read.ocr and sub.meta.get(PART_KEY):  # one photo of several: completeness is judged on all of them together
        sub.findings = [f for f in sub.findings if f.rule != MISSING_RULE]
    for fid, value in read.raw.items():
        if fid in sub.raw:
            sub.raw[fid] = sub.raw[fid]._replace(value=value, address="")


def scan_findings(read: ScanRead) -> list[WordIssue]:
    """The 警告 every OCR read carries, and the 错误 naming the values that cannot be trusted."""
    issues: list[WordIssue] = []
    unsure = [v for v in read.scanned if v.problem]
    message = check_message([v for v in read.scanned if not v.problem])
    if message:
        issues.append(WordIssue(Severity.WARNING, CHECK_RULE, message))
    if unsure:
        listed = "；".join(f"{v.label}（识别为“{v.value or '空白'}”，{v.problem}）" for v in unsure)
        issues.append(WordIssue(Severity.ERROR, UNSURE_RULE,
                                f"该报表是扫描件或照片，以下{len(unsure)}项无法可靠识别：{listed}。本次报送退回，"
                                "请直接发送填好的 Excel 报表文件（.xlsx），不要只发扫描件或照片。"))
    return issues
