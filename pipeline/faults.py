"""Whose fault: this program's (a bug), this computer's (本机问题), or the file's (bad bytes).

Program errors: a fault of this program, never of the unit whose file was being handled.

A file's expected faults (broken zip, password, unsafe XML, a guard's refusal, …) are the unit's to
fix and get a unit-facing 错误 finding. Anything else that goes wrong is our bug: it is logged with
its traceback through :data:`LOG` (to ``pipeline.log`` beside the ledger, see :func:`log_to`),
counted in the summary (:func:`summary_line`), and the file or output concerned says only
:data:`PROGRAM_ERROR_NOTE`. The logging is configured by the orchestrator (:mod:`pipeline.job`)
for the duration of a run, never at import time.

Machine faults (本机问题): a file that could not be read because of this computer, not because of
its bytes: the per-file time limit ran out, a tool is missing (LibreOffice, unar/bsdtar) or a disk
is full. The file is marked with :data:`MACHINE_FAULT_NOTE` and what to install or retry; it is
never cached and a run that met one is not remembered as up to date, so the next run reads it
again. A full disk ends the run (:class:`DiskFullError`). Which exceptions are the *file's* fault is
listed per library in :mod:`pipeline.safety.badbytes`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import shutil
import sqlite3
import traceback
from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.model import Outcome, Submission

LOG = logging.getLogger("pipeline.program")
# Technical detail that users never see (the exception behind a 文件损坏, a machine fault): INFO lines in the same log.
DETAIL = logging.getLogger("pipeline.detail")
LOG_NAME = "pipeline.log"
PROGRAM_ERROR_NOTE = "程序内部错误，已记入日志，请联系维护人员"
_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def traceback_text(exc: BaseException) -> str:
    """The full traceback of ``exc`` as text (it crosses process boundaries and the parse cache)."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def log_error(what: str, detail: BaseException | str) -> None:
    """Log one program error: what was being done, and the exception (or its traceback text)."""
    if isinstance(detail, BaseException):
        LOG.error("%s", what, exc_info=(type(detail), detail, detail.__traceback__))
    else:
        LOG.error("%s\n%s", what, detail.rstrip())


@contextlib.contextmanager
def log_to(folder: Path) -> Iterator[Path]:
    """Append program errors to ``folder/pipeline.log`` while the block runs; re-entrant for the same folder."""
    path = (folder / LOG_NAME).resolve()
    for handler in LOG.handlers:
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename) == path:
            yield path  # an outer block already logs there
            return
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter(_FORMAT))
    LOG.addHandler(handler)
    DETAIL.addHandler(handler)
    DETAIL.setLevel(logging.INFO)
    DETAIL.propagate = False
    try:
        yield path
    finally:
        LOG.removeHandler(handler)
        DETAIL.removeHandler(handler)
        handler.close()


def quiet_libraries() -> None:
    """Keep what libraries log (pypdf's “EOF marker not found”, …) off the terminal: users read only Chinese.

    Without any handler, Python's logging prints a library's warnings to stderr as they stand. A null
    handler on the root logger stops that; this program's own loggers have their handlers.
    """
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())


def log_detail(what: str, detail: str) -> None:
    """Log a technical detail (an exception's type and text) that the Chinese message left out."""
    DETAIL.info("%s：%s", what, detail)


def summary_line(count: int, folder: Path) -> str:
    """The summary line about program errors, or "" when there were none."""
    if not count:
        return ""
    return (f"程序内部错误 {count} 个，详见日志 {folder / LOG_NAME}（这些错误不是报送单位的责任，"
            "相关文件已标注“程序内部错误”，请将日志发给维护人员）。")


# ----------------------------------------------------------------------------- machine faults (本机问题)

MACHINE_FAULT_NOTE = "本机问题"
TIMEOUT_RULE = "处理超时"
CRASH_RULE = "读取中止"
NO_TOOL_RULE = "缺少组件"
DISK_RULE = "磁盘空间不足"
RETRY = "下次运行 make rollup 时会重新读取该文件（即使来件没有变化）"


class MachineFaultError(Exception):
    """This computer could not read the file (time, a missing tool, disk space); ``str()`` is Chinese.

    ``rule`` is the short name (处理超时, 读取中止, 缺少组件, 磁盘空间不足); the message says what to install or retry.
    """

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def timeout_fault(seconds: float) -> MachineFaultError:
    """The machine fault of a file whose reading was stopped at the per-file time limit."""
    return MachineFaultError(TIMEOUT_RULE, f"读取该文件超过 {seconds:g} 秒仍未完成，已停止读取（本机繁忙，或文件过于复杂）。"
                             f"{RETRY}；如仍超时，可在 campaign.toml 的 [limits] 中调大 seconds_per_file，"
                             "或请报送单位在下发的模板上重新填写后发送")


def crash_fault() -> MachineFaultError:
    """The machine fault of a file whose reading process ended abruptly (out of memory, a crash in a library)."""
    return MachineFaultError(CRASH_RULE, "读取该文件的进程意外中止（可能是本机内存不足）。"
                             f"{RETRY}；如仍中止，请关闭其他程序后再试，或请报送单位在下发的模板上重新填写后发送")


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) says a disk is full: ENOSPC/EDQUOT, or SQLite's SQLITE_FULL."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return True
        if isinstance(exc, sqlite3.Error) and (getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
                                               or "database or disk is full" in str(exc)):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


_MB = 1 << 20


def free_mb(folder: Path) -> int | None:
    """Free space on the disk holding ``folder`` (or its nearest existing parent), in MB; None when unknown."""
    for candidate in (folder, *folder.parents):
        try:
            return shutil.disk_usage(candidate).free // _MB
        except OSError:
            continue
    return None


class DiskFullError(PipelineError):
    """A disk filled up: the run stops with a Chinese message naming the folder and the space needed."""

    def __init__(self, folder: Path, needed_mb: int) -> None:
        free = free_mb(folder)
        left = f"该磁盘现剩余约 {free} MB，" if free is not None else ""
        super().__init__(
            f"磁盘空间不足（本机问题）：无法写入文件夹“{folder}”。{left}本次运行还需要约 {needed_mb} MB。"
            "请清理该磁盘（或把该文件夹移到空间较大的磁盘）后重新运行。"
            "已生成的文件都是完整的；本次运行没有完成，下次运行会重新读取全部来件。")
        self.folder = folder
        self.needed_mb = needed_mb


def folder_size_mb(folder: Path) -> int:
    """The size of everything below ``folder``, in MB (rounded up); 0 when it cannot be listed."""
    total = 0
    try:
        for path in folder.rglob("*"):
            with contextlib.suppress(OSError):
                total += path.stat().st_size if path.is_file() else 0
    except OSError:
        return 0
    return -(-total // _MB)


def network_words(exc: BaseException) -> str:
    """Why a connection to a mail server failed, in Chinese (never the exception's name); the detail goes to the log."""
    import socket
    import ssl

    log_detail("网络错误", f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}")
    for kind, words in ((socket.gaierror, "找不到该服务器，请检查服务器地址和网络"),
                        (ConnectionRefusedError, "服务器拒绝连接，请检查端口"),
                        (TimeoutError, "连接超时"), (ConnectionResetError, "连接被服务器中断"),
                        (ssl.SSLError, "加密连接失败"), (ConnectionError, "连接中断")):
        if isinstance(exc, kind):
            return words
    return "网络或服务器错误"


def os_words(exc: OSError) -> str:
    """Why a file or program could not be used, in Chinese (never the exception's name or its English text)."""
    for kind, words in ((PermissionError, "没有权限"), (FileNotFoundError, "找不到该文件或文件夹"),
                        (IsADirectoryError, "这是一个文件夹"), (NotADirectoryError, "路径中有同名文件")):
        if isinstance(exc, kind):
            return words
    return "磁盘空间不足" if is_disk_full(exc) else "系统拒绝了该操作"


def program_error(sub: Submission, exc: BaseException) -> None:
    """This program failed on the file: no finding for the unit, a note saying it is ours, the traceback kept.

    The traceback travels on the submission (from a worker process too) and the orchestrator logs it.
    """
    sub.form_id, sub.unit, sub.located_by, sub.sheet = None, None, "", ""
    sub.raw, sub.values, sub.meta, sub.findings = {}, {}, {}, []
    sub.outcome = Outcome.UNSUPPORTED
    sub.note = PROGRAM_ERROR_NOTE
    sub.program_error = traceback_text(exc)
