"""The one orchestrator: inbox → read → settle → checks → rollup → outbox, with the ledger wired in.

Every command that needs the state of the returns goes through one path: read every file
(:func:`pipeline.intake.batch.read_all`), settle what only the batch can tell
(:func:`pipeline.intake.settle.settle`), then check and select (:func:`pipeline.checks.rollup.build_rollup`).
:func:`collect` does it for an inbox through the ledger (stat cache, parse cache, first-seen times): ``rollup``
(through :func:`rollup_to_outbox`, which adds the outputs and the freshness check), ``mail``, ``demo``, ``bench``
and the tests. :func:`collect_files` does it for the files ``check`` is given, without a ledger, so that a file
gets the same verdict in ``check`` as in ``rollup``.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.faults import DISK_RULE, DiskFullError, folder_size_mb, is_disk_full, log_detail, log_error, log_to
from pipeline.faults import summary_line as program_errors_line
from pipeline.forms.spec import FormSpec
from pipeline.intake.scan import Listing, Stamp, list_inbox, new_submission, stamp_inbox, stamp_listing
from pipeline.model import Outcome, Status, Submission
from pipeline.safety.badbytes import technical
from pipeline.safety.guards import require_safe_xml, require_safe_xml_settings
from pipeline.settings.campaign import Campaign, check_contact
from pipeline.settings.roster import Roster, load_roster, roster_line
from pipeline.store.atomic import kill_point
from pipeline.store.collector import long_lived_batch
from pipeline.store.freshness import STATE_KEY, LastRun, files_digest, forget, inputs_digest, last_run, remember
from pipeline.store.ledger import LEDGER_NAME, Ledger

if TYPE_CHECKING:  # pandas and pandera: imported only once the inbox must really be read
    from pipeline.checks.confirm import Key
    from pipeline.checks.rollup import Rollup

KEPT_MAIL_NOTE = "收取邮件时留存的邮件原文，其附件已另存于同一文件夹"
DISK_MARGIN_MB = 50  # what a rollup's outputs need at the least: the workbook, the CSVs, the feedback, the ledger
Progress = Callable[[Iterable[Path]], Iterable[Path]]


def record_run(ledger: Ledger, rollup: Rollup, command_name: str) -> str:
    """Record one run in an open ledger: first-seen times onto the submissions, outcomes into the ledger; its id."""
    run_id = ledger.start_run(command_name)
    seen = ledger.first_seen((s.sha256, s.file) for s in rollup.submissions)
    for sub in rollup.submissions:
        sub.first_seen = seen[(sub.sha256, sub.file)]
    ledger.record_outcomes(run_id, rollup.outcome_rows())
    return run_id


def _checked(read: list[Submission], forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster,
             confirmed: frozenset[Key] = frozenset(), *, log: bool = True, every_unit: bool = True) -> Rollup:
    """The rollup of what was read: every file and member settled, then checked (``log``: program errors logged;
    ``confirmed``: the scan values the clerk confirmed in 核对.csv; ``every_unit``: see build_rollup)."""
    from pipeline.checks.rollup import build_rollup
    from pipeline.intake.batch import expand
    from pipeline.intake.settle import settle

    subs = expand(read)
    if log:
        for sub in subs:
            if sub.program_error:
                log_error(f"读取文件“{sub.file}”时程序出错（{sub.path}）", sub.program_error)
            if sub.machine_fault:
                log_detail(f"文件“{sub.file}”未能读取（本机问题）", sub.note)
    if any(s.machine_fault == DISK_RULE for s in subs):  # the temporary folder is full: the run cannot go on
        raise DiskFullError(Path(tempfile.gettempdir()), campaign.limits.max_unzipped_mb)
    settle(subs, forms, campaign, roster)
    return build_rollup(subs, forms, campaign, roster, confirmed, every_unit=every_unit)


def _read_and_check(ledger: Ledger, fresh: list[Submission], forms: Mapping[str, FormSpec],
                    campaign: Campaign, roster: Roster, command_name: str, progress: Progress | None,
                    outbox: Path) -> tuple[Rollup, str]:
    """The rollup of ``fresh`` through the ledger's caches, recorded as a run; with that run's id."""
    from pipeline.checks.confirm import read_confirmed
    from pipeline.intake.batch import cache_keys, read_all

    # Returned files are untrusted: each worker checks that openpyxl parses through defusedxml before its first
    # file (pipeline.intake.workers); this process checks it too, with the checks' imports (pandas, pandera) and
    # schemas, while the first workers parse (meanwhile), so that the imports and the parse share the cores.
    require_safe_xml_settings()
    import numpy  # noqa: F401  (before the workers fork, as in collect_files: imported once, not in each worker)

    def meanwhile() -> None:
        require_safe_xml()
        _prepare_checks(forms, campaign)

    kept = ledger.kept_mail()
    skip = [s.file in kept and kept[s.file] in (s.sha256, "") for s in fresh]
    for sub, kept_copy in zip(fresh, skip, strict=True):  # raw copies make fetch saved beside their attachments
        if kept_copy:
            sub.outcome, sub.note = Outcome.IGNORED, KEPT_MAIL_NOTE
    parsed = iter(read_all([s for s, k in zip(fresh, skip, strict=True) if not k], forms, campaign, roster,
                           progress=progress, cache=ledger, meanwhile=meanwhile))
    read = [s if k else next(parsed) for s, k in zip(fresh, skip, strict=True)]
    kill_point("read")
    rollup = _checked(read, forms, campaign, roster, read_confirmed(outbox))
    ledger.cache_prune([*cache_keys(forms, campaign, roster, rollup.submissions), STATE_KEY])
    return rollup, record_run(ledger, rollup, command_name)


def collect(inbox: Path, outbox: Path, forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster,
            command_name: str = "rollup", progress: Progress | None = None) -> Rollup:
    """Read every file under ``inbox`` through the ledger in ``outbox`` and build the rollup; writes no output."""
    with log_to(outbox), Ledger(outbox / LEDGER_NAME) as ledger:
        fresh = [s.submission() for s in stamp_inbox(inbox, ledger.file_stats())]  # as rollup_to_outbox walks it
        return _read_and_check(ledger, fresh, forms, campaign, roster, command_name, progress, outbox)[0]


def collect_files(paths: list[Path], inbox: Path, forms: Mapping[str, FormSpec], campaign: Campaign,
                  roster: Roster) -> Rollup:
    """The rollup of just ``paths``, read and checked as :func:`collect` reads an inbox, with no ledger and no log:
    nothing is written. A file below ``inbox`` is named relative to it, as the rollup names it (its folders are
    evidence of its unit and arrival); any other file by its own name. Only the units the files name get a status."""
    from pipeline.intake.batch import read_all

    # The worker processes check that openpyxl parses through defusedxml before their first file
    # (pipeline.intake.workers), and are started before this process imports pandas and pandera for the
    # checks (meanwhile): the parse and those imports share the cores, and this process never imports openpyxl.
    require_safe_xml_settings()
    # numpy before the fork: the workers need it (openpyxl loads it) and so do the checks (pandas); imported once
    # here, it is not imported again in each worker.
    import numpy  # noqa: F401

    fresh = [new_submission(p, inbox if p.is_relative_to(inbox) else p.parent) for p in paths]
    # As for a rollup, the collector is paused while the modules and the batch are built: all of it lives until
    # the command ends, and importing pandas and pandera with it on costs a sixth more.
    with long_lived_batch():
        read = read_all(fresh, forms, campaign, roster, meanwhile=lambda: _prepare_checks(forms, campaign))
        return _checked(read, forms, campaign, roster, log=False, every_unit=False)  # statuses of the files' units


def _prepare_checks(forms: Mapping[str, FormSpec], campaign: Campaign) -> None:
    """Import the checks (pandas, pandera) and build their schemas, ahead of :func:`_checked`."""
    from pipeline.checks.rollup import build_rollup  # noqa: F401  (the import is the point)
    from pipeline.checks.validate import prepare

    prepare(forms, campaign)


def write_outputs(outbox: Path, rollup: Rollup, parallel: bool = True,
                  failures: list[str] | None = None) -> tuple[Path, list[Path]]:
    """The workbook (beside the rest when ``parallel``), the CSV twins and the feedback; returns the workbook and feedback paths.

    A feedback workbook that cannot be written is logged and reported in ``failures`` (one line per
    unit and form); the other outputs are written all the same.
    """
    from pipeline.outputs.feedback import write_feedback
    from pipeline.outputs.report import rollup_name, workbook_alongside, write_tables

    outbox.mkdir(parents=True, exist_ok=True)
    with workbook_alongside(outbox / rollup_name(rollup), rollup, parallel) as workbook:
        write_tables(outbox, rollup)
        feedback = write_feedback(outbox, rollup, failures)
    return workbook, feedback


def machine_faults(rollup: Rollup) -> list[Submission]:
    """The files this computer could not read (本机问题): read again by the next run."""
    return [s for s in rollup.submissions if s.machine_fault]


def machine_faults_lines(rollup: Rollup) -> list[str]:
    """The summary lines about 本机问题, or [] when there were none."""
    faults = machine_faults(rollup)
    if not faults:
        return []
    lines = [f"本机问题 {len(faults)} 个（不是报送单位的责任，这些文件下次运行 make rollup 时会重新读取）："]
    lines += [f"  {s.file}：{s.note}" for s in faults]
    return lines


def program_errors(rollup: Rollup, failures: Iterable[str] = ()) -> int:
    """How many program errors a run met: files the program failed on, outputs it could not write."""
    return sum(bool(s.program_error) for s in rollup.submissions) + len(list(failures))


def summary_lines(rollup: Rollup, workbook: Path, failures: Iterable[str] = ()) -> list[str]:
    """The Chinese closing summary of a rollup run; ``failures`` are the outputs that could not be written."""
    from pipeline.outputs.materials_report import summary_line as materials_line

    counts = rollup.outcome_counts()
    # The outcomes and statuses added for containers and 格式不符 are shown only when they occur.
    shown = [o for o in Outcome if o != Outcome.UNPACKED or counts.get(o)]
    lines = [f"收到文件 {len(rollup.submissions)} 个 = " + " + ".join(f"{o.value} {counts.get(o, 0)}" for o in shown)]
    units = len(rollup.roster)
    for spec in rollup.forms.values():
        sts = [s for s in rollup.statuses if s.form_id == spec.id]
        by = {k: sum(s.status == k for s in sts) for k in Status}
        rates = rollup.rates(spec.id)
        lines.append(
            f"{spec.annex}：应报 {units} 个单位，"
            + "，".join(f"{k.value} {by[k]}" for k in Status if k != Status.MISMATCH or by[k])
            + f"；报送率 {rates.sent_rate:.0%}（{rates.sent} 个单位报送），合格率 {rates.accepted_rate:.0%}，"
            f"按时率 {rates.on_time_rate:.0%}"
        )
    lines.append(materials_line(rollup))
    lines.append(f"{WRITTEN_PREFIX}{workbook}（另有 records.csv、issues.csv、status.csv、materials.csv、files.csv，"
                 f"均在 {workbook.parent}/）")
    failed = list(failures)
    if failed:
        lines.append(f"以下 {len(failed)} 份审核反馈表未能生成（已记入日志），请联系维护人员，其余结果不受影响：")
        lines += [f"  {line}" for line in failed]
    if line := program_errors_line(program_errors(rollup, failed), workbook.parent):
        lines.append(line)
    lines += machine_faults_lines(rollup)
    return lines


WRITTEN_PREFIX = "汇总表已生成："


def empty_inbox_line(inbox: Path) -> str:
    """What a run on an empty inbox says first: where returns go, and how to see the tool at work."""
    return (f"来件目录 {inbox}/ 中还没有任何文件，以下各单位均为未报送。请把各单位发回的文件原样保存到该目录"
            "（或用 make fetch 从邮箱收取）后再汇总；想先看看效果，可运行 make demo（使用单独的 demo/ 目录）。")


def unchanged_lines(previous: list[str], workbook: Path) -> list[str]:
    """The summary of a re-run that found nothing new: that first, then the last run's figures, nothing “生成”."""
    head = f"来件和设置自上次汇总以来没有变化，没有重新生成任何文件；上次的汇总结果仍是最新的：{workbook}"
    kept = [line for line in previous if not line.startswith(WRITTEN_PREFIX) and not line.startswith("审核反馈表已生成")]
    return [head, *kept]


def _old_rollups_aside(outbox: Path, workbook: Path) -> list[str]:
    """Move another campaign's (county's, year's) rollup workbook out of the way; the line saying where."""
    from pipeline.outputs.report import ROLLUP_SUFFIX
    from pipeline.store.aside import OLD_ROLLUPS, move_aside, strays

    moved = move_aside(strays(outbox, [workbook], f"*{ROLLUP_SUFFIX}"), outbox / OLD_ROLLUPS)
    if not moved:
        return []
    names = "、".join(f"“{p.name}”" for p in moved)
    return [f"输出目录中以前活动的汇总表{names}已移到 {outbox / OLD_ROLLUPS}/，以免与本次汇总表混淆。"]


def rollup_to_outbox(inbox: Path, outbox: Path, forms: Mapping[str, FormSpec], campaign: Campaign,
                     roster: Roster | Path, command_name: str = "rollup", progress: Progress | None = None) -> list[str]:
    """The whole job behind ``make rollup``: read the inbox, write every output, return the summary lines.

    When nothing changed since the last complete run (files, settings, program, date) and its
    outputs are all there, those outputs stand and their summary is returned again. Program errors
    are logged to ``outbox/pipeline.log`` (:mod:`pipeline.faults`). The roster may be given as its file,
    loaded only when the inbox must really be read (:class:`~pipeline.errors.RosterError` if it is bad).
    """
    if isinstance(roster, Path) and not roster.is_file():
        roster = load_roster(roster)  # says, in Chinese, that the roster is missing, before the outbox is made
    with log_to(outbox):
        try:
            return _rollup_to_outbox(inbox, outbox, forms, campaign, roster, command_name, progress)
        except (OSError, sqlite3.Error) as exc:
            if not is_disk_full(exc):
                raise
            log_detail("磁盘空间不足，本次汇总未完成", technical(exc))
            folder = Path(exc.filename).parent if isinstance(exc, OSError) and exc.filename else outbox
            raise DiskFullError(folder, max(DISK_MARGIN_MB, folder_size_mb(outbox))) from None


def _stamped(ledger: Ledger, listing: Listing) -> tuple[list[Stamp], bool]:
    """The stamps of the files listed, through the ledger's stat cache, and whether every one of them is settled
    (:meth:`~pipeline.store.ledger.StatCache.settled`): only then can the next run go by the listing alone."""
    stats = ledger.file_stats()
    stamps = stamp_listing(listing, stats)
    return stamps, stats.settled(len(stamps))


def _rollup_to_outbox(inbox: Path, outbox: Path, forms: Mapping[str, FormSpec], campaign: Campaign,
                      roster: Roster | Path, command_name: str, progress: Progress | None) -> list[str]:
    from pipeline.store.atomic import sweep_stale

    with long_lived_batch() as settle:
        with Ledger(outbox / LEDGER_NAME) as ledger:
            # Decided on the files' stats, then on plain stamps: no file is read, and no Path or Submission is
            # built per file, until the inbox must really be read.
            listing = list_inbox(inbox)
            previous = last_run(ledger)
            stamps: list[Stamp] | None = None
            if previous is not None and previous.listing and previous.listing == listing.digest:
                files = previous.files  # every stat as when that run hashed the files, outside the racy window
            else:
                stamps, settled = _stamped(ledger, listing)
                files = files_digest(stamps)
            digest = inputs_digest(files, forms, campaign, roster, inbox, outbox)
            if previous is not None and previous.digest == digest and previous.outputs_present():
                ledger.repeat_run(previous.run_id, command_name)
                return unchanged_lines(previous.lines, Path(previous.outputs[0]))
            if stamps is None:  # the same files, but something else changed: stamped as every read run stamps them
                stamps, settled = _stamped(ledger, listing)
                files = files_digest(stamps)
                digest = inputs_digest(files, forms, campaign, roster, inbox, outbox)
            if not isinstance(roster, Roster):
                roster = load_roster(roster)
            check_contact(campaign)  # as the roster, checked here, before anything is read
            forget(ledger)
            sweep_stale(outbox)  # half-written files of a run that was killed
            fresh = [s.submission() for s in stamps]
            del stamps
            rollup, run_id = _read_and_check(ledger, fresh, forms, campaign, roster, command_name, progress, outbox)
            del fresh  # the bare records, replaced by what was read
            settle()
        failures: list[str] = []
        workbook, feedback = write_outputs(outbox, rollup, failures=failures)
    from pipeline.outputs.feedback import summary_line
    from pipeline.outputs.report import CSV_NAMES

    lines = [*summary_lines(rollup, workbook, failures), summary_line(outbox, rollup, feedback, inbox),
             roster_line(roster)]
    aside = _old_rollups_aside(outbox, workbook)
    if not rollup.submissions:
        lines.insert(0, empty_inbox_line(inbox))
    outputs = [str(p) for p in (workbook, *(outbox / n for n in CSV_NAMES), *feedback)]
    # A run with program errors or 本机问题 is done again in full next time, even if nothing changed.
    if not program_errors(rollup, failures) and not machine_faults(rollup):
        with Ledger(outbox / LEDGER_NAME) as ledger:
            remember(ledger, LastRun(digest, lines, outputs, run_id, files, listing.digest if settled else ""))
    return [*lines, *aside]
