"""inbox → read: hash every file, reuse cached parses, and parse the rest on all cores.

Each file is parsed in a worker process that is killed at the per-file time limit
(:mod:`pipeline.intake.workers`). Whatever a source raises is contained in :func:`parse_file`:
a machine fault (本机问题) or a program error is recorded on that file, and neither is ever cached,
so the next run reads the file again.

A parse depends only on the file's bytes and name, the forms, the campaign and the roster,
so it is cached in the ledger under a key made of all of them plus the program's own digest
(:func:`pipeline.program.program_digest`). Changing any of those, or the file itself, or any
line of the program, misses the cache and parses the file again.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.faults import DISK_RULE, MACHINE_FAULT_NOTE, MachineFaultError, is_disk_full, log_detail, program_error
from pipeline.forms.spec import FormSpec
from pipeline.intake.scan import new_submission
from pipeline.intake.sources import Context, sources
from pipeline.intake.sources.scan import time_budget
from pipeline.intake.workers import parse_killable
from pipeline.model import Outcome, RawCell, Submission
from pipeline.safety.sniff import is_ignored, sniff
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster
from pipeline.store.freshness import settings_digest

if TYPE_CHECKING:
    pass

PARALLEL_MIN_FILES = 32  # files per worker process beyond the first (starting one costs more than a few files)


class ParseCache(Protocol):
    """Where parsed submissions are kept between runs (the ledger)."""

    def cache_items(self, keys: Iterable[str]) -> Iterator[tuple[str, bytes]]: ...

    def cache_put(self, key: str, payload: bytes) -> None: ...


def read_file(path: Path, inbox: Path, forms: Mapping[str, FormSpec], campaign: Campaign,
              roster: Roster) -> Submission:
    """Read, identify and normalise one file; never raises for a bad file."""
    # size, time and sha256, for the ledger too; never raises
    return parse_file(new_submission(path, inbox), forms, campaign, roster)


def parse_file(sub: Submission, forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster,
               depth: int = 0) -> Submission:
    """Everything after hashing: sniff, guard, read and normalise one file; never raises for a bad file.

    A container's members (archive members, mail attachments, the sheets of a workbook holding
    several forms) end up in ``sub.members``, read the same way; ``depth`` counts the containers around ``sub``.
    """
    printed = io.StringIO()  # some libraries print to stdout (openpyxl: “0 is out of range”): never to the terminal
    with contextlib.redirect_stdout(printed):
        read = _contained(sub, forms, campaign, roster, depth)
    if text := printed.getvalue().strip():
        read.details.append(f"printed while reading: {text[:1000]}")
    return read


def _contained(sub: Submission, forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster,
               depth: int) -> Submission:
    """:func:`_parse_file`, with our bugs and this computer's faults recorded on ``sub`` instead of raised."""
    try:
        return _parse_file(sub, forms, campaign, roster, depth)
    except MachineFaultError as fault:
        return mark_machine_fault(sub, fault)
    except Exception as exc:  # every source is contained: our bug is logged, never blamed on the file
        if is_disk_full(exc):
            return mark_machine_fault(sub, MachineFaultError(DISK_RULE, f"临时文件夹“{tempfile.gettempdir()}”所在磁盘已满"))
        program_error(sub, exc)
        sub.members, sub.mismatch = [], ""
        return sub


def mark_machine_fault(sub: Submission, fault: MachineFaultError) -> Submission:
    """This computer could not read the file: no finding for the unit, the note says what to do; never cached."""
    sub.form_id, sub.unit, sub.located_by, sub.sheet, sub.members = None, None, "", "", []
    sub.raw, sub.values, sub.meta, sub.findings = {}, {}, {}, []
    sub.outcome, sub.mismatch = Outcome.UNSUPPORTED, ""
    sub.machine_fault = fault.rule
    sub.note = f"{MACHINE_FAULT_NOTE}（{fault.rule}）：{fault.message}"
    return sub


def _parse_file(sub: Submission, forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster,
                depth: int) -> Submission:
    path = sub.path
    if is_ignored(path):
        sub.outcome, sub.note = Outcome.IGNORED, "临时文件或隐藏文件，已忽略"
        return sub
    sniffed = sniff(path)
    sub.kind = sniffed.kind
    context = Context(forms, campaign, roster, depth)
    for source in sources():
        taken = source.take(sub, sniffed, context)
        if isinstance(taken, list):
            sub.members = taken
        if taken is not False:
            break
    return sub


def expand(subs: Iterable[Submission]) -> list[Submission]:
    """Every file and every member inside it, in order (a file is followed by its members)."""
    return [found for sub in subs for found in sub.flattened()]


def cache_key(digest: str, sub: Submission) -> str:
    """The cache key of one file's parse."""
    return f"parse:{digest}:{sub.sha256}:{sub.file}"


def cache_keys(forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster,
               subs: Iterable[Submission]) -> list[str]:
    """The cache keys this run used, so that everything else can be pruned."""
    digest = settings_digest(forms, campaign, roster)
    return [cache_key(digest, s) for s in subs if s.sha256 and not s.container]


def parse_pickled(sub: Submission, forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster) -> bytes:
    """:func:`parse_file`, pickled (in a worker process); a parse that does not pickle is our bug, recorded on the file."""
    read = parse_file(sub, forms, campaign, roster)
    try:
        return pickle.dumps(read, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # e.g. a library object left on the submission
        program_error(sub, exc)
        sub.members, sub.mismatch = [], ""
        return pickle.dumps(sub, protocol=pickle.HIGHEST_PROTOCOL)


def _parse_many(subs: list[Submission], forms: Mapping[str, FormSpec], campaign: Campaign,
                roster: Roster, shared: _Shared,
                meanwhile: Callable[[], object] | None = None) -> Iterator[tuple[Submission, bytes | None]]:
    """Each file's parse and its pickle, in order; every file is read in a worker killed at its time limit
    (``meanwhile``: see :func:`read_all`)."""
    if not subs:
        return
    workers = min(os.cpu_count() or 1, max(1, len(subs) // max(1, PARALLEL_MIN_FILES // 2)))
    done: dict[int, tuple[Submission, bytes | None]] = {}
    following = 0
    seconds = campaign.limits.seconds_per_file
    budgets = [time_budget(s.file, seconds) for s in subs]  # a scan has more time: OCR reads it page by page
    for index, result in parse_killable(subs, parse_pickled, (forms, campaign, roster), seconds, workers, budgets,
                                        meanwhile):
        if isinstance(result, MachineFaultError):
            done[index] = (mark_machine_fault(subs[index], result), None)
        else:
            done[index] = (shared.loads(result), result)
        while following in done:  # in order, as soon as the next one is there
            yield done.pop(following)
            following += 1


def _unpickle(payload: bytes | None, shared: _Shared) -> Submission | None:
    """A cached parse, or None when there is none or it no longer loads (written by another program version)."""
    if payload is None:
        return None
    try:
        return shared.loads(payload)  # our own ledger in outbox/, written by read_all
    except Exception:  # a stale entry is a cache miss, never a failed run
        return None


def _refresh_members(sub: Submission) -> None:
    """Members point at the container's current path; a sheet (part of the same file) also takes its time and size."""
    for member in sub.flattened()[1:]:
        member.path = sub.path
        if member.file.startswith(sub.file + "#"):
            member.mtime, member.size = sub.mtime, sub.size


class _Shared:
    """One object for what 10,000 parses would each hold a copy of: field ids, cell addresses, units.

    A parse unpickled (from the cache, or from the worker that read it) has its own copy of every field id
    (the keys of ``raw`` and ``values``), every cell address and its unit; shared, they cost nothing per
    return (about a third of a 10,000-return batch's memory). Only equal objects are shared, and strings and
    units are immutable: what was read is the same, value for value.
    """

    def __init__(self, roster: Roster) -> None:
        strings: dict[str, str] = {}
        self.strings = strings
        self.units = {u.code: u for u in roster}
        shared = strings.setdefault

        class Cell:
            """Unpickles as a :class:`RawCell` (``NEWOBJ`` calls ``__new__``) whose address is the shared one."""

            def __new__(cls, value: object, address: str, formula: str | None = None) -> RawCell:  # type: ignore[misc]
                return tuple.__new__(RawCell, (value, shared(address, address), formula))

        self.cell = Cell

    def loads(self, payload: bytes) -> Submission:
        """Unpickle one parse (our own: the ledger's cache or a worker's answer) with shared cells, keys and units."""
        sub = _SharedUnpickler(io.BytesIO(payload), self.cell).load()
        if not isinstance(sub, Submission):
            raise TypeError(f"a parse unpickled as {type(sub)}")
        shared = self.strings.setdefault
        for found in sub.flattened():
            if found.unit is not None and self.units.get(found.unit.code) == found.unit:
                found.unit = self.units[found.unit.code]
            # Rebuilt in C: the field ids of every return become the same few hundred strings.
            found.values = dict(zip(map(shared, found.values, found.values), found.values.values(), strict=True))
            found.raw = dict(zip(map(shared, found.raw, found.raw), found.raw.values(), strict=True))
        return sub


class _SharedUnpickler(pickle.Unpickler):
    """An unpickler that makes every :class:`RawCell` through ``cell`` (see :class:`_Shared`)."""

    def __init__(self, file: io.BytesIO, cell: type) -> None:
        super().__init__(file)
        self.cell = cell

    def find_class(self, module: str, name: str) -> Any:
        """``RawCell`` is made by the sharing class; anything else as pickle finds it."""
        if module == RawCell.__module__ and name == RawCell.__name__:
            return self.cell
        return super().find_class(module, name)


def read_all(fresh: list[Submission], forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster,
             progress: Callable[[Iterable[Path]], Iterable[Path]] | None = None,
             cache: ParseCache | None = None, meanwhile: Callable[[], object] | None = None) -> list[Submission]:
    """Every file's submission, in order: from the cache when its parse is stored, else parsed.

    One entry per inbox file; a container carries its members in ``members`` (see :func:`expand`).
    ``meanwhile`` is called once while the worker processes parse (not at all when every parse is cached).
    """
    digest = settings_digest(forms, campaign, roster) if cache is not None else ""
    shared = _Shared(roster)
    done: dict[int, Submission] = {}
    if cache is not None:
        # One query for every stored parse; each payload is unpickled as it comes, never all held at once.
        wanted: dict[str, list[int]] = defaultdict(list)  # the same bytes under the same name twice: one key
        for index, sub in enumerate(fresh):
            if sub.sha256:
                wanted[cache_key(digest, sub)].append(index)
        for key, stored in cache.cache_items(wanted):
            for index in wanted[key]:
                if (cached := _unpickle(stored, shared)) is None:
                    break
                sub = fresh[index]
                cached.path, cached.mtime, cached.size = sub.path, sub.mtime, sub.size
                _refresh_members(cached)
                done[index] = cached
    todo = [(index, sub) for index, sub in enumerate(fresh) if index not in done]
    parsed = _parse_many([s for _, s in todo], forms, campaign, roster, shared, meanwhile)
    # A progress iterator (tqdm) counts an item done when the next one is asked for, and reaches 100% and
    # closes only when it runs out: one step before the first file, one after each, the last one exhausts it.
    tick = iter(progress([s.path for _, s in todo]) if progress else ())
    next(tick, None)
    for (index, _), (sub, payload) in zip(todo, parsed, strict=True):
        done[index] = sub
        for found in sub.flattened():
            for line in found.details:
                log_detail(f"文件“{found.file}”", line)
        # A program error or a machine fault (in the file or any member) is retried next run: never cached.
        if cache is not None and sub.sha256 and not any(s.program_error or s.machine_fault for s in sub.flattened()):
            cache.cache_put(cache_key(digest, sub), payload or pickle.dumps(sub, protocol=pickle.HIGHEST_PROTOCOL))
        next(tick, None)
    return [done[i] for i in range(len(fresh))]
