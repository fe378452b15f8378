"""The pages of a returned image or PDF: text-layer lines where the PDF has them, else an upright page image (pypdfium2)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.scans.layout import PageLines, heading_row, skipped_spans
from pipeline.scans.lines import RENDER_DPI, Line, detect_boxes, read_boxes
from pipeline.scans.page import Page, load, prepare

if TYPE_CHECKING:
    from pipeline.scans.page import Image

MIN_TEXT_CHARS = 20  # a PDF page with fewer characters in its text layer is taken for a scan
MAX_PAGES = 6  # pages of one PDF read at most (附件1 prints on two)


class PagesError(Exception):
    """The file cannot be opened as an image or a PDF; the message is Chinese."""


@dataclass
class ReadPage:
    """One page's lines, and the prepared image when they were read by OCR (None for a text layer)."""

    lines: PageLines
    image: Page | None


def _text_lines(page: Any, number: int) -> PageLines:
    """The text layer of a pypdfium2 page as lines, in points from the top left.

    Characters are joined into a line while they sit at the same height (their loose boxes, which
    span the font's full height, so a quote mark set in another font stays on its line) and close
    together; a line break or a wide gap (between two table cells) ends the line.
    """
    width, height = page.get_size()
    textpage = page.get_textpage()
    lines: list[Line] = []
    text, box = "", [0.0, 0.0, 0.0, 0.0]

    def close() -> None:
        if text.strip():
            lines.append(Line(text.strip(), 1.0, (box[0], height - box[3], box[2], height - box[1])))

    for index in range(textpage.count_chars()):
        char = textpage.get_text_range(index, 1)
        left, bottom, right, top = textpage.get_charbox(index, loose=True)
        size = max(top - bottom, 1e-6)
        if char == " " and text:
            text += char  # a space inside a sentence keeps it one line (its box is empty)
            continue
        if not char or char in "\r\n" or right <= left:
            close()
            text = ""
            continue
        same_line = text and abs((top + bottom) / 2 - (box[1] + box[3]) / 2) < size / 2 and left - box[2] < size
        if same_line:
            text += char
            box = [min(box[0], left), min(box[1], bottom), max(box[2], right), max(box[3], top)]
        else:
            close()
            text, box = char, [left, bottom, right, top]
    close()
    return PageLines(lines, width, height, number)


HEAD_SHARE = 0.3  # the top of a page read first, to find the table's headings


def _ocr(image: Image, number: int) -> ReadPage:
    """OCR of one page: the top first; where it shows the table's headings, the 活动项目 and 内容要求
    columns below them are not read (nothing is taken from them, and they hold most of the text)."""
    page = prepare(image)
    height, width = page.grey.shape[:2]
    boxes = detect_boxes(page)
    top = [b for b in boxes if b[3] <= height * HEAD_SHARE]
    lines = read_boxes(page, top)
    rest = [b for b in boxes if b[3] > height * HEAD_SHARE]
    found = heading_row(lines)
    if found is not None:
        spans = skipped_spans(found[0])
        lines = [ln for ln in lines if ln.box[1] < found[1] or not _within(ln.centre[0], spans)]
        rest = [b for b in rest if not _within((b[0] + b[2]) / 2, spans)]
    lines += read_boxes(page, rest)
    return ReadPage(PageLines(lines, float(width), float(height), number), page)


def _within(x: float, spans: list[tuple[float, float]]) -> bool:
    return any(low <= x <= high for low, high in spans)


def _read_columns_only(page: PageLines) -> PageLines:
    """A text layer without the 活动项目, 内容要求 and 单位 columns, as OCR reads a page."""
    found = heading_row(page.lines)
    if found is None:
        return page
    spans = skipped_spans(found[0])
    kept = [ln for ln in page.lines if ln.box[1] < found[1] or not _within(ln.centre[0], spans)]
    return PageLines(kept, page.width, page.height, page.number)


def _render(page: object) -> Image:
    bitmap = page.render(scale=RENDER_DPI / 72)  # type: ignore[attr-defined]
    array: Image = bitmap.to_numpy()
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    return array


def read_pages(path: Path, kind: str, *, ocr: bool = True) -> Generator[ReadPage, None, None]:
    """Each page of an image (one) or a PDF (text layer where there is one, OCR elsewhere when ``ocr``)."""
    if kind == "image":
        try:
            image = load(path)
        except Exception as exc:  # OpenCV or the file system: the image is unusable either way
            raise PagesError("图片已损坏或格式无法识别") from exc
        yield _ocr(image, 1)
        return
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except Exception as exc:  # pdfium raises its own error on a damaged or encrypted PDF
        raise PagesError("PDF 文件已损坏或设置了打开密码") from exc
    try:
        for index in range(min(len(document), MAX_PAGES)):
            page = document[index]
            if page.get_textpage().count_chars() >= MIN_TEXT_CHARS:
                yield ReadPage(_read_columns_only(_text_lines(page, index + 1)), None)
            elif ocr:
                yield _ocr(_render(page), index + 1)
    finally:
        document.close()


def has_text_layer(path: Path) -> bool:
    """Whether the PDF's first page has a text layer."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except Exception:  # unreadable: not a text PDF
        return False
    try:
        return len(document) > 0 and document[0].get_textpage().count_chars() >= MIN_TEXT_CHARS
    finally:
        document.close()
