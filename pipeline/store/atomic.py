"""Atomic output: write to a temporary file beside the target, then rename over it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


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
    try:
        yield tmp
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
