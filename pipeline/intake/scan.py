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


class Listing(NamedTuple):
    """Every file below the inbox with its ``stat``, in a stable order, before any is read.

    Its :attr:`digest` covers each file's name, size, times and inode, the key of the ledger's stat
    cache (:class:`~pipeline.store.ledger.StatCache`): when it equals that of a run whose files were all
    hashed outside the racy window, every file still holds the bytes that run hashed.
    """

    files: list[tuple[str, str, os.stat_result | None]]  # (relative posix name, path, stat; None if it cannot be had)
    started: int  # the clock before the first stat: hashes taken of these files count from then
    digest: str


def list_inbox(inbox: Path, clock: Callable[[], int] = time.time_ns) -> Listing:
    """The :class:`Listing` of every file below ``inbox``: walked and stat'ed, nothing read; never raises."""
    started = clock()  # before every stat: a file written after it is within the racy window of its hash
    found: list[tuple[str, str]] = []
    if inbox.exists():
        _walk(os.fspath(inbox), "", found)
    found.sort()
    files: list[tuple[str, str, os.stat_result | None]] = []
    keys: list[str] = []
    for relative, path in found:
        if relative in REPO_PLACEHOLDERS:
            continue
        try:
            stat: os.stat_result | None = os.stat(path)  # noqa: PTH116  (a Path per file is what a re-run avoids)
        except OSError:
            stat = None
        files.append((relative, path, stat))
        keys.append(f"{relative}\0-\n" if stat is None else
                    f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ctime_ns}\0{stat.st_ino}\n")
    digest = hashlib.sha256("".join(keys).encode("utf-8", "surrogatepass")).hexdigest()
    return Listing(files, started, digest)


def _stamp(relative: str, text: str, stat: os.stat_result | None, stats: StatCache | None, started: int) -> Stamp:
    """The stamp of one file stat'ed at or after ``started`` (its sha256 from ``stats`` while that stat is the
    one it was hashed under); never raises."""
    mtime, size, sha = 0.0, 0, ""
    if stat is not None:
        mtime, size = stat.st_mtime, stat.st_size
        try:
            known = stats.lookup(text, stat) if stats is not None else None
            sha = known or file_digest(Path(text))
            if stats is not None and known is None:
                stats.remember(text, stat, sha, started)
        except OSError:
            pass
    return Stamp(safe_name(relative), text, sha, mtime, size)


def stamp_listing(listing: Listing, stats: StatCache | None = None) -> list[Stamp]:
    """The :class:`Stamp` of every file listed, in its order; with ``stats``, saved after."""
    stamps = [_stamp(relative, path, stat, stats, listing.started) for relative, path, stat in listing.files]
    if stats is not None:
        stats.save()
    return stamps


def stamp_inbox(inbox: Path, stats: StatCache | None = None, clock: Callable[[], int] = time.time_ns) -> list[Stamp]:
    """The :class:`Stamp` of every file below ``inbox``, in name order; with ``stats``, saved after.

    The same names, hashes and times as :func:`new_submission` gives each file, without building a Path
    or a Submission per file.
    """
    return stamp_listing(list_inbox(inbox, clock), stats)


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
    started = clock()
    try:
        stat: os.stat_result | None = os.stat(text)  # noqa: PTH116  (as list_inbox stats)
    except OSError:
        stat = None
    stamp = _stamp(relative, text, stat, stats, started)
    return Submission(file=stamp.file, path=path, sha256=stamp.sha256, mtime=stamp.mtime, size=stamp.size)
