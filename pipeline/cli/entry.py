"""The ``aqscy`` console command (安全生产月): ``python -m pipeline`` under a name a clerk can type on Windows.

One command whose sub-commands are the Makefile's targets, so that ``make rollup`` on the
development machine is ``aqscy rollup`` in a Windows console, and the README shows one
form of each step. The three mail targets of the Makefile are spelt as there:
``aqscy mail`` (下发模板), ``aqscy remind`` (催报) and ``aqscy feedback`` (审核反馈), ``aqscy init 通知.docx`` (the
campaign folder from the notice); every
other argument goes to ``python -m pipeline`` unchanged (``aqscy mail reminders`` too).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

from pipeline.cli import end_process
from pipeline.cli import main as cli_main

PROG = "aqscy"
# Makefile target -> the sub-command it runs.
TARGETS = {"remind": ["mail", "reminders"], "feedback": ["mail", "feedback"]}
MAIL_KINDS = ("templates", "reminders", "feedback")


def translate(argv: Sequence[str]) -> list[str]:
    """The ``python -m pipeline`` arguments for an ``aqscy`` command line."""
    args = list(argv)
    if args and args[0] in TARGETS:
        return [*TARGETS[args[0]], *args[1:]]
    if args and args[0] == "mail" and (len(args) == 1 or args[1] not in (*MAIL_KINDS, "-h", "--help")):
        return ["mail", "templates", *args[1:]]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``aqscy``; the exit code is the command's."""
    return cli_main(translate(sys.argv[1:] if argv is None else argv), prog=PROG)


def run() -> NoReturn:
    """The console command itself: :func:`main` in a process of its own, ended as ``python -m pipeline`` ends.

    As there, pandera's import of hypothesis is declined and the process ends without tearing down its modules
    (:func:`pipeline.cli.end_process`).
    """
    sys.modules.setdefault("hypothesis", None)  # type: ignore[arg-type]
    end_process(main())
