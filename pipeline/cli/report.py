"""The ``report`` command: the documents upward (活动总结 draft and the county's 附件1), registered on the CLI."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from pipeline.cli import command, load_settings, progress_bar
from pipeline.errors import PipelineError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{text}”不是日期，请写成 2023-06-30 的形式") from None


def _configure(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--date", type=_date, default=None, metavar="日期", help="报告日期（默认今天），如 2023-06-30")
    sub.add_argument("--upper", type=Path, default=None, metavar="文件",
                     help="上级下发的附件1模板（.xlsx）：填写该文件并保留其模板标识，代替本程序的模板")


@command("campaign", "roster", "inbox", "outbox")
def cmd_report(args: argparse.Namespace) -> int:
    """生成向上级报送的材料：活动总结（草稿，.docx）和本县汇总的附件1（Word 表格和 Excel 模板），写入 outbox/上报/。"""
    forms, campaign, roster = load_settings(args)
    if not args.inbox.is_dir():
        raise PipelineError(f"来件目录 {args.inbox} 不存在，请先建立该目录并放入各单位发回的文件。")
    from pipeline.report.upward import report_date, report_to_outbox

    lines = report_to_outbox(args.inbox, args.outbox, forms, campaign, roster, report_date(args.date),
                             args.upper, progress=progress_bar)
    print("\n".join(lines))
    return 0


cmd_report.configure = _configure  # type: ignore[attr-defined]
