"""``python -m pipeline fetch``: the returns straight from the bureau's mailbox into inbox/, read-only.

Every message received since ``--since`` (else ``[fetch] since``, else 30 days before the earliest
deadline) is read over IMAP from a folder opened with EXAMINE, its body fetched with BODY.PEEK,
so no message is ever flagged, moved or deleted. Each attachment is saved as
``inbox/邮件/<arrival date>/<U013_单位名称 or sender address>/<name>`` with the raw ``.eml`` beside
it and the arrival time as the files' modification time; :mod:`pipeline.intake.arrival` turns both
folders back into arrival date and unit for the rollup. Arrival is the server's INTERNALDATE (when
the mailbox received the message); the Date header, which the sender's client writes, is only the
fallback, and an absurd one (year 9999) is never used.

The ledger remembers each message by UIDVALIDITY + UID and by Message-ID together with the sha256
of its bytes, so a message is fetched once, even after ``make clean`` empties the outputs or the
message is moved or copied in the mailbox, while another mail that reuses a Message-ID is still
saved. The raw copy kept beside the attachments is recorded too (:meth:`Ledger.kept_mail`): the
rollup skips exactly that file, and reads any other ``.eml`` wherever it lies.

The client is IMAPClient: it parses IMAP responses (FETCH items, literals, UIDVALIDITY, modified
UTF-7 folder names) that imaplib leaves to its caller, and it sends the IMAP ID command that
NetEase (163/126) mailboxes require before a folder may be opened.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import ssl
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import PipelineError
from pipeline.faults import DiskFullError, is_disk_full, log_detail, network_words, os_words
from pipeline.intake.arrival import MAIL_FOLDER
from pipeline.intake.mailparts import (
    Attachment,
    Envelope,
    MalformedMessageError,
    envelope,
    iter_attachments,
    parse_message,
    plausible_time,
    safe_filename,
)
from pipeline.safety.badbytes import describe, technical

DISK_MARGIN_MB = 50  # the least room a fetch needs, said when the inbox's disk is full

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from pipeline.settings.campaign import Campaign, FetchSettings
    from pipeline.settings.roster import Roster, Unit
    from pipeline.store.ledger import Ledger

DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
IMAP_TIMEOUT = 60
HEADER_BATCH = 200  # messages whose size and headers are asked for in one FETCH
HEADER_FIELDS = b"BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE MESSAGE-ID)]"
MB = 1024 * 1024
RAW_MAIL_NAME = "邮件原文"
UNKNOWN_SENDER = "未知发件人"
SAVED, NO_ATTACHMENTS, DUPLICATE = "saved", "no-attachments", "duplicate"  # ledger outcomes

SETTINGS_HELP = ("IMAP_HOST（收信服务器地址，如 imap.163.com）、IMAP_USER（邮箱账号）和 IMAP_PASSWORD"
                 "（密码或客户端授权码）；按需设置 IMAP_SECURITY（加密方式：ssl、starttls 或 none，默认 ssl）、"
                 "IMAP_PORT（端口，默认 ssl 为 993，其余为 143）、IMAP_FOLDER（文件夹，默认 INBOX 即收件箱）、"
                 "IMAP_CAFILE（服务器使用单位自签证书时，其根证书文件的路径）")


@dataclass(frozen=True)
class ImapSettings:
    """How to reach the bureau's mailbox, from the IMAP_* environment variables."""

    host: str
    port: int
    security: str  # ssl / starttls / none
    user: str
    password: str
    folder: str
    cafile: str = ""

    @property
    def mailbox(self) -> str:
        """The key of this folder in the ledger: account, server and folder."""
        return f"{self.user.lower()}@{self.host.lower()}/{self.folder}"


def imap_settings(environ: Mapping[str, str]) -> ImapSettings:
    """Read and check the IMAP_* variables; a Chinese :class:`PipelineError` names what to set."""
    env = {k: v.strip() for k, v in environ.items() if k.startswith("IMAP_")}
    host, user, password = env.get("IMAP_HOST", ""), env.get("IMAP_USER", ""), environ.get("IMAP_PASSWORD", "")
    if not (host and user and password):
        raise PipelineError(f"收取邮件前，须先设置环境变量 {SETTINGS_HELP}。设置方法见说明文件“从邮箱收取来件”一节。")
    security = (env.get("IMAP_SECURITY") or "ssl").lower()
    if security not in DEFAULT_PORTS:
        raise PipelineError(f"环境变量 IMAP_SECURITY 只能是 ssl、starttls 或 none，现为“{env['IMAP_SECURITY']}”。")
    port_text = env.get("IMAP_PORT") or str(DEFAULT_PORTS[security])
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise PipelineError(f"环境变量 IMAP_PORT 应为 1 至 65535 之间的整数，现为“{port_text}”。")
    cafile = env.get("IMAP_CAFILE", "")
    if cafile and not Path(cafile).is_file():
        raise PipelineError(f"环境变量 IMAP_CAFILE 指定的证书文件“{cafile}”不存在。")
    return ImapSettings(host, int(port_text), security, user, password, env.get("IMAP_FOLDER") or "INBOX", cafile)


def connect(settings: ImapSettings) -> IMAPClient:
    """Open, secure and log in; identify the client (163/126 require it); a Chinese error when that fails."""
    from imapclient import IMAPClient
    from imapclient.exceptions import IMAPClientError, LoginError

    where = f"{settings.host}:{settings.port}"
    context = ssl.create_default_context(cafile=settings.cafile or None)
    client: IMAPClient | None = None
    try:
        client = IMAPClient(settings.host, settings.port, ssl=settings.security == "ssl", ssl_context=context,
                            timeout=IMAP_TIMEOUT)
        if settings.security == "starttls":
            client.starttls(context)
        client.login(settings.user, settings.password)
        if b"ID" in client.capabilities():
            client.id_({"name": "pipeline-fetch", "version": "1.0"})
    except LoginError as exc:
        _logout(client)
        raise PipelineError(f"收信服务器 {where} 拒绝登录（{exc}），请检查 IMAP_USER 和 IMAP_PASSWORD"
                            "（163、126、QQ 等邮箱须使用“客户端授权码”而非登录密码，并须在邮箱设置中开启 IMAP 服务）。") from None
    except ssl.SSLError as exc:
        _logout(client)
        raise PipelineError(f"与收信服务器 {where} 建立加密连接失败（{exc.reason or exc}），请检查 IMAP_SECURITY、"
                            "IMAP_PORT；服务器使用自签证书时请用 IMAP_CAFILE 指定其根证书。") from None
    except (IMAPClientError, OSError) as exc:
        _logout(client)
        raise PipelineError(f"无法连接收信服务器 {where}（{network_words(exc)}），"
                            "请检查 IMAP_HOST、IMAP_PORT、IMAP_SECURITY 的设置和网络。") from None
    return client


def _logout(client: IMAPClient | None) -> None:
    if client is None:
        return
    try:
        client.logout()
    except Exception:  # the connection may already be gone; nothing to report
        client.shutdown()


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class Skipped:
    """A message not saved this run, and why (Chinese)."""

    sender: str
    subject: str
    date: str
    reason: str


@dataclass
class FetchReport:
    """What one fetch run found and did."""

    mailbox: str
    since: dt.date
    seen: int = 0  # messages in the folder since the start date
    known: int = 0  # fetched on an earlier run (same UIDVALIDITY and UID)
    new: int = 0
    saved: dict[str, list[str]] = field(default_factory=dict)  # folder label -> saved attachment paths
    unknown_senders: Counter[str] = field(default_factory=Counter)
    duplicates: list[Skipped] = field(default_factory=list)  # Message-ID fetched before under another UID
    no_attachments: list[Skipped] = field(default_factory=list)
    refused: list[Skipped] = field(default_factory=list)  # over a cap, or malformed: listed again next run
    deferred: int = 0  # left for the next run once max_run_mb was reached
    downloaded: int = 0  # bytes


# ---------------------------------------------------------------- saving


def _local(when: dt.datetime) -> dt.datetime:
    """An aware or naive (local) time as local time."""
    return when.astimezone()


def _folder_label(unit: Unit | None, sender: str) -> str:
    if unit is not None:
        return safe_filename(f"{unit.code}_{unit.name}", unit.code)
    return safe_filename(sender, UNKNOWN_SENDER) if sender else UNKNOWN_SENDER


def _write_new(folder: Path, name: str, data: bytes, stamp: float) -> Path:
    """Write ``data`` under ``name`` in ``folder``, never over an existing file: “name (2).ext” and so on."""
    folder.mkdir(parents=True, exist_ok=True)
    stem, suffix = Path(name).stem, Path(name).suffix
    number = 1
    while True:
        path = folder / (name if number == 1 else f"{stem} ({number}){suffix}")
        try:
            handle = path.open("xb")  # exclusive create: an existing file is never touched
        except FileExistsError:
            number += 1
            continue
        try:
            with handle:
                handle.write(data)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        os.utime(path, (stamp, stamp))  # the mail's date: the arrival time a hand-saved file would carry
        return path


def save_message(inbox: Path, when: dt.datetime, label: str, attachments: Sequence[Attachment], raw: bytes) -> list[Path]:
    """Save the attachments and the raw message under ``邮件/<date>/<label>/``; return the paths, raw message last."""
    local = _local(when)
    folder = inbox / MAIL_FOLDER / local.date().isoformat() / label
    stamp = local.timestamp()
    written: list[Path] = []
    try:
        for item in attachments:
            written.append(_write_new(folder, item.safe_name, item.data, stamp))
        written.append(_write_new(folder, f"{RAW_MAIL_NAME}_{local:%H%M%S}.eml", raw, stamp))
    except BaseException:
        for path in written:  # all or nothing: the message is fetched again next run
            path.unlink(missing_ok=True)
        raise
    return written


# ---------------------------------------------------------------- fetching


def _header_items(client: IMAPClient, uids: list[int]) -> dict[int, dict[bytes, Any]]:
    """Size, internal date and the few headers of each message, a batch at a time (bodies stay on the server)."""
    items: dict[int, dict[bytes, Any]] = {}
    for start in range(0, len(uids), HEADER_BATCH):
        batch = uids[start:start + HEADER_BATCH]
        items.update(client.fetch(batch, [b"RFC822.SIZE", b"INTERNALDATE", HEADER_FIELDS]))
    return items


def _header_bytes(item: Mapping[bytes, Any]) -> bytes:
    for key, value in item.items():
        if key.upper().startswith(b"BODY[HEADER"):
            return bytes(value or b"")
    return b""


def _skipped(env: Envelope, when: dt.datetime | None, reason: str) -> Skipped:
    shown = when.strftime("%Y-%m-%d %H:%M") if when else ""
    return Skipped(env.sender or UNKNOWN_SENDER, env.subject or "（无主题）", shown, reason)


def fetch_to_inbox(settings: ImapSettings, campaign: Campaign, roster: Roster, inbox: Path, ledger_path: Path,
                   since: dt.date | None = None,
                   progress: Callable[[list[int]], Iterable[int]] | None = None) -> FetchReport:
    """Fetch every message since ``since`` not fetched before; save attachments under ``inbox/邮件/``."""
    from imapclient.exceptions import IMAPClientError

    from pipeline.store.ledger import Ledger

    limits = campaign.fetch
    start = since or campaign.fetch_since
    report = FetchReport(settings.mailbox, start)
    client = connect(settings)
    try:
        try:
            selected = client.select_folder(settings.folder, readonly=True)  # EXAMINE: nothing can change
        except IMAPClientError as exc:
            raise PipelineError(f"邮箱中打不开文件夹“{settings.folder}”（{exc}），请检查 IMAP_FOLDER"
                                "（收件箱为 INBOX）。") from None
        uidvalidity = int(selected[b"UIDVALIDITY"])
        uids = sorted(int(u) for u in client.search(["SINCE", start]))
        report.seen = len(uids)
        with Ledger(ledger_path) as ledger:
            done = ledger.fetched_uids(settings.mailbox, uidvalidity)
            todo = [u for u in uids if u not in done]
            report.known, report.new = len(uids) - len(todo), len(todo)
            heads = _header_items(client, todo)
            for uid in (progress or list)(todo):
                _fetch_one(client, uid, heads.get(uid, {}), uidvalidity, settings, limits, roster, inbox,
                           ledger, report)
    except IMAPClientError as exc:
        raise PipelineError(f"收取邮件时与服务器 {settings.host} 的通信出错（{exc}）。已保存的邮件不会重复收取，"
                            "请稍后重新运行本命令。") from None
    except (TimeoutError, ConnectionError, ssl.SSLError) as exc:
        raise PipelineError(f"收取邮件时与服务器 {settings.host} 的连接中断（{network_words(exc)}）。已保存的邮件不会重复收取，"
                            "请稍后重新运行本命令。") from None
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(inbox, DISK_MARGIN_MB) from None
        log_detail(f"保存附件到 {inbox} 时出错", technical(exc))
        raise PipelineError(f"保存附件到 {inbox} 时出错（{os_words(exc)}），请检查磁盘空间和文件夹权限后重新运行本命令；"
                            "已保存的邮件不会重复收取。") from None
    finally:
        _logout(client)
    return report


def arrival(internal: object, header: dt.datetime | None) -> dt.datetime:
    """When a message arrived: the server's INTERNALDATE, else its Date header, else now (all local time)."""
    return (plausible_time(internal if isinstance(internal, dt.datetime) else None) or plausible_time(header)
            or dt.datetime.now().astimezone())


def _fetch_one(client: IMAPClient, uid: int, item: Mapping[bytes, Any], uidvalidity: int, settings: ImapSettings,
               limits: FetchSettings, roster: Roster, inbox: Path, ledger: Ledger, report: FetchReport) -> None:
    """Decide on, download and save one message; a problem with it is recorded in ``report``, never raised."""
    head = envelope(parse_message(_header_bytes(item)))
    when = arrival(item.get(b"INTERNALDATE"), head.date)
    size = int(item.get(b"RFC822.SIZE", 0))
    if size > limits.max_message_mb * MB:
        report.refused.append(_skipped(head, when, f"邮件大小 {size / MB:.1f} MB，超过上限 {limits.max_message_mb} MB"
                                       "（campaign.toml [fetch] max_message_mb），未下载，请在邮箱中查看后手工保存附件"))
        return
    if report.downloaded + size > limits.max_run_mb * MB and report.downloaded:
        report.deferred += 1
        return
    fetched = client.fetch([uid], [b"BODY.PEEK[]"]).get(uid, {})
    raw = bytes(fetched.get(b"BODY[]") or b"")
    report.downloaded += len(raw)
    digest = hashlib.sha256(raw).hexdigest()
    try:
        message = parse_message(raw)
        env = envelope(message)
        attachments = list(iter_attachments(message))
    except MalformedMessageError as exc:
        report.refused.append(_skipped(head, when, f"邮件格式错误（{exc}），已跳过，请联系发件单位重新发送"))
        return
    except Exception as exc:  # untrusted bytes: one odd message must never stop the run
        log_detail(f"邮件无法解析（{head}）", technical(exc))
        report.refused.append(_skipped(head, when, f"邮件无法解析（{describe(exc)}），已跳过，请联系发件单位重新发送"))
        return
    # Same Message-ID and same bytes: the message was copied or moved in the mailbox. A client that reuses a
    # Message-ID for another mail (some do) is not a duplicate: the content decides.
    key = env.message_id or f"<sha256:{digest}>"
    first = ledger.fetched_message(key, digest)
    if first is not None:
        ledger.record_fetch(settings.mailbox, uidvalidity, uid, key, DUPLICATE, digest=digest)
        report.duplicates.append(_skipped(env, when, f"与 {first} 已收取的邮件内容完全相同，未重复保存"))
        return
    if len(attachments) > limits.max_attachments:
        report.refused.append(_skipped(env, when, f"附件 {len(attachments)} 个，超过上限 {limits.max_attachments} 个"
                                       "（campaign.toml [fetch] max_attachments），未保存，请在邮箱中查看后手工保存附件"))
        return
    if not attachments:
        ledger.record_fetch(settings.mailbox, uidvalidity, uid, key, NO_ATTACHMENTS, digest=digest)
        report.no_attachments.append(_skipped(env, when, "没有附件"))
        return
    unit = roster.by_email(env.sender) if env.sender else None
    label = _folder_label(unit, env.sender)
    paths = save_message(inbox, when, label, attachments, raw)
    saved = [p.relative_to(inbox).as_posix() for p in paths]
    ledger.record_fetch(settings.mailbox, uidvalidity, uid, key, SAVED, saved, kept=(saved[-1], digest), digest=digest)
    shown = f"{unit.code} {unit.name}" if unit else f"{env.sender or UNKNOWN_SENDER}（{UNKNOWN_SENDER}）"
    report.saved.setdefault(shown, []).extend(saved[:-1])
    if unit is None:
        report.unknown_senders[env.sender or UNKNOWN_SENDER] += 1


def summary_lines(report: FetchReport, inbox: Path) -> list[str]:
    """The Chinese closing summary of a fetch run."""
    lines = [f"邮箱 {report.mailbox}：自 {report.since.isoformat()} 起共有邮件 {report.seen} 封，"
             f"此前已收取 {report.known} 封，其余 {report.new} 封本次处理"
             f"（下载 {report.downloaded / MB:.1f} MB）。"]
    saved = sum(len(paths) for paths in report.saved.values())
    if saved:
        lines.append(f"本次保存附件 {saved} 个，存放在 {inbox / MAIL_FOLDER}/ 下（按收到日期和发件单位分文件夹，"
                     "邮件原文一并留存）：")
        lines += [f"  {who}：{len(paths)} 个" for who, paths in report.saved.items()]
    else:
        lines.append("本次没有保存新的附件。")
    if report.unknown_senders:
        lines.append(f"以下 {len(report.unknown_senders)} 个发件地址不在单位名录的“邮箱”列中，附件按发件地址存放，"
                     "汇总时按文件内容识别单位；如是某单位的常用邮箱，请补入单位名录（多个邮箱用分号隔开）：")
        lines += [f"  {address}（{count} 封）" for address, count in report.unknown_senders.items()]
    if report.duplicates:
        lines.append(f"另有 {len(report.duplicates)} 封与已收取的邮件相同（可能在邮箱中被移动或复制过），未重复保存。")
    if report.no_attachments:
        lines.append(f"以下 {len(report.no_attachments)} 封邮件没有附件，未保存；如单位把数据写在了正文中，请打开邮件查看：")
        lines += [f"  {s.date} {s.sender}《{s.subject}》" for s in report.no_attachments]
    if report.refused:
        lines.append(f"以下 {len(report.refused)} 封邮件未收取（每次收取都会再次列出，处理后可不必理会）：")
        lines += [f"  {s.date} {s.sender}《{s.subject}》：{s.reason}。" for s in report.refused]
    if report.deferred:
        lines.append(f"本次下载量已达上限（campaign.toml [fetch] max_run_mb），尚有 {report.deferred} 封留待下次收取，"
                     "请再次运行 make fetch。")
    lines.append("下一步：运行 make rollup 汇总。")
    return lines
