"""Members of a container file (an archive, a saved mail): each read as if it lay in inbox/.

A member is shown as ``附件.zip!/U013附件1.xlsx`` (container, ``!/``, its name inside) in every
output. Its bytes are written to a private temporary folder under a sanitised name (never the
name from inside the archive, so nothing can escape that folder), read through the same sources
as any inbox file (:func:`pipeline.intake.batch.parse_file`), and the folder is removed. Containers
nest at most :data:`MAX_DEPTH` deep (a zip inside a zip); deeper ones are only listed.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pipeline.intake.mailparts import safe_filename
from pipeline.intake.sources import Context
from pipeline.model import Submission
from pipeline.safety.guards import safe_name

MAX_DEPTH = 2  # a container inside a container is read; one level further is not
SEPARATOR = "!/"


@dataclass(frozen=True)
class Packed:
    """One file inside a container: its name there (decoded) and where its bytes were written."""

    name: str
    path: Path
    mtime: float = 0.0


def member_file(container: str, inner: str) -> str:
    """How a member is shown: ``附件.zip!/U013附件1.xlsx``."""
    return f"{container}{SEPARATOR}{safe_name(inner.lstrip('/'))}"


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """A private temporary folder, removed with everything in it afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="aqscy-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def scratch_path(folder: Path, index: int, inner: str) -> Path:
    """Where member ``index`` is written: its own subfolder and a name made safe (same extension)."""
    target = folder / f"{index:05d}" / safe_filename(PurePosixPath(inner.replace("\\", "/")).name)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def unique_names(names: list[str]) -> list[str]:
    """The names with repeats told apart as Windows does (``a``, ``a (2)``, ``a (3)``), so that every member has its own.

    A numbered name never takes one that is already used, whether by a name given as it is or by
    one numbered before it; names that differ only in case count as the same (as on Windows).
    """
    taken = {name.casefold() for name in names}
    used: set[str] = set()
    out: list[str] = []
    for name in names:
        candidate, number = name, 1
        path = PurePosixPath(name)
        while candidate.casefold() in used or (number > 1 and candidate.casefold() in taken):
            number += 1  # past a name already used, and past one that is itself a member's own name
            candidate = str(path.with_name(f"{path.stem} ({number}){path.suffix}"))
        used.add(candidate.casefold())
        out.append(candidate)
    return out


def read_member(container: Submission, packed: Packed, ctx: Context, *, sender: str = "",
                arrived_mtime: float | None = None) -> Submission:
    """Read one member through every source, as if it lay in inbox/; never raises for a bad member."""
    from pipeline.intake.batch import parse_file
    from pipeline.intake.scan import file_digest

    digest = ""
    size = 0
    with contextlib.suppress(OSError):
        size = packed.path.stat().st_size
        digest = file_digest(packed.path)
    mtime = arrived_mtime if arrived_mtime is not None else (packed.mtime or container.mtime)
    sub = Submission(file=member_file(container.file, packed.name), path=packed.path, sha256=digest,
                     mtime=mtime, size=size, container=container.file, sender=sender or container.sender,
                     arrived=container.arrived)
    parse_file(sub, ctx.forms, ctx.campaign, ctx.roster, ctx.depth + 1)
    for found in sub.flattened():
        found.path = container.path  # the temporary copy is gone; links point at the file in inbox/
    return sub


def part_digest(container: Submission, part: str) -> str:
    """A stable digest for a part of a file that has no bytes of its own (a sheet of a workbook)."""
    return hashlib.sha256(f"{container.sha256}#{part}".encode()).hexdigest()
