"""One module per kind of returned file; each offers the intake a :class:`Source`.

A source looks at a sniffed file and either takes it (fills the submission: form, unit, raw
values, findings or its material kind) or leaves it to the next source. Sources are found by
listing this package, so a new kind of return is one new module here with a module-level
``SOURCE``, and no edit anywhere else. They are tried in ``priority`` order (lower first); the
template reader comes last and takes whatever is left, so every file gets an outcome.

A source for a container (an archive, a saved mail, a workbook holding several forms) returns
the submissions it found inside instead of True: each member is read through the same sources
(:func:`pipeline.intake.members.read_member`) and gets its own outcome; the container itself
gets one too (usually :attr:`~pipeline.model.Outcome.UNPACKED`).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pipeline.forms.spec import FormSpec
from pipeline.model import Submission
from pipeline.safety.sniff import Sniffed
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster


@dataclass(frozen=True)
class Context:
    """What every source reads a file against."""

    forms: Mapping[str, FormSpec]
    campaign: Campaign
    roster: Roster
    depth: int = 0  # how many containers this file lies inside (an archive in an archive: 2)


@dataclass(frozen=True)
class Source:
    """A kind of returned file: ``take`` returns True when it took the file (and filled ``sub``),
    or the list of member submissions it read inside the file (taken, even when the list is empty)."""

    name: str
    priority: int
    take: Callable[[Submission, Sniffed, Context], bool | list[Submission]]


@functools.cache
def sources() -> tuple[Source, ...]:
    """Every source module's ``SOURCE``, in priority order."""
    found: list[Source] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        source = getattr(module, "SOURCE", None)
        if isinstance(source, Source):
            found.append(source)
    return tuple(sorted(found, key=lambda s: (s.priority, s.name)))
