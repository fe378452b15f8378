"""Skip a rollup whose inputs have not changed since the last complete run, as make does.

The outputs are a function of the inbox files' bytes and names, the forms, the campaign,
the roster, the program itself and the date (the 汇总表 carries it). When all of those match
the last complete run and its outputs are still there, that run's results stand.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pipeline import program
from pipeline.checks.confirm import read_confirmed
from pipeline.forms.spec import FormSpec
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster, roster_digest
from pipeline.store.ledger import Ledger

STATE_KEY = "state:last-complete-rollup"


@dataclass(frozen=True)
class LastRun:
    """What the last complete run left: its digest, summary, outputs and its run id (its per-file outcomes are
    that run's rows in the ledger, which an unchanged re-run repeats: :meth:`pipeline.store.ledger.Ledger.repeat_run`)."""

    digest: str
    lines: list[str]
    outputs: list[str]
    run_id: str
    files: str = ""  # its inbox files' digest (files_digest)
    listing: str = ""  # its inbox listing's digest (intake.scan.Listing), "" when some file was not settled then

    def outputs_present(self) -> bool:
        """Whether every output of that run is still on disk."""
        return all(Path(p).is_file() for p in self.outputs)


def settings_digest(forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster | Path) -> str:
    """A digest of everything besides the file that a parse depends on.

    The roster counts by :attr:`Roster.digest`; given as the path of its file, by that file's digest, the same
    value, so that an unchanged re-run is decided without loading a roster of thousands of units.
    """
    # The campaign's content counts, not where its file lies (a relative or absolute --campaign).
    parts = [program.program_digest(), repr(sorted((k, v.version) for k, v in forms.items())),
             repr(dataclasses.replace(campaign, path=Path())),
             roster.digest if isinstance(roster, Roster) else roster_digest(roster),
             str(program.fast_reader_enabled())]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:16]


class Stamped(Protocol):
    """An inbox file as the digest sees it (a :class:`~pipeline.model.Submission` or an :class:`~pipeline.intake.scan.Stamp`)."""

    @property
    def file(self) -> str: ...

    @property
    def sha256(self) -> str: ...

    @property
    def mtime(self) -> float: ...


def files_digest(fresh: Iterable[Stamped]) -> str:
    """One digest of the inbox files: their names, bytes (sha256) and times.

    File times count: without a 填报日期 they decide which return is newest and whether it was on time.
    """
    return hashlib.sha256("".join([f"{sub.file}\0{sub.sha256}\0{sub.mtime!r}\0" for sub in fresh]).encode()).hexdigest()


def inputs_digest(files: str, forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster | Path,
                  inbox: Path, outbox: Path, today: dt.date | None = None) -> str:
    """One digest of everything the rollup's outputs depend on, the inbox files by their :func:`files_digest`.

    The folders count because the 材料清单 links lead from the outbox to the inbox.
    """
    digest = hashlib.sha256()
    for part in (settings_digest(forms, campaign, roster), program.program_digest(), str(inbox.resolve()),
                 str(outbox.resolve()), (today or dt.date.today()).isoformat(), files):
        digest.update(part.encode("utf-8") + b"\0")
    # The clerk's confirmations of values read from scans (核对.csv, pipeline.checks.confirm) count too.
    digest.update(repr(sorted(read_confirmed(outbox))).encode("utf-8"))
    return digest.hexdigest()


def last_run(ledger: Ledger) -> LastRun | None:
    """The last complete run's state, if any."""
    payload = ledger.cache_get(STATE_KEY)
    if payload is None:
        return None
    raw = json.loads(payload)
    if "run" not in raw:  # left by a version that kept the outcomes here: that run is done again, once
        return None
    return LastRun(raw["digest"], raw["lines"], raw["outputs"], raw["run"], raw.get("files", ""), raw.get("listing", ""))


def forget(ledger: Ledger) -> None:
    """Drop the state before writing outputs, so that a run killed half-way is never taken as complete."""
    ledger.db.execute("DELETE FROM cache WHERE key = ?", (STATE_KEY,))
    ledger.db.commit()


def remember(ledger: Ledger, run: LastRun) -> None:
    """Store the state of a run whose outputs are all written."""
    payload = {"digest": run.digest, "lines": run.lines, "outputs": run.outputs, "run": run.run_id,
               "files": run.files, "listing": run.listing}
    ledger.cache_put(STATE_KEY, json.dumps(payload, ensure_ascii=False).encode("utf-8"))
    ledger.db.commit()
