"""inbox → scan: every file below the inbox, named, sized, timed and hashed (never raises)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pipeline.model import Submission
from pipeline.safety.guards import safe_name

if TYPE_CHECKING:
    from pipeline.store.ledger import StatCache


# The repository's own placeholder that keeps the empty inbox/ folder in git: not something a unit sent.
REPO_PLACEHOLDERS = frozenset({".gitkeep"})


def _walk(folder: str, prefix: str, found: list[tuple[str, str]]) -> None:
    """(relative posix name, path) of every file below ``folder``; links to folders are not followed, as rglob does."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                _walk(entry.path, f"{prefix}{entry.name}/", found)
            elif entry.is_file():
                found.append((prefix + entry.name, entry.path))
        except OSError:
            continue


def scan_inbox(inbox: Path) -> list[Path]:
    """Every file below ``inbox`` (recursively), in a stable order; only the repository placeholder is left out.

    Walked with ``os.scandir``, whose entries know their kind without a ``stat`` per file.
    """
    if not inbox.exists():
        return []
    found: list[tuple[str, str]] = []
    _walk(os.fspath(inbox), "", found)
    found.sort()
    return [Path(path) for relative, path in found if relative not in REPO_PLACEHOLDERS]


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Stamp(NamedTuple):
    """What the freshness decision needs of one inbox file: its printable name, where it is, sha256, time, size.

    A plain tuple of strings and numbers, so that an unchanged re-run of 10,000 files builds no
    :class:`~pipeline.model.Submission` and no :class:`~pathlib.Path` before it knows it has nothing to do.
    """

    file: str  # path relative to inbox/, with forward slashes (Submission.file)
    path: str  # the file system path
    sha256: str  # "" when the file vanished or cannot be read
    mtime: float
    size: int

    def submission(self) -> Submission:
        """The bare record of this file, as :func:`new_submission` makes it."""
        return Submission(file=self.file, path=Path(self.path), sha256=self.sha256, mtime=self.mtime, size=self.size)


def _stamp(text: str, relative: str, stats: StatCache | None, clock: Callable[[], int]) -> Stamp:
    """Stat and hash one file (its sha256 from ``stats`` while its stat is unchanged); never raises."""
    mtime, size, sha = 0.0, 0, ""
    try:
        started = clock()
        stat = os.stat(text)  # noqa: PTH116  (a Path per file is what an unchanged re-run avoids)
        mtime, size = stat.st_mtime, stat.st_size
        known = stats.lookup(text, stat) if stats is not None else None
        sha = known or file_digest(Path(text))
        if stats is not None and known is None:
            stats.remember(text, stat, sha, started)
    except OSError:
        pass
    return Stamp(safe_name(relative), text, sha, mtime, size)


def stamp_inbox(inbox: Path, stats: StatCache | None = None, clock: Callable[[], int] = time.time_ns) -> list[Stamp]:
    """The :class:`Stamp` of every file below ``inbox``, in :func:`scan_inbox` order; with ``stats``, saved after.

    The same files, names, hashes and times as ``hash_all(scan_inbox(inbox), inbox, stats)``, without
    building a Path or a Submission per file.
    """
    found: list[tuple[str, str]] = []
    if inbox.exists():
        _walk(os.fspath(inbox), "", found)
    found.sort()
    stamps = [_stamp(path, relative, stats, clock) for relative, path in found if relative not in REPO_PLACEHOLDERS]
    if stats is not None:
        stats.save()
    return stamps


def new_submission(path: Path, inbox: Path, stats: StatCache | None = None,
                   clock: Callable[[], int] = time.time_ns) -> Submission:
    """The record of one file below ``inbox``: printable name, size, time and sha256; never raises.

    With ``stats``, a file whose stat is unchanged since it was last hashed is not read again.
    A file that vanished or cannot be read keeps size 0 and an empty sha256; the reader
    then reports it. ``clock`` (nanoseconds since the epoch) stamps when the file was hashed, which
    decides whether its stat can be trusted next time (:data:`pipeline.store.ledger.RACY_NS`).
    """
    text, root = os.fspath(path), os.fspath(inbox) + os.sep
    if text.startswith(root):  # as path.relative_to(inbox), without building Path objects for 10,000 files
        relative = text[len(root):].replace(os.sep, "/")
    else:
        try:
            relative = path.relative_to(inbox).as_posix()
        except ValueError:
            relative = path.name
    stamp = _stamp(text, relative, stats, clock)
    return Submission(file=stamp.file, path=path, sha256=stamp.sha256, mtime=stamp.mtime, size=stamp.size)


def hash_all(paths: list[Path], inbox: Path, stats: StatCache | None = None,
             clock: Callable[[], int] = time.time_ns) -> list[Submission]:
    """The bare record (name, size, time, sha256) of every file, in ``paths`` order.

    With ``stats`` (the ledger's), unchanged files are not read again and the stats are saved.
    """
    subs = [new_submission(p, inbox, stats, clock) for p in paths]
    if stats is not None:
        stats.save()
    return subs
