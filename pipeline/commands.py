"""The ingest-side commands (rollup, check, demo), registered on the CLI."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.cli import _settings, command
from pipeline.errors import PipelineError
from pipeline.submission import (
    ACCEPTED,
    DUPLICATE,
    ERROR,
    IGNORED,
    MATERIAL,
    REJECTED,
    SUPERSEDED,
    UNSUPPORTED,
)

if TYPE_CHECKING:  # the heavy modules are imported where used, so that the CLI starts fast
    from pipeline.campaign import Campaign
    from pipeline.ledger import Ledger
    from pipeline.rollup import Rollup
    from pipeline.roster import Roster
    from pipeline.spec import FormSpec


def _progress(paths: Iterable[Path]) -> Iterable[Path]:
    from tqdm import tqdm

    paths = list(paths)
    bar: Iterable[Path] = tqdm(paths, desc="读取来件", unit="个", file=sys.stderr, disable=not sys.stderr.isatty() or not paths)
    return bar


def summary_lines(rollup: Rollup, workbook: Path) -> list[str]:
    """The Chinese closing summary of a rollup run."""
    from pipeline.materials import summary_line as materials_line
    from pipeline.rollup import MISSING, PASSED, RETURNED, WARNED

    counts = rollup.outcome_counts()
    total = len(rollup.submissions)
    lines = [
        f"收到文件 {total} 个 = 采用 {counts.get(ACCEPTED, 0)} + 已被替代 {counts.get(SUPERSEDED, 0)}"
        f" + 退回 {counts.get(REJECTED, 0)} + 无法识别 {counts.get(UNSUPPORTED, 0)}"
        f" + 重复 {counts.get(DUPLICATE, 0)} + 忽略 {counts.get(IGNORED, 0)} + 材料 {counts.get(MATERIAL, 0)}",
    ]
    units = len(rollup.roster)
    for spec in rollup.forms.values():
        sts = [s for s in rollup.statuses if s.form_id == spec.id]
        by = {k: sum(s.status == k for s in sts) for k in (PASSED, WARNED, RETURNED, MISSING)}
        accepted = sum(s.counted is not None for s in sts)
        on_time = sum(bool(s.on_time) and s.counted is not None for s in sts)
        lines.append(
            f"{spec.annex}：应报 {units} 个单位，已通过 {by[PASSED]}，有警告 {by[WARNED]}，退回 {by[RETURNED]}，"
            f"未报送 {by[MISSING]}；报送率 {accepted / units:.0%}，按时率 {on_time / units:.0%}"
        )
    lines.append(materials_line(rollup))
    lines.append(f"汇总表已生成：{workbook}（另有 records.csv、issues.csv、status.csv、materials.csv、files.csv）")
    return lines


def record_in_ledger(outbox: Path, rollup: Rollup, command_name: str) -> None:
    """Register every file's first-seen time and this run's outcomes in the ledger."""
    from pipeline.ledger import LEDGER_NAME, Ledger

    with Ledger(outbox / LEDGER_NAME) as ledger:
        record_run(ledger, rollup, command_name)


def record_run(ledger: Ledger, rollup: Rollup, command_name: str) -> None:
    """Record one run in an open ledger: first-seen times onto the submissions, outcomes into the ledger."""
    run_id = ledger.start_run(command_name)
    seen = ledger.first_seen((s.sha256, s.file) for s in rollup.submissions)
    for sub in rollup.submissions:
        sub.first_seen = seen[(sub.sha256, sub.file)]
    ledger.record_outcomes(run_id, [(s.sha256, s.file, s.outcome) for s in rollup.submissions])


def rollup_to_outbox(inbox: Path, outbox: Path, forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster,
                     command_name: str = "rollup") -> list[str]:
    """The whole job behind ``make rollup``: read the inbox, write every output, return the summary lines.

    When nothing changed since the last complete run (files, settings, program, date) and its
    outputs are all there, those outputs stand and their summary is returned again.
    """
    from pipeline.atomic import sweep_stale
    from pipeline.collector import long_lived_batch
    from pipeline.feedback import summary_line, write_feedback
    from pipeline.freshness import STATE_KEY, LastRun, forget, inputs_digest, last_run, remember
    from pipeline.ingest import cache_keys, hash_all, read_all
    from pipeline.ledger import LEDGER_NAME, Ledger
    from pipeline.report import CSV_NAMES, rollup_name, workbook_alongside, write_tables
    from pipeline.rollup import build_rollup, scan_inbox

    with long_lived_batch() as settle:
        with Ledger(outbox / LEDGER_NAME) as ledger:
            fresh = hash_all(scan_inbox(inbox), inbox, ledger.file_stats())
            digest = inputs_digest(fresh, forms, campaign, roster, inbox, outbox)
            previous = last_run(ledger)
            if previous is not None and previous.digest == digest and previous.outputs_present():
                ledger.first_seen((s.sha256, s.file) for s in fresh)
                ledger.record_outcomes(ledger.start_run(command_name), previous.outcomes)
                return [*previous.lines, "来件和设置自上次汇总以来没有变化，以上汇总结果仍是最新的。"]
            forget(ledger)
            sweep_stale(outbox)  # half-written files of a run that was killed
            subs = read_all(fresh, forms, campaign, roster, progress=_progress, cache=ledger)
            rollup = build_rollup(subs, forms, campaign, roster)
            settle()
            ledger.cache_prune([*cache_keys(forms, campaign, roster, rollup.submissions), STATE_KEY])
            record_run(ledger, rollup, command_name)
        with workbook_alongside(outbox / rollup_name(rollup), rollup) as workbook:
            write_tables(outbox, rollup)
            feedback = write_feedback(outbox, rollup)
    lines = [*summary_lines(rollup, workbook), summary_line(outbox, rollup, feedback)]
    outputs = [str(p) for p in (workbook, *(outbox / n for n in CSV_NAMES), *feedback)]
    with Ledger(outbox / LEDGER_NAME) as ledger:
        remember(ledger, LastRun(digest, lines, outputs, [(s.sha256, s.file, s.outcome) for s in rollup.submissions]))
    return lines


@command("campaign", "roster", "inbox", "outbox")
def cmd_rollup(args: argparse.Namespace) -> int:
    """读取来件目录中的全部报表，逐项校验，生成全县汇总表、分单位明细、报送情况、校验问题清单和审核反馈表。"""
    from pipeline.roster import roster_line

    forms, campaign, roster = _settings(args)
    if not args.inbox.is_dir():
        raise PipelineError(f"来件目录 {args.inbox} 不存在，请先建立该目录并放入各单位发回的文件。")
    print("\n".join(rollup_to_outbox(args.inbox, args.outbox, forms, campaign, roster)))
    print(roster_line(roster))
    return 0


def _configure_check(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("files", nargs="+", type=Path, metavar="文件", help="要检查的报表文件")


@command("campaign", "roster")
def cmd_check(args: argparse.Namespace) -> int:
    """只检查指定的报表文件并列出问题，不写任何文件；有“错误”时退出码为 1。"""
    from pipeline.ingest import read_file
    from pipeline.rollup import build_rollup

    forms, campaign, roster = _settings(args)
    subs = []
    for path in args.files:
        if not path.is_file():
            raise PipelineError(f"找不到文件 {path}。")
        subs.append(read_file(path.resolve(), path.resolve().parent, forms, campaign, roster))
    build_rollup(subs, forms, campaign, roster)
    failed = False
    for sub in subs:
        errors, warnings = sub.errors, sub.warnings
        verdict = "不通过" if errors else ("通过（有警告）" if warnings else "通过")
        if sub.outcome == MATERIAL:
            verdict = f"不是报表，是活动材料（{sub.material_kind}）"
        unit = sub.unit.name if sub.unit else "单位未识别"
        print(f"{sub.file}：{verdict}（{unit}，错误 {errors} 个，警告 {warnings} 个）")
        for f in sub.findings:
            print(f"  [{f.severity}] {f.text}")
        failed = failed or any(f.severity == ERROR for f in sub.findings)
    return 1 if failed else 0


cmd_check.configure = _configure_check  # type: ignore[attr-defined]
