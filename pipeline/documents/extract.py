"""The text of a returned document, as a list of blocks: .docx, text PDFs, and .doc/.wps through LibreOffice.

A block is one paragraph or one table cell, in document order. A file that cannot be read raises
:class:`DocumentError`, whose message is Chinese and can be shown to the unit as it stands; a missing
component raises :class:`pipeline.faults.MachineFaultError`; our own bugs and a full disk propagate
(the intake records them, :func:`pipeline.intake.batch.parse_file`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pipeline.documents.sentences import SentenceMatch, match_form, tidy_pdf_blocks
from pipeline.faults import NO_TOOL_RULE, RETRY, MachineFaultError, is_disk_full, os_words
from pipeline.forms.spec import FormSpec
from pipeline.model import Severity
from pipeline.portable import child_group, kill_tree
from pipeline.safety.badbytes import describe, is_bad_bytes, is_missing_tool
from pipeline.safety.guards import budget_left

if TYPE_CHECKING:  # python-docx is imported when a .docx is read, not when the pipeline starts
    from docx.document import Document as DocxDocument
    from docx.table import Table, _Cell
    from docx.text.paragraph import Paragraph

SOFFICE_TIMEOUT = 120  # seconds for one conversion; a cold start of a fresh profile takes most of it
BUDGET_MARGIN = 1.0  # seconds before the file's time limit at which soffice is ended by this process
# Kinds (as pipeline.safety.sniff names them) that LibreOffice converts to .docx first.
OFFICE_KINDS = ("doc", "wps", "odt", "rtf")
RESAVE_ADVICE = "请另存为 .docx 或使用 Excel 模板"

NO_OFFICE = "no_office"
TIMEOUT = "timeout"
CONVERT_FAILED = "convert_failed"
UNREADABLE = "unreadable"
NO_TEXT = "no_text"
UNSUPPORTED = "unsupported"


class DocumentError(Exception):
    """A document whose text cannot be read; ``str()`` is a Chinese message for the unit.

    ``reason`` tells the caller why: no_office (LibreOffice is not installed), timeout,
    convert_failed, unreadable (damaged or encrypted), no_text (a PDF without a text layer,
    e.g. a scan), unsupported (a kind this module does not read).
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# ----------------------------------------------------------------------------- .docx


def _paragraph_text(paragraph: Paragraph) -> str:
    """A paragraph's text including runs inside tracked insertions, content controls and fields.

    python-docx's ``Paragraph.text`` reads only the paragraph's direct runs, so numbers typed with
    “修订” (track changes) on, or into a content control, would be lost.
    """
    from docx.oxml.text.run import CT_R

    runs = paragraph._p.xpath(".//w:r[not(ancestor::w:del) and not(ancestor::w:moveFrom)]")
    return "".join(r.text for r in runs if isinstance(r, CT_R))


def _table_blocks(table: Table, seen: set[object]) -> Iterator[str]:
    """Each cell of a table once (a merged cell is listed by python-docx under every grid cell it spans).

    ``seen`` holds the cells' w:tc elements themselves, not their id(): lxml hands out the same
    proxy object for an element only while one is alive, so a bare id could be reused.
    """
    for row in table.rows:
        for cell in row.cells:
            if cell._tc in seen:
                continue
            seen.add(cell._tc)
            yield from _container_blocks(cell, seen, in_cell=True)


def _container_blocks(container: DocxDocument | _Cell, seen: set[object], *, in_cell: bool = False) -> Iterator[str]:
    """The document body or a cell: paragraphs one block each (a cell's paragraphs together), tables recursed."""
    from docx.table import Table

    pending: list[str] = []
    for item in container.iter_inner_content():
        if isinstance(item, Table):
            if pending:
                yield "\n".join(pending)
                pending = []
            yield from _table_blocks(item, seen)
        elif in_cell:
            pending.append(_paragraph_text(item))
        else:
            text = _paragraph_text(item)
            if text.strip():
                yield text
    if in_cell:
        yield "\n".join(pending)  # an empty cell is a block too: it is the value of the label before it


def docx_blocks(path: Path) -> list[str]:
    """Paragraphs and table cells of a .docx, in document order, nested tables included."""
    import docx

    try:
        document = docx.Document(str(path))
        return list(_container_blocks(document, set()))
    except Exception as exc:  # python-docx raises zip, lxml and key errors on damaged files
        if not is_bad_bytes(exc, ("docx", "zip", "xml", "text", "size")):
            raise  # our bug, or a full disk: never the file's fault
        raise DocumentError(f"Word 文件“{path.name}”已损坏或无法打开（{describe(exc)}），{RESAVE_ADVICE}。",
                            UNREADABLE) from exc


# ----------------------------------------------------------------------------- PDF


def pdf_blocks(path: Path) -> list[str]:
    """The text lines of a PDF's text layer, page by page, in the order the PDF draws them (pypdf).

    Quote marks and dashes set in a Latin font are often drawn apart from the Chinese text around
    them; ``pipeline.documents.sentences.tidy_pdf_blocks`` deals with that once the form is known.
    """
    from pypdf import PdfReader

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pypdf warns about every small defect of a PDF it still reads
            reader = PdfReader(str(path))
            if reader.is_encrypted and not reader.decrypt(""):
                raise DocumentError(f"PDF 文件“{path.name}”设置了打开密码，无法读取，请取消密码后重新发送，"
                                    f"或{RESAVE_ADVICE}。", UNREADABLE)
            text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises its own and many built-in errors on damaged files
        if is_missing_tool(exc):  # pypdf lacks the cryptography package for an AES-encrypted PDF
            raise MachineFaultError(NO_TOOL_RULE, f"读取 PDF 文件“{path.name}”需要的组件（cryptography）本机没有安装，"
                                    f"请运行 make setup 重新安装后重新汇总，{RETRY}") from exc
        if not is_bad_bytes(exc, ("pdf", "zip", "text", "size")):
            raise  # our bug or a full disk: never the file's fault
        raise DocumentError(f"PDF 文件“{path.name}”已损坏或无法读取（{describe(exc)}），{RESAVE_ADVICE}。",
                            UNREADABLE) from exc
    blocks = [line for line in text.splitlines() if line.strip()]
    if not blocks:
        raise DocumentError(f"PDF 文件“{path.name}”中没有可读取的文字（可能是扫描件或图片），无法读取其中的数字，"
                            f"{RESAVE_ADVICE}。", NO_TEXT)
    return blocks


# ----------------------------------------------------------------------------- LibreOffice


def soffice_candidates(environ: Mapping[str, str]) -> list[Path]:
    """Where LibreOffice's soffice usually lives when it is not on PATH (Windows, then macOS)."""
    found: list[Path] = []
    for var, default in (("ProgramFiles", r"C:\Program Files"), ("ProgramFiles(x86)", r"C:\Program Files (x86)"),
                         ("ProgramW6432", r"C:\Program Files")):
        base = environ.get(var, default)
        found.append(Path(base) / "LibreOffice" / "program" / "soffice.exe")
    found.append(Path("/Applications/LibreOffice.app/Contents/MacOS/soffice"))
    return list(dict.fromkeys(found))


def find_soffice(environ: Mapping[str, str] | None = None) -> str | None:
    """The soffice program: on PATH, else in the usual install folders; None when LibreOffice is absent."""
    env = os.environ if environ is None else environ
    on_path = shutil.which("soffice", path=env.get("PATH"))
    if on_path:
        return on_path
    for candidate in soffice_candidates(env):
        if candidate.is_file():
            return str(candidate)
    return None


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """End soffice and everything it started (soffice.bin), then reap it and close its pipes."""
    kill_tree(proc.pid)
    proc.communicate()


def convert_with_office(path: Path, soffice: str, out_dir: Path, timeout: float = SOFFICE_TIMEOUT) -> Path:
    """Convert ``path`` to .docx in ``out_dir`` with headless LibreOffice in a private profile there.

    The file is copied under a plain ASCII name first, so that a Chinese, spaced or ``#`` name
    never trips soffice's command line. Raises :class:`DocumentError` on timeout or failure.
    """
    work = out_dir / "in"
    work.mkdir(parents=True, exist_ok=True)
    source = work / ("form" + (path.suffix.lower() if path.suffix.lower() in (".doc", ".wps", ".odt", ".rtf") else ".doc"))
    shutil.copyfile(path, source)
    profile = out_dir / "profile"
    command = [soffice, f"-env:UserInstallation={profile.resolve().as_uri()}", "--headless", "--norestore",
               "--nologo", "--nolockcheck", "--convert-to", "docx", "--outdir", str(out_dir), str(source)]
    # Within the file's own time budget (pipeline.safety.guards), so that soffice is ended here, by this
    # process, before the reading process itself would be killed at the limit.
    left = budget_left()
    wait = timeout if left is None else max(0.1, min(timeout, left - BUDGET_MARGIN))
    try:
        # its own process group, so that a timeout ends soffice.bin too, not only the launcher
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                **child_group())
    except OSError as exc:
        if is_disk_full(exc):
            raise
        raise DocumentError(f"无法启动 LibreOffice（{os_words(exc)}），不能读取“{path.name}”，"
                            f"{RESAVE_ADVICE}。", NO_OFFICE) from exc
    try:
        output, _ = proc.communicate(timeout=wait)
    except BaseException as exc:  # the time is up, or this process is being stopped: soffice must not outlive it
        _kill(proc)
        if isinstance(exc, subprocess.TimeoutExpired):
            raise DocumentError(f"用 LibreOffice 转换“{path.name}”超过 {wait:.0f} 秒仍未完成，{RESAVE_ADVICE}。",
                                TIMEOUT) from exc
        raise
    result = out_dir / (source.stem + ".docx")
    if proc.returncode != 0 or not result.is_file():
        said = output.decode("utf-8", "replace").strip()[-200:]
        raise DocumentError(f"LibreOffice 无法转换“{path.name}”（退出码 {proc.returncode}{'：' + said if said else ''}），"
                            f"{RESAVE_ADVICE}。", CONVERT_FAILED)
    return result


def office_blocks(path: Path, soffice: str | None = None, timeout: float = SOFFICE_TIMEOUT) -> list[str]:
    """The blocks of a .doc/.wps/.odt/.rtf, through a .docx made by LibreOffice in a private temp folder."""
    program = soffice or find_soffice()
    if program is None:
        raise DocumentError(f"“{path.name}”是旧版 Word/WPS 文字格式，本机未安装 LibreOffice，无法读取，{RESAVE_ADVICE}。",
                            NO_OFFICE)
    with tempfile.TemporaryDirectory(prefix="pipeline-office-") as tmp:
        return docx_blocks(convert_with_office(path, program, Path(tmp), timeout))


def document_blocks(path: Path, kind: str, soffice: str | None = None) -> list[str]:
    """The text blocks of a document of the given kind (docx, pdf, or one of OFFICE_KINDS)."""
    if kind == "docx":
        return docx_blocks(path)
    if kind == "pdf":
        return pdf_blocks(path)
    if kind in OFFICE_KINDS:
        return office_blocks(path, soffice)
    raise DocumentError(f"“{path.name}”不是 Word 或 PDF 文件，{RESAVE_ADVICE}。", UNSUPPORTED)


# ----------------------------------------------------------------------------- the Word form as a return

WORD_ORIGINAL = "Word原文"
PDF_ORIGINAL = "PDF原文"
NOT_TEMPLATE_RULE = "未使用Excel模板"
NOT_TEMPLATE_MESSAGE = "未使用Excel模板，已按通知原文语句读取。请核对读取的数字；今后请使用下发的Excel模板填报。"
MISSING_RULE = "语句未找到"
AMBIGUOUS_RULE = "语句重复"


class WordIssue(NamedTuple):
    """A finding about a Word/PDF return, in the order of ``Submission.add``'s arguments.

    ``severity`` is 警告 or 错误 (错误 makes the return 退回); ``cell`` is left empty, since a
    Word or PDF file has no cells: ``label`` names the 活动项目 and its items instead.
    """

    severity: Severity
    rule: str
    message: str
    field_id: str = ""
    label: str = ""
    cell: str = ""
    value: str = ""


@dataclass(frozen=True)
class WordReturn:
    """What a Word or PDF copy of 附件1 holds, raw, for the intake to normalise and validate.

    ``values`` has every body field: the text typed in its blank as it stands (“12次”, “约300”),
    or None for a blank left as （） or a sentence not found. ``header`` has every header field.
    """

    header: dict[str, str | None]
    values: dict[str, str | None]
    found: tuple[str, ...]  # section ids whose sentence was read
    missing: tuple[str, ...]  # section ids whose sentence was not found (or was found twice, differently)
    read_as: str  # WORD_ORIGINAL or PDF_ORIGINAL, for the 读取方式 column
    issues: tuple[WordIssue, ...]
    places: dict[str, str]  # field id -> where its blank is, in words (第1项第2个括号)

    @property
    def rejected(self) -> bool:
        """True when some sentence could not be read (missing, or found twice differently): the return is 退回."""
        return any(issue.severity == Severity.ERROR for issue in self.issues)

    @property
    def is_form(self) -> bool:
        """Whether any sentence of the form was found; a document with none is not a return (e.g. a 活动总结)."""
        return bool(self.found)


def _section_label(spec: FormSpec, section_id: str) -> str:
    number, section = next((i, s) for i, s in enumerate(spec.sections, start=1) if s.id == section_id)
    return f"第{number}项“{section.title}”"


def word_return(match: SentenceMatch, spec: FormSpec, read_as: str) -> WordReturn:
    """Apply the rules for a return read from the notice's sentences (pure; see :func:`read_word_form`)."""
    issues = [WordIssue(Severity.WARNING, NOT_TEMPLATE_RULE, NOT_TEMPLATE_MESSAGE)]
    sections = {s.id: s for s in spec.sections if s.wordings}
    for section_id in (*match.missing, *match.ambiguous):
        section = sections[section_id]
        items = "、".join(f.label for f in section.fields)
        if section_id in match.ambiguous:
            why = "的进展情况语句出现了不止一次，且所填内容不同，无法确定以哪一处为准"
            rule = AMBIGUOUS_RULE
        else:
            why = "的进展情况语句未找到（可能被改写或删除）"
            rule = MISSING_RULE
        # What cannot be read is never taken for blank: 退回 (a section of optional items alone only warns).
        severity = Severity.WARNING if all(f.optional for f in section.fields) else Severity.ERROR
        issues.append(WordIssue(
            severity, rule,
            f"{_section_label(spec, section_id)}{why}，以下{len(section.fields)}项无法读取：{items}。"
            + ("本次报送退回。" if severity == Severity.ERROR else "")
            + "请按通知原文语句填写（只在括号内填数字）后重新报送，或改用下发的Excel模板。",
            label=section.title,
        ))
    unread = [*match.missing, *match.ambiguous]
    return WordReturn(header=match.header, values=match.values, found=match.found, missing=tuple(unread),
                      read_as=read_as, issues=tuple(issues), places=match.places)


def read_word_form(path: Path, kind: str, spec: FormSpec, soffice: str | None = None) -> WordReturn:
    """Read 附件1 filled in on the notice's own Word form (.docx, .doc/.wps through LibreOffice) or a text PDF.

    ``kind`` is pipeline.safety.sniff's kind of the file: docx, pdf, or one of OFFICE_KINDS. Raises
    :class:`DocumentError` for a damaged file, no text layer, LibreOffice absent or too slow (see the module docstring).
    """
    blocks = document_blocks(path, kind, soffice)
    if kind == "pdf":
        return word_return(match_form(tidy_pdf_blocks(blocks, spec), spec), spec, PDF_ORIGINAL)
    return word_return(match_form(blocks, spec), spec, WORD_ORIGINAL)
