"""Atomic output: write to a temporary file beside the target, then rename over it."""

from __future__ import annotations

import contextlib
import fnmatch
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Crash tests: a run whose environment names a point (glob patterns allowed) ends there at once, as under
# kill -9 (no cleanup, no flush). Points: ``read`` (the inbox is read, no output written yet),
# ``begin:<file name>`` (a temporary output was just created) and ``rename:<file name>`` (it is written
# and about to replace the previous one).
KILL_ENV = "PIPELINE_KILL_AT"
KILLED_EXIT = 137


def kill_point(name: str) -> None:
    """End the process right here when :data:`KILL_ENV` names this point (a test hook; a no-op otherwise)."""
    wanted = os.environ.get(KILL_ENV)
    if wanted and fnmatch.fnmatchcase(name, wanted):
        os._exit(KILLED_EXIT)  # same on every platform: no finally blocks, no atexit, buffers lost


@contextlib.contextmanager
def atomic_path(path: Path, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it onto ``path``.

    A run killed half-way leaves the previous file untouched and at most a stray
    ``.tmp`` file, never a truncated output. ``durable`` also flushes the bytes to disk
    before the rename (so a power cut cannot leave an empty file); files that can simply
    be generated again, like the thousands of templates, skip that cost.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f"{path.suffix}.tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    kill_point(f"begin:{path.name}")
    try:
        yield tmp
        kill_point(f"rename:{path.name}")
        if durable:
            with tmp.open("rb+") as handle:
                os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); outputs are ordinary files for the office to share.
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def sweep_stale(folder: Path) -> list[Path]:
    """Remove temporary files that a killed run left behind in ``folder`` (and its sub-folders).

    Only names that :func:`atomic_path` makes are touched: hidden, ending in ``.tmp``.
    Call it when no other run can be writing into the same folder.
    """
    if not folder.is_dir():
        return []
    stale = [p for p in folder.rglob(".*.tmp") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
