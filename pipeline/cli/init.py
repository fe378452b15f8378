"""The ``init`` command: the notice in, the campaign folder (campaign.toml, forms/*.toml) out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.cli import command
from pipeline.errors import PipelineError


def _configure_init(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("notice", type=Path, metavar="通知",
                     help="上级通知（.docx、.doc、.wps、.pdf 或 .txt；写 - 则读取粘贴进来的文字，以 Ctrl+D 或 Ctrl+Z 回车结束）")
    sub.add_argument("--out", type=Path, default=Path(), help="活动文件夹（默认当前文件夹）")
    sub.add_argument("--force", action="store_true", help="文件夹中已有 campaign.toml 或 forms/ 时也替换")


@command()
def cmd_init(args: argparse.Namespace) -> int:
    """根据上级通知生成活动文件夹：campaign.toml（年度、主题、日期、截止日期、联系人）和 forms/ 中每张附件表的定义。"""
    from pipeline.faults import LOG_NAME, PROGRAM_ERROR_NOTE, log_error, log_to
    from pipeline.notice.build import build_campaign, campaign_from_notice
    from pipeline.notice.read import text_blocks
    from pipeline.notice.write import REVIEW_FILE, review_text, write_folder

    try:
        if str(args.notice) == "-":
            campaign = build_campaign(text_blocks(sys.stdin.read()), "粘贴的文字")
        else:
            campaign = campaign_from_notice(args.notice)
        paths = write_folder(args.out, campaign, force=args.force)
    except PipelineError:
        raise
    except Exception as exc:  # our bug, not the notice's: logged with its traceback, told in Chinese
        with log_to(args.out):
            log_error(f"init {args.notice}", exc)
        raise PipelineError(f"{PROGRAM_ERROR_NOTE}（根据通知“{args.notice.name}”生成活动设置时，日志见 "
                            f"{args.out / LOG_NAME}），未写入任何活动设置文件。") from exc
    print(f"已根据通知“{args.notice.name}”生成 {len(paths)} 个文件，保存在 {args.out}/：")
    for path in paths:
        print(f"  {path}")
    print()
    print(review_text(campaign), end="")
    print(f"（以上内容也已写入 {args.out / REVIEW_FILE}。）")
    return 0


cmd_init.configure = _configure_init  # type: ignore[attr-defined]
