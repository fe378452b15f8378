"""The notice file as paragraphs and tables: .docx, .doc/.wps (LibreOffice), a text PDF, or plain text.

A table pasted as text (cells on lines of their own, indented by a tab, as a notice copied out of
Word looks) is put back into rows here, so that every later stage sees the same :class:`Table`.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.documents.extract import OFFICE_KINDS, DocumentError, convert_with_office, find_soffice
from pipeline.errors import NoticeError
from pipeline.notice.annexes import is_annex_heading
from pipeline.notice.blanks import BLANK
from pipeline.notice.model import Block, Table
from pipeline.safety.sniff import sniff
from pipeline.settings.textfile import UndecodableTextError, decode

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from pdfplumber.page import Page

# Words of a table's header row (活动项目 / 内容要求 / 进展情况, 序号 / 姓名 / 手机 …).
HEADER_WORDS = ("项目", "要求", "内容", "情况", "进展", "完成", "序号", "编号", "名称", "单位", "姓名", "职务",
                "电话", "手机", "邮箱", "备注", "日期", "时间", "地点", "类别", "说明", "数量")
_PAGE_NUMBER = re.compile(r"^[-—–\s]*\d{1,3}[-—–\s]*$|^第\s*\d+\s*页(?:\s*[，,/]?\s*共\s*\d+\s*页)?$")


def read_notice(path: Path) -> list[Block]:
    """The paragraphs and tables of the notice, in order; :class:`NoticeError` (Chinese) when it cannot be read."""
    if not path.is_file():
        raise NoticeError(f"找不到通知文件“{path}”，请核对文件名和位置。")
    kind = sniff(path).kind
    if kind == "encrypted":
        raise NoticeError(f"通知文件“{path.name}”设置了打开密码（已加密），程序无法读取。"
                          "请在 Word/WPS 中取消密码后另存，再运行 make init。")
    if kind == "docx":
        blocks = _docx(path)
    elif kind == "pdf":
        blocks = _pdf(path)
    elif kind in OFFICE_KINDS or kind == "ole":
        blocks = _office(path)
    elif kind == "text":
        try:
            blocks = text_blocks(decode(path.read_bytes()).text)
        except UndecodableTextError:
            raise NoticeError(f"通知文件“{path.name}”的文字编码无法识别，请另存为 UTF-8 编码的文本或 .docx 后再试。") from None
    elif kind == "empty":
        raise NoticeError(f"通知文件“{path.name}”是空的（0 字节），请重新保存后再试。")
    else:
        raise NoticeError(f"“{path.name}”不是 Word、PDF 或文本格式的通知，程序无法读取。"
                          "请提供 .docx、.doc、.wps、.pdf 或 .txt 格式的通知原文。")
    blocks = _merge_tables([b for b in blocks if not (isinstance(b, str) and _PAGE_NUMBER.match(b))])
    if not any(isinstance(b, Table) or b.strip() for b in blocks):
        raise NoticeError(f"通知文件“{path.name}”中没有可读取的文字，请核对是否选错了文件。")
    return blocks


# ----------------------------------------------------------------------------- Word


def _docx_document(path: Path) -> DocxDocument:
    import docx

    try:
        return docx.Document(str(path))
    except Exception as exc:  # python-docx raises zip, lxml and key errors on damaged files
        raise NoticeError(f"Word 文件“{path.name}”已损坏或无法打开，请在 Word/WPS 中打开后另存为 .docx 再试。") from exc


def _docx(path: Path) -> list[Block]:
    """Body paragraphs and tables of a .docx; a cell's paragraphs are joined, a merged cell is listed once."""
    from docx.table import Table as DocxTable

    blocks: list[Block] = []
    for item in _docx_document(path).iter_inner_content():
        if isinstance(item, DocxTable):
            rows: list[tuple[str, ...]] = []
            for row in item.rows:
                cells: list[str] = []
                last: object = None
                for cell in row.cells:
                    if cell._tc is last:  # a horizontally merged cell repeats under every grid column
                        continue
                    last = cell._tc
                    cells.append("\n".join(p.text for p in cell.paragraphs).strip())
                rows.append(tuple(cells))
            blocks.append(Table(tuple(rows)))
        else:
            blocks.extend(line.strip() for line in item.text.splitlines() if line.strip())
    return blocks


def _office(path: Path) -> list[Block]:
    """A .doc or .wps, converted to .docx by LibreOffice in a private temporary folder."""
    soffice = find_soffice()
    if soffice is None:
        raise NoticeError(f"“{path.name}”是旧版 Word/WPS 格式，本机未安装 LibreOffice，无法读取。"
                          "请在 Word/WPS 中另存为 .docx 后再运行 make init。")
    with tempfile.TemporaryDirectory(prefix="pipeline-notice-") as tmp:
        try:
            converted = convert_with_office(path, soffice, Path(tmp))
        except DocumentError as exc:
            raise NoticeError(f"通知文件{str(exc).removeprefix('LibreOffice ')}") from exc
        return _docx(converted)


# ----------------------------------------------------------------------------- PDF


def _cell_text(text: str | None) -> str:
    """A PDF cell's lines joined again: Chinese wraps inside a word, so no space is put between them."""
    return "".join(line.strip() for line in (text or "").splitlines())


def _pdf(path: Path) -> list[Block]:
    """Text lines and ruled tables of a PDF's text layer, page by page, top to bottom (pdfplumber)."""
    import pdfplumber
    from pdfminer.pdfdocument import PDFPasswordIncorrect

    blocks: list[Block] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pdfminer warns about every small defect of a PDF it still reads
            with pdfplumber.open(str(path)) as pdf:
                for page in pdf.pages:
                    blocks.extend(_pdf_page(page))
    except PDFPasswordIncorrect as exc:
        raise NoticeError(f"PDF 文件“{path.name}”设置了打开密码（已加密），程序无法读取。"
                          "请取消密码后再试，或提供 Word 版通知。") from exc
    except Exception as exc:  # pdfminer raises many kinds of errors on damaged files
        raise NoticeError(f"PDF 文件“{path.name}”已损坏或无法读取，请提供 Word 版通知。") from exc
    if not any(isinstance(b, Table) or b.strip() for b in blocks):
        raise NoticeError(f"PDF 文件“{path.name}”中没有文字层，是扫描件或图片，程序无法读出其中的文字。"
                          "请向发文单位索取 Word 版通知，或提供可复制文字的 PDF。")
    return blocks


def _pdf_page(page: Page) -> Iterator[Block]:
    placed: list[tuple[float, Block]] = []
    outside = page
    for table in page.find_tables():
        rows = tuple(tuple(_cell_text(c) for c in row) for row in table.extract())
        placed.append((float(table.bbox[1]), Table(rows)))
        outside = outside.outside_bbox(table.bbox)
    for line in outside.extract_text_lines():
        text = str(line["text"]).strip()
        if text:
            placed.append((float(line["top"]), text))
    for _, block in sorted(placed, key=lambda p: p[0]):
        yield block


# ----------------------------------------------------------------------------- plain text


def text_blocks(text: str) -> list[Block]:
    """Paragraphs and tables of a notice as text: in the annexes, tab-indented lines are table cells.

    Before the first annex heading a tab is only a paragraph's indent.
    """
    blocks: list[Block] = []
    in_annex = False
    cells: list[str] = []
    rows: list[tuple[str, ...]] = []

    def flush() -> None:
        if cells or rows:
            blocks.append(Table(tuple(rows) + regroup(cells)))
            cells.clear()
            rows.clear()

    for raw in text.lstrip("\ufeff").splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        in_annex = in_annex or is_annex_heading(line.strip())
        if line.startswith("\t") and in_annex:
            parts = [p.strip() for p in line.strip("\t").split("\t")]
            if len(parts) > 1:  # a whole row on one line, cells separated by tabs
                rows.extend(regroup(cells))
                cells.clear()
                rows.append(tuple(parts))
            else:
                cells.append(parts[0])
        else:
            flush()
            blocks.append(line.strip())
    flush()
    return blocks


def _is_header_cell(cell: str) -> bool:
    return len(cell) <= 8 and not BLANK.search(cell) and any(w in cell for w in HEADER_WORDS)


def regroup(cells: list[str]) -> tuple[tuple[str, ...], ...]:
    """Cells listed one after another put back into rows, as wide as the header row that starts them."""
    if not cells:
        return ()
    run = 0
    while run < len(cells) and _is_header_cell(cells[run]) and (run == 0 or cells[run] != cells[0]):
        run += 1
    width = run
    # A short 活动项目 title may look like a header word: the header ends where the first row's last
    # cell (the one with the blanks) is found.
    for candidate in range(run, 1, -1):
        if 2 * candidate - 1 < len(cells) and BLANK.search(cells[2 * candidate - 1]):
            width = candidate
            break
    width = max(width, 1)
    rows: list[tuple[str, ...]] = []
    header = tuple(cells[:width])
    i = 0
    while i < len(cells):
        chunk = tuple(cells[i:i + width])
        rows.append(chunk + ("",) * (width - len(chunk)))
        i += width
        # a repeated header row may start anywhere: realign on it
        if i < len(cells) and tuple(cells[i:i + width]) != header and header[0] in cells[i:i + width][1:]:
            offset = cells[i:i + width].index(header[0])
            if tuple(cells[i + offset:i + offset + width]) == header:
                rows.append(tuple(cells[i:i + offset]) + ("",) * (width - offset))
                i += offset
    return tuple(rows)


def _merge_tables(blocks: list[Block]) -> list[Block]:
    """A table the notice breaks over pages (or over several Word tables) back in one piece."""
    merged: list[Block] = []
    for block in blocks:
        previous = merged[-1] if merged else None
        if isinstance(block, Table) and isinstance(previous, Table) and block.rows and previous.rows \
                and len(block.rows[0]) == len(previous.rows[0]):
            merged[-1] = Table(previous.rows + block.rows)
        else:
            merged.append(block)
    return merged
