"""The text of a returned document, as a list of blocks: .docx, text PDFs, and .doc/.wps through LibreOffice.

A block is one paragraph or one table cell, in document order. Nothing here raises anything but
:class:`DocumentError`, whose message is Chinese and can be shown to the unit as it stands.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

SOFFICE_TIMEOUT = 120  # seconds for one conversion; a cold start of a fresh profile takes most of it
# Kinds (as pipeline.sniff names them) that LibreOffice converts to .docx first.
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


def _paragraph_text(paragraph: object) -> str:
    """A paragraph's text including runs inside tracked insertions, content controls and fields.

    python-docx's ``Paragraph.text`` reads only the paragraph's direct runs, so numbers typed with
    “修订” (track changes) on, or into a content control, would be lost.
    """
    from docx.oxml.text.run import CT_R
    from docx.text.paragraph import Paragraph

    assert isinstance(paragraph, Paragraph)
    runs = paragraph._p.xpath(".//w:r[not(ancestor::w:del) and not(ancestor::w:moveFrom)]")
    return "".join(r.text for r in runs if isinstance(r, CT_R))


def _table_blocks(table: object, seen: set[int]) -> Iterator[str]:
    """Each cell of a table once (a merged cell is listed by python-docx under every grid cell it spans)."""
    from docx.table import Table

    assert isinstance(table, Table)
    for row in table.rows:
        for cell in row.cells:
            key = id(cell._tc)
            if key in seen:
                continue
            seen.add(key)
            yield from _container_blocks(cell, seen, in_cell=True)


def _container_blocks(container: object, seen: set[int], *, in_cell: bool = False) -> Iterator[str]:
    """The document body or a cell: paragraphs one block each (a cell's paragraphs together), tables recursed."""
    from docx.table import Table

    pending: list[str] = []
    for item in container.iter_inner_content():  # type: ignore[attr-defined]
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
        # Tables are tracked by their w:tc elements, which must stay alive while ``seen`` holds their ids.
        return list(_container_blocks(document, set()))
    except Exception as exc:  # python-docx raises zip, lxml and key errors on damaged files
        raise DocumentError(f"Word 文件“{path.name}”已损坏或无法打开（{type(exc).__name__}），{RESAVE_ADVICE}。",
                            UNREADABLE) from exc


# ----------------------------------------------------------------------------- PDF


def pdf_blocks(path: Path) -> list[str]:
    """The text lines of a PDF's text layer, page by page, in the order the PDF draws them (pypdf).

    Quote marks and dashes set in a Latin font are often drawn apart from the Chinese text around
    them; ``pipeline.sentences.tidy_pdf_blocks`` deals with that once the form is known.
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
        raise DocumentError(f"PDF 文件“{path.name}”已损坏或无法读取（{type(exc).__name__}），{RESAVE_ADVICE}。",
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
    """End soffice and what it started: its process group on POSIX, the process itself elsewhere."""
    killpg = getattr(os, "killpg", None)
    if killpg is not None and sys.platform != "win32":
        try:
            killpg(proc.pid, 9)
        except OSError:
            proc.kill()
    else:
        proc.kill()
    proc.wait()


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
    options: dict[str, object] = {}
    if sys.platform == "win32":
        options["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
    else:
        options["start_new_session"] = True
    try:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,  # noqa: S603
                                stderr=subprocess.STDOUT, **options)  # type: ignore[call-overload]
    except OSError as exc:
        raise DocumentError(f"无法启动 LibreOffice（{type(exc).__name__}），不能读取“{path.name}”，{RESAVE_ADVICE}。",
                            NO_OFFICE) from exc
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill(proc)
        raise DocumentError(f"用 LibreOffice 转换“{path.name}”超过 {timeout:g} 秒仍未完成，{RESAVE_ADVICE}。",
                            TIMEOUT) from exc
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
