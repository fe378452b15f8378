"""Program errors: a fault of this program, never of the unit whose file was being handled.

A file's expected faults (broken zip, password, unsafe XML, a guard's refusal, …) are the unit's to
fix and get a unit-facing 错误 finding. Anything else that goes wrong is our bug: it is logged with
its traceback through :data:`LOG` (to ``pipeline.log`` beside the ledger, see :func:`log_to`),
counted in the summary (:func:`summary_line`), and the file or output concerned says only
:data:`PROGRAM_ERROR_NOTE`. The logging is configured by the orchestrator (:mod:`pipeline.job`)
for the duration of a run, never at import time.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path

LOG = logging.getLogger("pipeline.program")
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
    try:
        yield path
    finally:
        LOG.removeHandler(handler)
        handler.close()


def summary_line(count: int, folder: Path) -> str:
    """The summary line about program errors, or "" when there were none."""
    if not count:
        return ""
    return (f"程序内部错误 {count} 个，详见日志 {folder / LOG_NAME}（这些错误不是报送单位的责任，"
            "相关文件已标注“程序内部错误”，请将日志发给维护人员）。")
