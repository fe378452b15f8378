"""The ``mail`` command: drafts to the units, and sending them with --send."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.cli import DEFAULT_TEMPLATES, command, load_settings, progress_bar
from pipeline.errors import PipelineError
from pipeline.model import MAIL_KINDS as KINDS


def _configure(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("kind", choices=list(KINDS), metavar="邮件类型",
                     help="templates：下发填报模板；reminders：催报未报送和退回的单位；feedback：向报表有警告的单位发送审核反馈")
    sub.add_argument("--send", action="store_true",
                     help="通过 SMTP 实际发送（需先设置 SMTP_HOST 等环境变量）；不加此项只生成邮件草稿，不发送任何邮件")


@command("campaign", "roster", "templates", "inbox", "outbox")
def cmd_mail(args: argparse.Namespace) -> int:
    """生成给各单位的邮件草稿（.eml）：templates 下发模板，reminders 催报，feedback 审核反馈；加 --send 才实际发送。"""
    from pipeline.faults import log_to

    with log_to(args.outbox):  # program errors of this run go to outbox/pipeline.log
        return _mail(args)


def _mail(args: argparse.Namespace) -> int:
    from pipeline.job import collect, machine_faults_lines
    from pipeline.outputs.mail.drafts import batch_lines, draft_feedback, draft_reminders, draft_templates
    from pipeline.outputs.mail.smtp import send_drafts, send_lines, smtp_settings
    from pipeline.store.ledger import LEDGER_NAME

    forms, campaign, roster = load_settings(args)
    settings = smtp_settings(os.environ, campaign) if args.send else None
    if args.kind != "templates" and args.templates == Path(DEFAULT_TEMPLATES):
        from pipeline.demo.build import demo_templates

        args.templates = demo_templates(args.inbox) or args.templates  # the demo's inbox: its own templates
    if args.kind == "templates":
        batch = draft_templates(forms, campaign, roster, args.templates, args.outbox)
    else:
        if not args.inbox.is_dir():
            raise PipelineError(f"来件目录 {args.inbox} 不存在。催报和审核反馈要依据来件情况，"
                                "请用 --inbox 指定来件目录。")
        rollup = collect(args.inbox, args.outbox, forms, campaign, roster, f"mail {args.kind}", progress_bar)
        if unread := machine_faults_lines(rollup):
            # Those files' units may be listed as 未报送 only because this computer could not read them.
            print("\n".join(unread))
            if settings is not None:
                raise PipelineError("以上文件因本机问题未能读取，其报送单位可能被误列为未报送或退回。为免误发，本次不发送邮件；"
                                    "请按提示解决后重新运行本命令。")
            print("注意：以上文件因本机问题未能读取，相关单位的草稿可能有误，请解决后重新生成草稿再发送。")
        if args.kind == "reminders":
            batch = draft_reminders(rollup, args.templates, args.outbox)
        else:
            batch = draft_feedback(rollup, args.outbox)
    print("\n".join(batch_lines(batch)))
    if settings is None:
        if batch.drafts:
            print("未发送任何邮件；核对草稿无误后，在命令后加 --send 发送。")
        return 0
    result = send_drafts(batch.drafts, settings, args.outbox / LEDGER_NAME,
                         echo=lambda line: print(line, flush=True))
    print("\n".join(send_lines(result)))
    sys.stdout.flush()
    return 1 if result.failed else 0


cmd_mail.configure = _configure  # type: ignore[attr-defined]
