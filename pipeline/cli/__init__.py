"""Command line: a thin layer over the library. Each command's docstring is its help text."""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from pipeline.errors import PipelineError

if TYPE_CHECKING:
    from pipeline.forms.spec import FormSpec
    from pipeline.settings.campaign import Campaign
    from pipeline.settings.roster import Roster

# Modules whose @command functions join the CLI (imported lazily so start-up stays fast).
DISK_MARGIN_MB = 50  # the least a command's outputs need, said when a disk fills up
COMMAND_MODULES = ("pipeline.cli.init", "pipeline.cli.commands", "pipeline.cli.mail", "pipeline.cli.fetch",
                   "pipeline.cli.demo", "pipeline.cli.report")

Command = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, tuple[Command, tuple[str, ...]]] = {}


def command(*options: str) -> Callable[[Command], Command]:
    """Register a sub-command taking the named path options."""

    def register(func: Command) -> Command:
        _COMMANDS[func.__name__.removeprefix("cmd_").replace("_", "-")] = (func, options)
        return func

    return register


DEFAULT_TEMPLATES = "templates"
_OPTION_HELP = {
    "campaign": ("campaign.toml", "活动设置文件"),
    "roster": ("units.csv", "单位名录（CSV 或 .xlsx）"),
    "templates": (DEFAULT_TEMPLATES, "模板输出目录"),
    "inbox": ("inbox", "来件目录（只读）"),
    "outbox": ("outbox", "结果输出目录"),
}


def _forms_dir(args: argparse.Namespace, campaign: Campaign) -> tuple[Path, ...]:
    """The --forms folder when one was given, else the campaign's own (``./forms/`` or the folder named in
    campaign.toml), else none: the package's built-in form specs."""
    if getattr(args, "forms", None) is not None:
        return (args.forms,)
    return (campaign.forms_dir,) if campaign.forms_dir is not None else ()


def load_forms_and_campaign(args: argparse.Namespace, *, check_email: bool = True) -> tuple[dict[str, FormSpec], Campaign]:
    """The forms and the campaign named by the command's options (the contact address checked unless told not to)."""
    from pipeline.forms.spec import load_forms
    from pipeline.settings.campaign import load_campaign

    campaign = load_campaign(args.campaign, check_email=check_email)
    return load_forms(*_forms_dir(args, campaign)), campaign


def load_settings(args: argparse.Namespace, *, check_email: bool = True) -> tuple[dict[str, FormSpec], Campaign, Roster]:
    """The forms, the campaign and the roster named by the command's options (see :func:`load_forms_and_campaign`)."""
    from pipeline.settings.roster import load_roster

    return *load_forms_and_campaign(args, check_email=check_email), load_roster(args.roster)


def progress_bar(paths: Iterable[Path]) -> Iterable[Path]:
    """A progress bar over the files being read, on stderr and only on a terminal."""
    from tqdm import tqdm

    paths = list(paths)
    bar: Iterable[Path] = tqdm(paths, desc="读取来件", unit="个", file=sys.stderr, disable=not sys.stderr.isatty() or not paths)
    return bar


@command("campaign", "roster", "templates")
def cmd_templates(args: argparse.Namespace) -> int:
    """生成各单位的附件1、附件2填报模板（已锁定，只能在浅黄色格内填写），以及通用空白模板。"""
    from pipeline.forms.generate import generate_templates
    from pipeline.settings.roster import roster_line
    from pipeline.store.aside import OLD_TEMPLATES, move_aside, strays

    forms, campaign, roster = load_settings(args)
    paths = generate_templates(forms, campaign, roster, args.templates)
    print(f"已生成 {len(paths)} 个模板文件（{len(roster)} 个单位 × {len(forms)} 张表 + {len(forms)} 个通用空白模板），"
          f"保存在 {args.templates}/")
    # Templates of units no longer on the roster, or of another campaign's forms, must not be sent by mistake.
    moved = move_aside(strays(args.templates, paths), args.templates / OLD_TEMPLATES)
    if moved:
        print(f"另有 {len(moved)} 个不属于本次活动现有单位或表格的旧模板，已移到 {args.templates / OLD_TEMPLATES}/"
              f"（如“{moved[0].name}”），请勿再发给单位。")
    print(roster_line(roster))
    return 0


@command("campaign")
def cmd_fields(args: argparse.Namespace) -> int:
    """以 CSV 格式列出两张表的全部填报项：表、字段编号、活动项目、名称、单位、类型、工作表、单元格。"""
    from pipeline.forms.layout import build_layout
    from pipeline.forms.spec import load_forms
    from pipeline.settings.campaign import load_campaign

    campaign = load_campaign(args.campaign)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["form", "field_id", "section", "label", "unit", "kind", "sheet", "cell"])
    for spec in load_forms(*_forms_dir(args, campaign)).values():
        layout = build_layout(spec, campaign.year)
        for cell in layout.inputs:
            f = cell.field
            assert f is not None
            writer.writerow([spec.id, f.id, f.section_title, f.label, f.unit, f.kind, spec.sheet, cell.address])
    return 0


def end_process(code: int) -> NoReturn:
    """End this process with ``code`` once the command is done, without tearing down its modules.

    Python's own exit frees every object of pandas, pandera and the batch one by one: 0.1–0.2 s after the
    command has finished, measured on ``check``. Everything the command writes is closed by then (outputs are
    written atomically, the ledger is closed by its context manager); the terminal and the log are flushed
    here, and no worker process is left (:mod:`pipeline.intake.workers` stops its own), so nothing is lost.
    """
    import logging

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (| head) or stream: nothing more to say
            stream.flush()
    logging.shutdown()
    children = sys.modules.get("multiprocessing")  # not imported by a run that started no process (a re-run)
    if children is not None:
        children.active_children()  # reaps any child that ended (there should be none)
    os._exit(code)


def build_parser(prog: str = "python -m pipeline") -> argparse.ArgumentParser:
    """The argument parser with every registered command."""
    for module in COMMAND_MODULES:
        importlib.import_module(module)  # registers that module's commands

    parser = _chinese(_Parser(prog=prog, description="“安全生产月”报表收集与汇总工具",
                                              formatter_class=_Formatter, add_help=False))
    subs = parser.add_subparsers(dest="command", required=True, metavar="命令", title="命令", parser_class=_Parser)
    for name, (func, options) in _COMMANDS.items():
        doc = (func.__doc__ or "").strip()
        sub = _chinese(subs.add_parser(name, help=doc.splitlines()[0], description=doc, formatter_class=_Formatter,
                                       add_help=False))
        for option in options:
            default, help_text = _OPTION_HELP[option]
            sub.add_argument(f"--{option}", type=Path, default=Path(default), help=f"{help_text}（默认 {default}）")
        if "campaign" in options:
            sub.add_argument("--forms", type=Path, default=None,
                             help="表单定义目录（*.toml；默认为活动设置文件旁的 forms/ 或其中 forms 一项指定的目录，都没有时为程序自带的附件1、附件2定义）")
        extra = getattr(func, "configure", None)
        if extra:
            extra(sub)
        sub.set_defaults(func=func)
    return parser


class _Formatter(argparse.HelpFormatter):
    """argparse's help in Chinese: the staff read it, so even “usage:” should not be English."""

    def add_usage(self, usage: str | None, actions: Iterable[argparse.Action],
                  groups: Iterable[argparse._MutuallyExclusiveGroup], prefix: str | None = None) -> None:
        # argparse passes prefix "" when it builds a sub-command's name from this usage line.
        super().add_usage(usage, actions, groups, prefix="用法：" if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose complaint is Chinese and says where to look."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"错误：命令行参数有误（{message}）。运行 {self.prog} --help 查看用法。\n")


def _chinese(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser._positionals.title = "参数"
    parser._optionals.title = "选项"
    parser.add_argument("-h", "--help", action="help", help="显示本说明后退出")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "python -m pipeline") -> int:
    """Run one command; settings problems become a Chinese message and exit code 2."""
    from pipeline.faults import quiet_libraries
    from pipeline.portable import tolerant_console

    tolerant_console()  # a GBK console must not crash on an emoji in a file name
    quiet_libraries()  # a library's English warnings are not for the clerk's terminal
    args = build_parser(prog).parse_args(argv)
    try:
        from pipeline.safety.guards import require_safe_xml_settings

        require_safe_xml_settings()  # returned files are untrusted: never parse them without defusedxml
        return int(args.func(args))
    except PipelineError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as other CLI tools do.
        sys.stderr.close()
        return 0
    except Exception as exc:  # our bug or a full disk: a Chinese message, the traceback goes to the log
        print(f"错误：{_unexpected(exc, getattr(args, 'outbox', None) or Path())}", file=sys.stderr)
        return 3


def _unexpected(exc: Exception, outbox: Path) -> str:
    """The message for an error no command handled: a full disk (本机问题), else a program error, logged."""
    from pipeline.faults import LOG_NAME, DiskFullError, is_disk_full, log_error, log_to

    if is_disk_full(exc):
        folder = Path(exc.filename).parent if isinstance(exc, OSError) and exc.filename else outbox
        return str(DiskFullError(folder, DISK_MARGIN_MB))
    with log_to(outbox):
        log_error("命令未能完成", exc)
    return f"程序内部错误，命令未能完成，详见日志 {outbox / LOG_NAME}。这不是报送单位的责任，请将日志发给维护人员。"
