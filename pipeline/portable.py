"""What differs between the clerk's Windows PC and a POSIX machine, chosen by capability, never by platform name.

* worker processes: ``fork`` where ``os.fork`` exists, else ``spawn`` (Windows' only method);
* ending a process with everything it started (:func:`kill_tree`): psutil walks the children on every
  platform; on POSIX their process groups are killed too, so that a grandchild whose parent already
  exited is not missed;
* a child program in a group of its own (:func:`child_group`), so that it can be ended as a whole;
* console output: a console whose code page cannot show a character (GBK and an emoji in a
  file name) gets a replacement, never a UnicodeEncodeError;
* China time for mail headers, whether or not the machine has the tz database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # multiprocessing and subprocess are imported where used: an unchanged re-run needs neither
    from multiprocessing.context import BaseContext

# China has kept UTC+8 all year since 1991; the fixed offset stands in when there is no tz database.
CHINA_OFFSET = dt.timezone(dt.timedelta(hours=8), "CST")


def can_fork() -> bool:
    """Whether a child process can be forked from this one (never on Windows)."""
    import multiprocessing

    return hasattr(os, "fork") and "fork" in multiprocessing.get_all_start_methods()


def child_group() -> dict[str, Any]:
    """``subprocess.Popen`` options that start a child program in a process group of its own."""
    if hasattr(os, "setsid"):
        return {"start_new_session": True}
    import subprocess

    return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}


def kill_tree(pid: int, *, include_self: bool = True, wait: float = 5.0) -> None:
    """Kill process ``pid`` and every process it started, at once (SIGKILL / TerminateProcess).

    The children are listed before anything is killed (a killed parent no longer lists them);
    on POSIX each child's own process group is killed too (LibreOffice's soffice.bin, unar).
    A process already gone is skipped; never raises.
    """
    import psutil

    try:
        root = psutil.Process(pid)
        family = root.children(recursive=True)
    except psutil.Error:
        return
    if include_self:
        family.insert(0, root)
    own_group = os.getpgrp() if hasattr(os, "getpgrp") else None
    groups: set[int] = set()
    for proc in family:
        if hasattr(os, "getpgid"):
            try:
                group = os.getpgid(proc.pid)
            except OSError:
                group = None
            if group is not None and group != own_group and group > 1:
                groups.add(group)
        with contextlib.suppress(psutil.Error):
            proc.kill()
    for group in groups:
        with contextlib.suppress(OSError):  # the group is gone already
            os.killpg(group, signal.SIGKILL)
    deadline = time.monotonic() + wait
    for proc in family:  # gone, or a zombie (dead; its parent or init reaps it)
        while time.monotonic() < deadline:
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.Error:
                break
            time.sleep(0.01)


def pool_context() -> BaseContext | None:
    """The start method for worker pools: the platform's default where it can fork, else ``spawn``.

    Everything a pool's initializer receives must then pickle, and its functions live at
    module level (``spawn`` imports the module afresh in each worker).
    """
    import multiprocessing

    return None if can_fork() else multiprocessing.get_context("spawn")


def china_tz() -> dt.tzinfo:
    """Asia/Shanghai from the tz database when there is one, else the fixed UTC+8 offset."""
    try:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    except ImportError:  # pragma: no cover - zoneinfo is in the standard library since 3.9
        return CHINA_OFFSET
    try:
        return ZoneInfo("Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return CHINA_OFFSET


def china_now() -> dt.datetime:
    """The current time in China, whatever the machine's own zone."""
    return dt.datetime.now(china_tz()).replace(microsecond=0)


def tolerant_console(*streams: TextIO) -> None:
    """Let stdout and stderr print any text: a character the console cannot encode becomes an escape.

    A Chinese Windows console is GBK (code page 936), which has no emoji and no rarer symbols;
    file names from outside hold both. The encoding stays what the console wants.
    """
    for stream in streams or (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="backslashreplace")
