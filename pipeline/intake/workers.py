"""inbox → read: every file is parsed in a worker process that is killed when the file's time is up.

A time limit inside the reading thread (SIGALRM, an asynchronous exception) acts only between two
Python bytecodes: it cannot stop a long call into C, nor a child program such as LibreOffice. So
each file is sent to a worker process, and when a file is still unread ``seconds_per_file`` after
its worker started on it, the worker is killed with everything it started
(:func:`pipeline.portable.kill_tree`: psutil on every platform, plus the process groups on POSIX)
and a new worker takes its place. That file gets :func:`pipeline.faults.timeout_fault` (a machine
fault, read again next run); a worker that dies by itself gives its file
:func:`pipeline.faults.crash_fault`. The other files go on.

Workers are started with ``fork`` where it exists, else ``spawn`` (Windows, see
:func:`pipeline.portable.pool_context`): what they receive pickles, and their functions live at
module level. Each worker has up to :data:`IN_FLIGHT` files queued, so that it never waits for the
parent between two files; a file's clock starts when the worker reports the one before it done.

The workers are what parses returned files, so each checks first that openpyxl parses through
defusedxml (:func:`pipeline.safety.guards.require_safe_xml`); when it does not, the run stops with that
message. The parent need not import openpyxl for it. Once the first workers are at work, the parent may
do something else of its own (``meanwhile``: ``check`` imports pandas and pandera there), so that the
parse and that work share the cores; processes are always started before it, never from a process busy
importing.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from pipeline.errors import PipelineError
from pipeline.faults import MachineFaultError, crash_fault, quiet_libraries, timeout_fault
from pipeline.forms.spec import FormSpec
from pipeline.model import Submission
from pipeline.portable import kill_tree, pool_context
from pipeline.safety.guards import require_safe_xml, start_budget
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster

IN_FLIGHT = 2  # files sent ahead to one worker
STOP_WAIT = 5.0  # seconds a worker has to end after being told to
STARTUP_WAIT = 120.0  # seconds a new worker may take to start (spawn imports the program afresh)

# Parses one file and returns it pickled (the bytes cross to the parent and go into the cache as they are).
Parse = Callable[[Submission, Mapping[str, FormSpec], Campaign, Roster], bytes]
Settings = tuple[Mapping[str, FormSpec], Campaign, Roster]


def _serve(conn: Connection, parse: Parse, settings: Settings, seconds: float) -> None:
    """A worker's life: parse each file it is sent (index, submission), send back (index, pickled result)."""
    # A worker keeps nothing between files, but an openpyxl workbook is a reference cycle: collect as usual,
    # whatever the parent process does (see pipeline.store.collector). What a forked worker inherited (the
    # parent's cached parses) is frozen first, so that no collection walks it.
    gc.freeze()
    gc.enable()
    quiet_libraries()  # a spawned worker starts without the command line's logging set-up
    try:
        require_safe_xml()  # returned files are untrusted: never parse them without defusedxml (imports openpyxl)
    except PipelineError as refused:
        conn.send(refused)  # the parent stops the run with this message
        return
    conn.send(None)  # ready: the clock of the first file starts now, not while this process was starting
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if task is None:
            return
        index, sub = task
        start_budget(seconds)
        payload = parse(sub, *settings)
        start_budget(0)
        try:
            conn.send((index, payload))
        except OSError:  # the parent is gone
            return


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    queued: deque[int] = field(default_factory=deque)  # indexes sent, the first is being parsed
    since: float = field(default_factory=time.monotonic)  # when the first of ``queued`` was started
    ready: bool = False  # started up (imports done, settings received)


def _start(context: Any, parse: Parse, settings: Settings, seconds: float) -> _Worker:
    parent_end, child_end = context.Pipe()
    process = context.Process(target=_serve, args=(child_end, parse, settings, seconds), daemon=True,
                              name="pipeline-reader")
    process.start()
    child_end.close()
    return _Worker(process, parent_end)


def _stop(worker: _Worker, kill: bool) -> None:
    if kill:
        kill_tree(worker.process.pid or 0)
    else:
        with contextlib.suppress(OSError):
            worker.conn.send(None)
        worker.process.join(STOP_WAIT)
        if worker.process.is_alive():
            kill_tree(worker.process.pid or 0)
    worker.process.join(STOP_WAIT)
    worker.conn.close()


def _allowed(worker: _Worker, limit: float) -> float:
    """How long the worker may take: the file's limit, plus the start-up time of a worker not yet ready."""
    return limit if worker.ready else limit + STARTUP_WAIT


def parse_killable(subs: list[Submission], parse: Parse, settings: Settings, seconds: float,
                   workers: int, budgets: Sequence[float] | None = None,
                   meanwhile: Callable[[], object] | None = None) -> Iterator[tuple[int, bytes | MachineFaultError]]:
    """Each file's pickled parse, or the machine fault that stopped it, as ``(index in subs, result)``.

    Results come as files finish, not in order. ``parse`` must be a module-level function. ``budgets``,
    when given, is each file's own time limit (a scan is read by OCR, page by page); else every file has ``seconds``.
    ``meanwhile`` is called once, in this process, when the first workers have been started and sent their
    files. A worker that refuses to parse (see the module docstring) raises its :class:`PipelineError` here.
    """
    context = pool_context() or multiprocessing.get_context()
    pending: deque[int] = deque(range(len(subs)))
    pool: list[_Worker] = []
    limit = seconds if seconds > 0 else None

    def limit_of(index: int) -> float:
        return budgets[index] if budgets is not None and limit is not None else seconds
    try:
        while pending or any(w.queued for w in pool):
            while len(pool) < workers and pending:
                pool.append(_start(context, parse, settings, seconds))
            for worker in pool:
                while pending and len(worker.queued) < IN_FLIGHT:
                    index = pending.popleft()
                    if not worker.queued and worker.ready:
                        worker.since = time.monotonic()
                    worker.queued.append(index)
                    worker.conn.send((index, subs[index]))
            if meanwhile is not None:  # a worker's clock starts when the parent hears it is ready: never shortened
                meanwhile()
                meanwhile = None
            busy = [w for w in pool if w.queued]
            now = time.monotonic()
            timeout = None if limit is None else max(0.0, min(w.since + _allowed(w, limit_of(w.queued[0]))
                                                               for w in busy) - now)
            ready = set(wait([w.conn for w in busy], timeout))
            for worker in list(busy):
                if worker.conn in ready:
                    try:
                        message = worker.conn.recv()
                    except (EOFError, OSError):  # the worker died (a crash in C code, out of memory)
                        lost = worker.queued.popleft()
                        pending.extendleft(reversed(worker.queued))
                        pool.remove(worker)
                        _stop(worker, kill=True)
                        yield lost, crash_fault()
                        continue
                    worker.since = time.monotonic()
                    if message is None:
                        worker.ready = True
                        continue
                    if isinstance(message, PipelineError):
                        raise message
                    index, payload = message
                    worker.queued.remove(index)
                    yield index, payload
                elif limit is not None and time.monotonic() - worker.since >= _allowed(worker, limit_of(worker.queued[0])):
                    stuck = worker.queued.popleft()
                    pending.extendleft(reversed(worker.queued))  # sent ahead, never started: read elsewhere
                    pool.remove(worker)
                    _stop(worker, kill=True)
                    yield stuck, timeout_fault(limit_of(stuck))
    finally:
        for worker in pool:
            _stop(worker, kill=bool(worker.queued))
