"""The ledger: an embedded SQLite file in outbox/ that remembers every file and every mail.

It knows when a file first arrived (units claim a 填报日期; the ledger knows), what
became of it in each run, and which messages were already sent, so nothing is sent twice.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

LEDGER_NAME = "ledger.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    sha256 TEXT NOT NULL,
    file TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_outcome TEXT NOT NULL DEFAULT '',
    last_run TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (sha256, file)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started TEXT NOT NULL,
    command TEXT NOT NULL,
    repeats TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS outcomes (
    run_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    file TEXT NOT NULL,
    outcome TEXT NOT NULL,
    PRIMARY KEY (run_id, file)
);
CREATE TABLE IF NOT EXISTS sent_mail (
    key TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cache (
    key TEXT PRIMARY KEY,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS file_stats (
    path BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    hashed_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fetched_mail (
    mailbox TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    saved TEXT NOT NULL DEFAULT '',
    sha256 TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (mailbox, uidvalidity, uid)
);
CREATE INDEX IF NOT EXISTS fetched_mail_by_id ON fetched_mail (message_id);
CREATE TABLE IF NOT EXISTS kept_mail (
    file TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL
);
"""
# A file whose times are this close to when it was hashed may have changed within the same clock tick.
RACY_NS = 2 * 10**9


def _new_run_id() -> str:
    """12 random hex digits, as ``uuid4().hex[:12]`` gave, without importing uuid (an unchanged re-run needs one)."""
    return os.urandom(6).hex()


def _racy(mtime_ns: int, ctime_ns: int, hashed_ns: int) -> bool:
    """Whether a file written at these times may have changed again in the clock tick it was hashed in."""
    return max(mtime_ns, ctime_ns) >= hashed_ns - RACY_NS


def now() -> str:
    """The current time, ISO 8601 in local time, to the second."""
    return dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")


class Ledger:
    """A small wrapper over the SQLite file; use as a context manager."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=30)
        self.db.executescript(_SCHEMA)
        columns = {str(row[1]) for row in self.db.execute("PRAGMA table_info(fetched_mail)")}
        if "sha256" not in columns:  # a ledger from before fetched mail was known by its bytes too
            self.db.execute("ALTER TABLE fetched_mail ADD COLUMN sha256 TEXT NOT NULL DEFAULT ''")
        if "repeats" not in {str(row[1]) for row in self.db.execute("PRAGMA table_info(runs)")}:
            self.db.execute("ALTER TABLE runs ADD COLUMN repeats TEXT NOT NULL DEFAULT ''")  # before unchanged re-runs
        self.db.commit()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Commit and close (closed even when the commit fails, e.g. on a full disk)."""
        try:
            self.db.commit()
        finally:
            self.db.close()

    def start_run(self, command: str) -> str:
        """Record a new run and return its id."""
        run_id = _new_run_id()
        self.db.execute("INSERT INTO runs (run_id, started, command) VALUES (?, ?, ?)", (run_id, now(), command))
        self.db.commit()
        return run_id

    def first_seen(self, entries: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Register (sha256, file) pairs not seen before and return the first-seen time of each."""
        wanted = list(entries)
        stamp = now()
        self.db.executemany("INSERT OR IGNORE INTO files (sha256, file, first_seen) VALUES (?, ?, ?)",
                            ((sha, file, stamp) for sha, file in wanted))
        self.db.commit()
        known = {(sha, file): seen for sha, file, seen in self.db.execute("SELECT sha256, file, first_seen FROM files")}
        return {key: known[key] for key in wanted}

    def record_outcomes(self, run_id: str, outcomes: Iterable[tuple[str, str, str]]) -> None:
        """Store (sha256, file, outcome) for this run and as each file's latest outcome."""
        rows = list(outcomes)
        self.db.executemany("INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?)",
                            ((run_id, sha, file, outcome) for sha, file, outcome in rows))
        self.db.executemany("UPDATE files SET last_outcome = ?, last_run = ? WHERE sha256 = ? AND file = ?",
                            ((outcome, run_id, sha, file) for sha, file, outcome in rows))
        self.db.commit()

    def repeat_run(self, previous: str, command: str) -> str:
        """Record an unchanged re-run: a run of its own whose outcomes are those of run ``previous``; its id.

        The outcomes are kept once, by the run that read the files (``runs.repeats`` names it, and
        :meth:`run_outcomes` answers for either run), so a re-run costs one row whatever the inbox holds. The
        files were registered by that run, and their ``last_outcome`` and ``last_run`` stay what it recorded.
        """
        row = self.db.execute("SELECT repeats FROM runs WHERE run_id = ?", (previous,)).fetchone()
        read_by = str(row[0]) if row is not None and row[0] else previous
        run_id = _new_run_id()
        self.db.execute("INSERT INTO runs (run_id, started, command, repeats) VALUES (?, ?, ?, ?)",
                        (run_id, now(), command, read_by))
        self.db.commit()
        return run_id

    def run_outcomes(self, run_id: str) -> list[tuple[str, str, str]]:
        """The (sha256, file, outcome) of every file in one run, by file (an unchanged re-run's are those it repeats)."""
        row = self.db.execute("SELECT repeats FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        read_by = str(row[0]) if row is not None and row[0] else run_id
        rows = self.db.execute("SELECT sha256, file, outcome FROM outcomes WHERE run_id = ? ORDER BY file", (read_by,))
        return [(str(sha), str(file), str(outcome)) for sha, file, outcome in rows]

    def was_sent(self, key: str) -> bool:
        """Whether the message with this key was already sent."""
        return self.db.execute("SELECT 1 FROM sent_mail WHERE key = ?", (key,)).fetchone() is not None

    def mark_sent(self, key: str, recipient: str, subject: str) -> None:
        """Remember that a message was sent."""
        self.db.execute("INSERT OR REPLACE INTO sent_mail VALUES (?, ?, ?, ?)", (key, recipient, subject, now()))
        self.db.commit()

    def cache_get(self, key: str) -> bytes | None:
        """A cached payload, or None."""
        row = self.db.execute("SELECT payload FROM cache WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def cache_items(self, keys: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """(key, payload) of each of ``keys`` that has a payload stored, one at a time from a single query."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted_keys (key TEXT PRIMARY KEY)")
        self.db.execute("DELETE FROM wanted_keys")
        self.db.executemany("INSERT OR IGNORE INTO wanted_keys VALUES (?)", ((k,) for k in keys))
        try:
            for key, payload in self.db.execute(
                    "SELECT cache.key, cache.payload FROM wanted_keys JOIN cache ON cache.key = wanted_keys.key"):
                yield str(key), bytes(payload)
        finally:
            self.db.execute("DELETE FROM wanted_keys")

    def cache_put(self, key: str, payload: bytes) -> None:
        """Store a payload under a key."""
        self.db.execute("INSERT OR REPLACE INTO cache VALUES (?, ?)", (key, payload))

    def cache_prune(self, keep: Iterable[str]) -> None:
        """Drop cached payloads whose key is not in ``keep`` (files gone, settings changed)."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS keep_keys (key TEXT PRIMARY KEY)")
        self.db.execute("DELETE FROM keep_keys")
        self.db.executemany("INSERT OR IGNORE INTO keep_keys VALUES (?)", ((k,) for k in keep))
        self.db.execute("DELETE FROM cache WHERE key NOT IN (SELECT key FROM keep_keys)")
        self.db.commit()

    def fetched_uids(self, mailbox: str, uidvalidity: int) -> set[int]:
        """The UIDs of ``mailbox`` (``user@host/folder``) already fetched under this UIDVALIDITY."""
        rows = self.db.execute("SELECT uid FROM fetched_mail WHERE mailbox = ? AND uidvalidity = ?",
                               (mailbox, uidvalidity))
        return {uid for (uid,) in rows}

    def fetched_message(self, message_id: str, digest: str) -> str | None:
        """When a message with this Message-ID and these bytes (sha256) was first fetched (under any UID), or None.

        A row from before digests were kept matches on the Message-ID alone, as it did then.
        """
        row = self.db.execute("SELECT min(fetched_at) FROM fetched_mail WHERE message_id = ? AND sha256 IN (?, '')",
                              (message_id, digest)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def record_fetch(self, mailbox: str, uidvalidity: int, uid: int, message_id: str, outcome: str,
                     saved: Iterable[str] = (), kept: tuple[str, str] | None = None, digest: str = "") -> None:
        """Remember one message as fetched: what became of it, the sha256 of its bytes, the files saved from it
        and, as ``kept``, the raw copy of the message saved beside them (its path under inbox/ and its sha256)."""
        self.db.execute("INSERT OR REPLACE INTO fetched_mail (mailbox, uidvalidity, uid, message_id, fetched_at, "
                        "outcome, saved, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (mailbox, uidvalidity, uid, message_id, now(), outcome, "\n".join(saved), digest))
        if kept is not None:
            self.db.execute("INSERT OR REPLACE INTO kept_mail VALUES (?, ?)", kept)
        self.db.commit()

    def kept_mail(self) -> dict[str, str]:
        """The raw messages ``make fetch`` saved beside their attachments: path under inbox/ → sha256.

        A ledger written before the sha256 was kept knows only the path (the last file saved from a
        message is its raw copy); its sha256 is then "".
        """
        kept: dict[str, str] = {}
        for (saved,) in self.db.execute("SELECT saved FROM fetched_mail WHERE saved != ''"):
            last = str(saved).rsplit("\n", 1)[-1]
            if last.lower().endswith(".eml"):
                kept[last] = ""
        kept.update((str(file), str(sha)) for file, sha in self.db.execute("SELECT file, sha256 FROM kept_mail"))
        return kept

    def file_stats(self) -> StatCache:
        """The sha256 of each file hashed before, by path and ``stat`` (see :class:`StatCache`)."""
        return StatCache(self)


class StatCache:
    """Reuse a file's sha256 while its size, times and inode are those it was hashed with, as git's index does.

    Any write changes ``st_ctime``, which no program can set back, so an unchanged stat means unchanged
    bytes; an entry whose times lie within :data:`RACY_NS` of its hashing is not trusted (the file may
    have been written again in the same clock tick). :meth:`save` keeps exactly the files hashed this run.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        rows = ledger.db.execute("SELECT path, size, mtime_ns, ctime_ns, inode, sha256, hashed_ns FROM file_stats")
        self.known: dict[bytes, tuple[int, int, int, int, str, int]] = {
            bytes(path): (size, mtime, ctime, inode, sha, hashed) for path, size, mtime, ctime, inode, sha, hashed in rows}
        self.now: dict[bytes, tuple[int, int, int, int, str, int]] = {}

    @staticmethod
    def _key(stat: os.stat_result) -> tuple[int, int, int, int]:
        return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino

    def lookup(self, path: str | Path, stat: os.stat_result) -> str | None:
        """The stored sha256 when ``stat`` matches the one it was computed under, else None."""
        key = os.fsencode(path)
        entry = self.known.get(key)
        if entry is None or entry[:4] != self._key(stat):
            return None
        sha, hashed_ns = entry[4], entry[5]
        if _racy(stat.st_mtime_ns, stat.st_ctime_ns, hashed_ns):
            return None
        self.now[key] = entry
        return sha

    def remember(self, path: str | Path, stat: os.stat_result, sha256: str, hashed_ns: int) -> None:
        """Store the sha256 just computed for ``path`` under ``stat``."""
        self.now[os.fsencode(path)] = (*self._key(stat), sha256, hashed_ns)

    def settled(self, count: int) -> bool:
        """Whether this run holds a trusted entry for each of ``count`` files: each hashed (now or before) and
        written more than :data:`RACY_NS` before its hashing, so that an unchanged stat will mean unchanged bytes."""
        return len(self.now) == count and not any(_racy(mtime, ctime, hashed)
                                                  for _, mtime, ctime, _, _, hashed in self.now.values())

    def save(self) -> None:
        """Replace the stored entries by this run's (files gone from inbox/ are forgotten)."""
        if self.now == self.known:  # nothing hashed, nothing gone: an unchanged inbox writes nothing
            return
        db = self.ledger.db
        db.execute("DELETE FROM file_stats")
        db.executemany("INSERT INTO file_stats VALUES (?, ?, ?, ?, ?, ?, ?)",
                       ((path, *entry) for path, entry in self.now.items()))
        db.commit()
