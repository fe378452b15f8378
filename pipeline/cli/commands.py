"""The ingest-side commands (rollup, check, demo), registered on the CLI."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.cli import command, load_forms_and_campaign, load_settings, progress_bar
from pipeline.errors import PipelineError
from pipeline.model import Outcome, Severity

if TYPE_CHECKING:  # the heavy modules are imported where used, so that the CLI starts fast
    pass


@command("campaign", "roster", "inbox", "outbox")
def cmd_rollup(args: argparse.Namespace) -> int:
    """读取来件目录中的全部报表，逐项校验，生成全县汇总表、分单位明细、报送情况、校验问题清单和审核反馈表。"""
    # The contact address, as the roster, is checked by rollup_to_outbox only when the inbox must really be read.
    forms, campaign = load_forms_and_campaign(args, check_email=False)
    if not args.inbox.is_dir():
        raise PipelineError(f"来件目录 {args.inbox} 不存在，请先建立该目录并放入各单位发回的文件。")
    from pipeline.job import rollup_to_outbox

    # The roster goes as its file: loaded (and checked) only when something changed since the last run.
    print("\n".join(rollup_to_outbox(args.inbox, args.outbox, forms, campaign, args.roster, progress=progress_bar)))
    return 0


def _configure_check(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("files", nargs="+", type=Path, metavar="文件", help="要检查的报表文件")


@command("campaign", "roster", "inbox")
def cmd_check(args: argparse.Namespace) -> int:
    """只检查指定的报表文件并列出问题，不写任何文件；有“错误”时退出码为 1。文件在来件目录中时，按汇总时的同一路径判断单位和收到日期。"""
    from pipeline.job import collect_files

    # check sends no mail: the contact address is left to the commands that do (rollup checks it before reading).
    forms, campaign, roster = load_settings(args, check_email=False)
    for path in args.files:
        if not path.is_file():
            raise PipelineError(f"找不到文件 {path}。")
    # The same reading (in worker processes: a file that hangs is stopped at the time limit), settling and checks
    # as rollup; an archive, a saved mail or a workbook of several forms is
    # listed with each of its members.
    subs = collect_files([p.resolve() for p in args.files], args.inbox.resolve(), forms, campaign, roster).submissions
    failed = False
    for sub in subs:
        errors, warnings = sub.errors, sub.warnings
        verdict = "不通过" if errors else ("通过（有警告）" if warnings else "通过")
        if sub.outcome == Outcome.MATERIAL:
            verdict = f"不是报表，是活动材料（{sub.material_kind}）"
        elif sub.outcome == Outcome.UNPACKED:
            verdict = f"内含 {len(sub.members)} 个文件，逐个列在下面"
        elif sub.mismatch:
            verdict = "格式不符（看起来是报表，但无法读取）"
        elif sub.machine_fault or sub.program_error:
            verdict = f"未能检查：{sub.note}"  # this computer's or this program's fault, never 通过
        unit = sub.unit.name if sub.unit else "单位未识别"
        how = f"，读取方式：{sub.read_as}" if sub.read_as else ""
        print(f"{sub.file}：{verdict}（{unit}{how}，错误 {errors} 个，警告 {warnings} 个）")
        for f in sub.findings:
            print(f"  [{f.severity}] {f.text}")
        failed = failed or any(f.severity == Severity.ERROR for f in sub.findings) or bool(sub.machine_fault
                                                                                           or sub.program_error)
    return 1 if failed else 0


cmd_check.configure = _configure_check  # type: ignore[attr-defined]
