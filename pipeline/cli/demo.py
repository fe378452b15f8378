"""The ``demo`` command: a simulated batch of returns, rolled up at once, with its ground truth."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.cli import command, load_settings, progress_bar
from pipeline.demo.paths import DEMO_INBOX, DEMO_OUTBOX, TRUTH_NAME


def _configure(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--inbox", type=Path, default=DEMO_INBOX,
                     help=f"演示来件目录，必须为空或是以前演示生成的（默认 {DEMO_INBOX}）")
    sub.add_argument("--outbox", type=Path, default=DEMO_OUTBOX,
                     help=f"演示结果输出目录，要求同上（默认 {DEMO_OUTBOX}）")
    sub.add_argument("--truth", type=Path, default=None,
                     help=f"标准答案文件（默认为输出目录旁的 {TRUTH_NAME}，即 demo/{TRUTH_NAME}）")


@command("campaign", "roster")
def cmd_demo(args: argparse.Namespace) -> int:
    """生成一套演示用的模拟来件（示例名录各单位的附件1、附件2，含常见填写问题）并立即汇总，另写出标准答案供核对；只用单独的演示目录，不会混入真实来件。"""
    from pipeline.demo.build import run_demo

    forms, campaign, roster = load_settings(args)
    outbox = Path(args.outbox)
    truth = Path(args.truth) if args.truth else outbox.parent / TRUTH_NAME
    # Each line as it comes: what was generated, then the rollup's progress bar, then its summary.
    run_demo(forms, campaign, roster, Path(args.inbox), outbox, truth, progress_bar, say=_say)
    return 0


def _say(line: str) -> None:
    print(line, flush=True)  # before the progress bar, which tqdm writes to stderr


cmd_demo.configure = _configure  # type: ignore[attr-defined]
