"""Sending the drafts over SMTP: settings from the environment, one connection, one ledger entry per matter sent."""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import PipelineError
from pipeline.faults import network_words
from pipeline.outputs.mail.drafts import Draft
from pipeline.outputs.mail.mime import as_sent
from pipeline.settings.campaign import Campaign
from pipeline.store.ledger import Ledger

if TYPE_CHECKING:  # pipeline.checks.rollup pulls in pandera: the commands import it when they run
    pass

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
SMTP_TIMEOUT = 60




@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the outgoing mail server, from the SMTP_* environment variables."""

    host: str
    port: int
    security: str  # starttls / ssl / none
    user: str
    password: str
    sender: str  # envelope sender (MAIL FROM)
    pause: float


SETTINGS_HELP = ("SMTP_HOST（发信服务器地址，如 smtp.163.com）；按需设置 SMTP_PORT（端口，默认 starttls 为 587、"
                 "ssl 为 465、none 为 25）、SMTP_SECURITY（加密方式：starttls、ssl 或 none，默认 starttls）、"
                 "SMTP_USER 和 SMTP_PASSWORD（登录账号和密码或授权码）、"
                 "SMTP_FROM（发件地址，默认为活动设置文件中的邮箱）、"
                 "SMTP_PAUSE（两封邮件之间暂停的秒数，默认 1）")


def smtp_settings(environ: Mapping[str, str], campaign: Campaign) -> SmtpSettings:
    """Read and check the SMTP_* variables; a Chinese :class:`PipelineError` names what to set."""
    env = {k: v.strip() for k, v in environ.items() if k.startswith("SMTP_")}
    host = env.get("SMTP_HOST", "")
    if not host:
        raise PipelineError(f"使用 --send 发送邮件前，须先设置环境变量 {SETTINGS_HELP}。"
                            "不加 --send 则只生成邮件草稿，不发送。")
    security = (env.get("SMTP_SECURITY") or "starttls").lower()
    if security not in DEFAULT_PORTS:
        raise PipelineError(f"环境变量 SMTP_SECURITY 只能是 starttls、ssl 或 none，现为“{env['SMTP_SECURITY']}”。")
    port_text = env.get("SMTP_PORT") or str(DEFAULT_PORTS[security])
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise PipelineError(f"环境变量 SMTP_PORT 应为 1 至 65535 之间的整数，现为“{port_text}”。")
    user, password = env.get("SMTP_USER", ""), environ.get("SMTP_PASSWORD", "")
    if bool(user) != bool(password):
        raise PipelineError("环境变量 SMTP_USER 和 SMTP_PASSWORD 须同时设置（发信服务器不要求登录时都不设置）。")
    pause_text = env.get("SMTP_PAUSE") or "1"
    try:
        pause = float(pause_text)
    except ValueError:
        pause = -1.0
    if not 0 <= pause <= 3600:
        raise PipelineError(f"环境变量 SMTP_PAUSE 应为 0 至 3600 之间的秒数，现为“{pause_text}”。")
    sender = env.get("SMTP_FROM") or campaign.contact_email
    return SmtpSettings(host, int(port_text), security, user, password, sender, pause)


def _describe(exc: BaseException) -> str:
    """A failed send in Chinese, with the server's own reply when there is one."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = "；".join(f"{code} {_text(msg)}" for code, msg in exc.recipients.values())
        return f"收件地址被服务器拒收（{replies}）"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"服务器拒绝（{exc.smtp_code} {_text(exc.smtp_error)}）"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "与发信服务器的连接中断"
    return network_words(exc)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def connect(settings: SmtpSettings) -> smtplib.SMTP:
    """Open, secure and log in to the server; a Chinese :class:`PipelineError` when that fails."""
    where = f"{settings.host}:{settings.port}"
    smtp: smtplib.SMTP | None = None
    try:
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=SMTP_TIMEOUT,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT)
            if settings.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if settings.user:
            smtp.login(settings.user, settings.password)
    except smtplib.SMTPNotSupportedError:
        _quit(smtp)
        raise PipelineError(f"发信服务器 {where} 不提供登录（AUTH）。多数服务器须先加密才允许登录，"
                            "请检查 SMTP_SECURITY；"
                            "若该服务器无须登录，请不要设置 SMTP_USER 和 SMTP_PASSWORD。") from None
    except smtplib.SMTPAuthenticationError as exc:
        _quit(smtp)
        raise PipelineError(f"发信服务器 {where} 拒绝登录（{exc.smtp_code} {_text(exc.smtp_error)}），"
                            "请检查 SMTP_USER 和 SMTP_PASSWORD"
                            "（网易等邮箱须使用“客户端授权码”而非登录密码）。") from None
    except (smtplib.SMTPException, OSError) as exc:
        _quit(smtp)
        raise PipelineError(f"无法连接发信服务器 {where}（{_describe(exc)}），"
                            "请检查 SMTP_HOST、SMTP_PORT、SMTP_SECURITY 的设置和网络。") from None
    return smtp


def _quit(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


@dataclass
class SendResult:
    """What became of each draft on a --send run."""

    sent: list[Draft] = field(default_factory=list)
    skipped: list[Draft] = field(default_factory=list)  # sent on an earlier run
    failed: list[tuple[Draft, str]] = field(default_factory=list)


def send_drafts(drafts: Sequence[Draft], settings: SmtpSettings, ledger_path: Path,
                echo: Callable[[str], None] = print, sleep: Callable[[float], None] = time.sleep) -> SendResult:
    """Send each draft not sent before, pausing between messages; one failure never stops the rest."""
    result = SendResult()
    smtp: smtplib.SMTP | None = None
    with Ledger(ledger_path) as ledger:
        try:
            for draft in drafts:
                if all(ledger.was_sent(key) for key in draft.keys):  # nothing in it that was not sent before
                    result.skipped.append(draft)
                    continue
                who = f"{draft.unit.code} {draft.unit.name}（{draft.unit.email}）"
                if result.sent or result.failed:
                    sleep(settings.pause)
                try:
                    if smtp is None:
                        smtp = connect(settings)
                    smtp.sendmail(settings.sender, [draft.unit.email], as_sent(draft.path.read_bytes()))
                except PipelineError as exc:  # could not (re)connect
                    if not (result.sent or result.failed):
                        raise  # nothing went out: stop with the reason
                    result.failed.append((draft, str(exc)))
                    echo(f"发送失败：{who}：{exc}")
                    continue
                except (smtplib.SMTPException, OSError) as exc:
                    reason = _describe(exc)
                    result.failed.append((draft, reason))
                    echo(f"发送失败：{who}：{reason}；其余邮件继续发送。")
                    if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
                        _quit(smtp)
                        smtp = None  # reconnect for the next message
                    continue
                for key in draft.keys:
                    ledger.mark_sent(key, draft.unit.email, draft.subject)
                result.sent.append(draft)
                echo(f"已发送：{who}《{draft.subject}》")
        finally:
            _quit(smtp)
    return result


def send_lines(result: SendResult) -> list[str]:
    """The Chinese closing summary of a --send run."""
    lines = [f"发送完成：本次发送 {len(result.sent)} 封，此前已发送而跳过 {len(result.skipped)} 封，"
             f"发送失败 {len(result.failed)} 封。"]
    if result.failed:
        lines.append("失败的邮件排除问题后重新运行本命令即可补发，已发送的不会重复发送。")
    return lines
