"""The ``fetch`` command: the bureau's mailbox → inbox/ (read-only on the mailbox)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Iterable

from pipeline.cli import command


def _progress(uids: list[int]) -> Iterable[int]:
    from tqdm import tqdm

    bar: Iterable[int] = tqdm(uids, desc="收取邮件", unit="封", file=sys.stderr,
                              disable=not sys.stderr.isatty() or not uids)
    return bar


def _since(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期应形如 2023-05-01，现为“{text}”") from None


def _configure(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--since", type=_since, metavar="YYYY-MM-DD",
                     help="收取这一天及以后收到的邮件（默认取 campaign.toml [fetch] since，未设置时为最早截止日期前 30 天）")


@command("campaign", "roster", "inbox", "outbox")
def cmd_fetch(args: argparse.Namespace) -> int:
    """从单位邮箱（IMAP，只读）收取各单位发回的邮件，附件按日期和发件单位存入来件目录；收取后运行 rollup 汇总。"""
    from pipeline.fetch import fetch_to_inbox, imap_settings, summary_lines
    from pipeline.settings.campaign import load_campaign
    from pipeline.settings.roster import load_roster
    from pipeline.store.ledger import LEDGER_NAME

    campaign, roster = load_campaign(args.campaign), load_roster(args.roster)
    settings = imap_settings(os.environ)
    report = fetch_to_inbox(settings, campaign, roster, args.inbox, args.outbox / LEDGER_NAME, args.since,
                            progress=_progress)
    print("\n".join(summary_lines(report, args.inbox)))
    return 0


cmd_fetch.configure = _configure  # type: ignore[attr-defined]
