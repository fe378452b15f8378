"""The mail command: drafts that parse back, reminders for the right units, and --send against a local SMTP server."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from feedback_kit import submit, unit

from pipeline.cli import main
from pipeline.errors import PipelineError
from pipeline.forms.layout import build_layout
from pipeline.forms.spec import FormSpec, template_name
from pipeline.outputs.feedback import FEEDBACK_DIR
from pipeline.outputs.mail.drafts import Draft
from pipeline.outputs.mail.smtp import SmtpSettings, send_drafts, smtp_settings
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster

REPO = Path(__file__).resolve().parents[1]
EPOCH = "1685491200"  # 2023-05-31, the campaign's first day: drafts are dated then
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SUBJECT = "关于报送2023年“安全生产月”活动情况统计表及联络员表的通知"
PATHS = ["--campaign", str(REPO / "campaign.toml"), "--roster", str(REPO / "units.csv")]


# ----------------------------------------------------------------------------- a local SMTP server


@dataclass(frozen=True)
class Delivery:
    """One message as the server received it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes


class Mailbox:
    """aiosmtpd handler: keeps every message, refuses the addresses in ``reject`` with 550."""

    def __init__(self) -> None:
        self.received: list[Delivery] = []
        self.reject: set[str] = set()
        self.login = False  # whether the server wants SMTP_USER / SMTP_PASSWORD
        self._lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        if address in self.reject:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self._lock:
            self.received.append(Delivery(envelope.mail_from, tuple(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Delivery]:
        """The messages delivered to one address."""
        return [d for d in self.received if address in d.rcpt_tos]


class _EphemeralController(Controller):  # type: ignore[misc]
    """Controller on port 0: learns the port the OS picked before its own readiness probe."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    """Accept the login bureau / secret only."""
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"bureau", b"secret")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd itself answers 535 on failure


@pytest.fixture(params=["open", "login"])
def smtp(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """A local SMTP server on 127.0.0.1 and an ephemeral port, with the SMTP_* variables pointing at it.

    Run twice: an open relay, and one that wants SMTP_USER/SMTP_PASSWORD (AUTH without TLS, loopback only).
    """
    mailbox = Mailbox()
    login = mailbox.login = request.param == "login"
    extra: dict[str, Any] = {"authenticator": _authenticate, "auth_require_tls": False,
                              "auth_exclude_mechanism": ["LOGIN"]} if login else {}
    controller = _EphemeralController(mailbox, hostname="127.0.0.1", port=0, server_hostname="localhost", **extra)
    controller.start()
    for name in ("SMTP_USER", "SMTP_PASSWORD", "SMTP_FROM"):
        monkeypatch.delenv(name, raising=False)
    if login:
        monkeypatch.setenv("SMTP_USER", "bureau")
        monkeypatch.setenv("SMTP_PASSWORD", "secret")
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(controller.port))
    monkeypatch.setenv("SMTP_SECURITY", "none")
    monkeypatch.setenv("SMTP_PAUSE", "0")
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def _campaign_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


@pytest.fixture
def templates(tmp_path: Path, template_dir: Path) -> Path:
    """A private copy of the session's templates (the mail command may add to its folder)."""
    return Path(shutil.copytree(template_dir, tmp_path / "templates"))


def parse(raw: bytes) -> EmailMessage:
    """A message parsed back with the standard library."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def header(raw: bytes, name: str) -> str:
    """A header of a raw message, decoded per RFC 2047.

    Not ``str(msg["To"])``: CPython's address parser puts a space between the adjacent
    encoded-words of a long, folded display name, which RFC 2047 (6.2) says to ignore.
    """
    value = email.message_from_bytes(raw, policy=email.policy.compat32)[name]
    assert value is not None, name
    return str(make_header(decode_header(value)))


def attachments(msg: EmailMessage) -> dict[str, bytes]:
    """Decoded file name -> payload bytes of each attachment (all must be xlsx)."""
    found: dict[str, bytes] = {}
    for part in msg.iter_attachments():
        assert part.get_content_type() == XLSX
        name = part.get_filename()
        assert name
        found[name] = part.get_content()
    return found


def drafts(folder: Path) -> dict[str, EmailMessage]:
    """Every .eml in a folder, parsed, by file name."""
    return {p.name: parse(p.read_bytes()) for p in sorted(folder.glob("*.eml"))}


def run(*args: str) -> int:
    """The CLI, as `python -m pipeline` runs it."""
    return main(list(args))


# ----------------------------------------------------------------------------- mail templates


def test_template_drafts_parse_back_with_headers_and_attachments(
    tmp_path: Path, templates: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every unit with a mailbox gets one draft whose headers decode and whose attachments are its two templates."""
    outbox = tmp_path / "outbox"

    assert run("mail", "templates", *PATHS, "--templates", str(templates), "--outbox", str(outbox)) == 0

    folder = outbox / "mail" / "templates"
    mailed = [u for u in roster if u.email]
    found = drafts(folder)
    assert sorted(found) == sorted(f"{u.code}_{u.name}.eml" for u in mailed)
    for u in mailed:
        raw = (folder / f"{u.code}_{u.name}.eml").read_bytes()
        msg = found[f"{u.code}_{u.name}.eml"]
        assert msg["Subject"] == SUBJECT
        assert parseaddr(header(raw, "From")) == (campaign.bureau, campaign.contact_email)
        assert parseaddr(header(raw, "To")) == (u.name, u.email)
        assert parsedate_to_datetime(str(msg["Date"])).tzinfo is not None
        assert str(msg["Message-ID"]).startswith("<") and str(msg["Message-ID"]).endswith("@163.com>")
        names = [template_name(spec, u) for spec in forms.values()]
        assert attachments(msg) == {n: (templates / n).read_bytes() for n in names}
        body = msg.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        for phrase in ("全国第22个“安全生产月”", "人人讲安全个个会应急", "5月31日至6月30日", "5月29日前报送附件2",
                       "6月30日前报送活动总结及附件1", "联系人：张家志", "联系电话：6627527",
                       f"邮箱：{campaign.contact_email}", names[0]):
            assert phrase in text, phrase
    raw = (folder / f"{mailed[0].code}_{mailed[0].name}.eml").read_bytes()
    assert b"filename*=utf-8''" in raw, "file names are RFC 2231 encoded, in one parameter"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    out = capsys.readouterr().out
    assert "U013 清河县清水河大桥新建工程项目部：缺少邮箱，需另行送达" in out
    assert "未发送任何邮件" in out


def test_missing_templates_are_generated_before_they_are_attached(
    tmp_path: Path, roster: Roster, forms: dict[str, FormSpec], capsys: pytest.CaptureFixture[str]
) -> None:
    """With an empty --templates folder the command generates the templates it attaches."""
    empty, outbox = tmp_path / "templates", tmp_path / "outbox"

    assert run("mail", "templates", *PATHS, "--templates", str(empty), "--outbox", str(outbox)) == 0

    mailed = [u for u in roster if u.email]
    assert len(list(empty.glob("*.xlsx"))) == 2 * len(mailed)
    assert f"已补充生成缺少或过期的模板 {2 * len(mailed)} 个" in capsys.readouterr().out
    u = mailed[0]
    msg = parse((outbox / "mail" / "templates" / f"{u.code}_{u.name}.eml").read_bytes())
    names = [template_name(spec, u) for spec in forms.values()]
    assert attachments(msg) == {n: (empty / n).read_bytes() for n in names}


# ----------------------------------------------------------------------------- --send


def test_send_delivers_every_draft_once_with_identical_attachments(
    tmp_path: Path, templates: Path, roster: Roster, smtp: Mailbox, campaign: Campaign,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--send delivers each draft once, byte for byte; a second --send sends nothing."""
    outbox = tmp_path / "outbox"
    args = ("mail", "templates", *PATHS, "--templates", str(templates), "--outbox", str(outbox), "--send")

    assert run(*args) == 0

    mailed = [u for u in roster if u.email]
    assert sorted(d.rcpt_tos for d in smtp.received) == sorted((u.email,) for u in mailed)
    for u in mailed:
        [delivery] = smtp.to(u.email)
        assert delivery.mail_from == campaign.contact_email
        msg = parse(delivery.content)
        assert msg["Subject"] == SUBJECT
        assert parseaddr(header(delivery.content, "To")) == (u.name, u.email)
        draft = parse((outbox / "mail" / "templates" / f"{u.code}_{u.name}.eml").read_bytes())
        assert (draft["X-Unsent"], msg["X-Unsent"]) == ("1", None), "the draft is marked unsent, the message sent is not"
        assert (msg["Date"], msg["Message-ID"]) == (draft["Date"], draft["Message-ID"])
        for name, payload in attachments(msg).items():
            assert payload == (templates / name).read_bytes()
    assert f"本次发送 {len(mailed)} 封" in capsys.readouterr().out

    assert run(*args) == 0

    assert len(smtp.received) == len(mailed)
    assert f"本次发送 0 封，此前已发送而跳过 {len(mailed)} 封" in capsys.readouterr().out


def test_one_refused_recipient_is_reported_and_the_rest_still_arrive(
    tmp_path: Path, templates: Path, roster: Roster, smtp: Mailbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 550 for one address is reported in Chinese, the others are delivered, and a later run sends only that one."""
    outbox = tmp_path / "outbox"
    args = ("mail", "templates", *PATHS, "--templates", str(templates), "--outbox", str(outbox), "--send")
    refused = unit(roster, "U005")
    smtp.reject.add(refused.email)

    assert run(*args) == 1

    mailed = [u for u in roster if u.email]
    assert sorted(d.rcpt_tos[0] for d in smtp.received) == sorted(u.email for u in mailed if u is not refused)
    out = capsys.readouterr().out
    assert f"发送失败：U005 {refused.name}（{refused.email}）：收件地址被服务器拒收（550" in out
    assert "发送失败 1 封" in out

    smtp.reject.clear()
    assert run(*args) == 0

    assert len(smtp.to(refused.email)) == 1
    assert len(smtp.received) == len(mailed)


def test_send_without_smtp_settings_stops_with_the_variables_to_set(
    tmp_path: Path, templates: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--send with no SMTP_HOST exits 2 naming the SMTP_* variables, before writing or sending anything."""
    monkeypatch.delenv("SMTP_HOST", raising=False)
    outbox = tmp_path / "outbox"

    code = run("mail", "templates", *PATHS, "--templates", str(templates), "--outbox", str(outbox), "--send")

    assert code == 2
    err = capsys.readouterr().err
    for name in ("SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USER", "SMTP_PASSWORD", "SMTP_FROM"):
        assert name in err
    assert not (outbox / "mail").exists()


@pytest.mark.parametrize(("env", "words"), [
    ({"SMTP_SECURITY": "tls"}, "SMTP_SECURITY 只能是 starttls、ssl 或 none"),
    ({"SMTP_PORT": "smtp"}, "SMTP_PORT 应为 1 至 65535 之间的整数"),
    ({"SMTP_USER": "bureau"}, "SMTP_USER 和 SMTP_PASSWORD 须同时设置"),
    ({"SMTP_PAUSE": "-1"}, "SMTP_PAUSE 应为 0 至 3600 之间的秒数"),
])
def test_bad_smtp_settings_are_named(campaign: Campaign, env: dict[str, str], words: str) -> None:
    """Each malformed SMTP_* variable gives a Chinese error naming it."""
    with pytest.raises(PipelineError, match=words):
        smtp_settings({"SMTP_HOST": "smtp.example.com", **env}, campaign)


def test_smtp_defaults_follow_the_security_mode(campaign: Campaign) -> None:
    """The port defaults by security mode, the envelope sender to the bureau mailbox, the pause to one second."""
    settings = smtp_settings({"SMTP_HOST": "smtp.163.com", "SMTP_SECURITY": "ssl"}, campaign)
    assert settings == SmtpSettings("smtp.163.com", 465, "ssl", "", "", campaign.contact_email, 1.0)
    assert smtp_settings({"SMTP_HOST": "h"}, campaign).port == 587


def test_pause_between_messages_but_not_before_the_first(
    tmp_path: Path, templates: Path, roster: Roster, smtp: Mailbox, campaign: Campaign,
) -> None:
    """send_drafts pauses SMTP_PAUSE seconds between consecutive messages only."""
    outbox = tmp_path / "outbox"
    assert run("mail", "templates", *PATHS, "--templates", str(templates), "--outbox", str(outbox)) == 0
    mailed = [u for u in roster if u.email][:3]
    batch = [Draft("templates", u, ("annex1", "annex2"), outbox / "mail" / "templates" / f"{u.code}_{u.name}.eml",
                   f"test:{u.code}", SUBJECT, ()) for u in mailed]
    settings = smtp_settings({**os.environ, "SMTP_PAUSE": "2.5"}, campaign)
    pauses: list[float] = []

    result = send_drafts(batch, settings, outbox / "ledger.sqlite", echo=lambda _: None, sleep=pauses.append)

    assert len(result.sent) == 3 and pauses == [2.5, 2.5]


# ----------------------------------------------------------------------------- mail reminders / feedback


def test_reminders_go_to_exactly_the_missing_and_returned_forms(
    tmp_path: Path, templates: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One 催报 draft per unit that owes something, attaching each 未报送 form's template and each 退回 form's feedback."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    annex1, annex2 = forms["annex1"], forms["annex2"]
    submit(templates, inbox, annex1, campaign, unit(roster, "U001"))
    submit(templates, inbox, annex2, campaign, unit(roster, "U001"))
    submit(templates, inbox, annex1, campaign, unit(roster, "U002"), s1_center_study_times="二十多")
    submit(templates, inbox, annex2, campaign, unit(roster, "U003"))

    assert run("mail", "reminders", *PATHS, "--templates", str(templates), "--inbox", str(inbox),
               "--outbox", str(outbox)) == 0

    expected: dict[str, set[Path]] = {}
    for u in roster:
        if not u.email or u.code == "U001":
            continue
        owed = set()
        for spec in (annex2, annex1):
            if u.code == "U003" and spec is annex2:
                continue
            if u.code == "U002" and spec is annex1:
                name = template_name(spec, u).removesuffix(".xlsx") + "_审核反馈.xlsx"
                owed.add(outbox / FEEDBACK_DIR / name)
            else:
                owed.add(templates / template_name(spec, u))
        expected[f"{u.code}_{u.name}.eml"] = owed
    found = drafts(outbox / "mail" / "reminders")
    assert sorted(found) == sorted(expected)
    for name, msg in found.items():
        assert attachments(msg) == {p.name: p.read_bytes() for p in expected[name]}
    mixed = found[f"U002_{unit(roster, 'U002').name}.eml"]
    assert mixed["Subject"] == "关于催报及退回修改2023年“安全生产月”有关报送事项的通知"
    body = mixed.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "一、附件2《2023年“安全生产月”活动联络员表》未报送。" in text
    assert "二、附件1《“安全生产月”活动情况统计表》（文件“" in text
    where = build_layout(forms["annex1"], campaign.year).address("s1_center_study_times")  # the template's own cell
    assert f"1.【错误】单元格 {where}（理论学习中心组学习·次数），所填内容“二十多”" in text
    assert "于2023年6月30日前重新报送。" in text
    assert "各单位应于2023年5月29日前报送附件2《2023年“安全生产月”活动联络员表》，现已逾期。" in text
    assert "截至2023年5月31日" in text
    missing = found[f"U003_{unit(roster, 'U003').name}.eml"]
    assert missing["Subject"] == "关于催报2023年“安全生产月”活动情况统计表的通知"
    missing_body = missing.get_body(("plain",))
    assert missing_body is not None
    assert "在截止日期前将原文件直接作为附件发回本邮箱" in missing_body.get_content()
    assert "已过" not in missing_body.get_content()
    both = found[f"U004_{unit(roster, 'U004').name}.eml"]
    assert both["Subject"] == "关于催报2023年“安全生产月”活动情况统计表及联络员表的通知"
    out = capsys.readouterr().out
    owed_items = sum(len(v) for v in expected.values())
    assert (f"催报邮件草稿已生成 {len(expected)} 封（每个单位一封，共列出未报送 {owed_items - 1} 项、退回 1 项）"
            in out)
    assert "U013 清河县清水河大桥新建工程项目部（附件1 未报送）：缺少邮箱，需另行送达" in out


def test_every_reminder_draft_parses_with_notice_headers(
    tmp_path: Path, templates: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After the deadlines each draft parses back: one per unit, Date in +08:00, X-Unsent, both file-name forms, year-dated text."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(dt.datetime(2023, 7, 5, tzinfo=dt.UTC).timestamp())))
    monkeypatch.setenv("TZ", "America/New_York")  # the machine's own zone must not leak into the Date
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    submit(templates, inbox, forms["annex1"], campaign, unit(roster, "U002"), s1_center_study_times="二十多")
    submit(templates, inbox, forms["annex2"], campaign, unit(roster, "U002"), mobile="123")

    assert run("mail", "reminders", *PATHS, "--templates", str(templates), "--inbox", str(inbox),
               "--outbox", str(outbox)) == 0

    folder = outbox / "mail" / "reminders"
    raws = {p.name: p.read_bytes() for p in sorted(folder.glob("*.eml"))}
    recipients = [parseaddr(header(raw, "To"))[1] for raw in raws.values()]
    assert sorted(recipients) == sorted(u.email for u in roster if u.email), "exactly one draft per unit"
    for raw in raws.values():
        msg = parse(raw)
        assert msg["X-Unsent"] == "1"
        assert parsedate_to_datetime(str(msg["Date"])).utcoffset() == dt.timedelta(hours=8)
        body = msg.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert "截至2023年7月5日" in text
        assert "报送截止日期为" not in text, "no deadline stated as still to come once it has passed"
        assert text.count("已过") + text.count("现已逾期") >= 1
        legacy = email.message_from_bytes(raw, policy=email.policy.compat32)
        for part in legacy.walk():
            if part.get_content_disposition() != "attachment":
                continue
            params = part.get_params(header="content-disposition")
            assert params is not None
            [encoded] = [v for k, v in params if k == "filename" and isinstance(v, tuple)]  # filename*=utf-8''…
            [plain] = [v for k, v in params if k == "filename" and isinstance(v, str)]
            assert encoded[0] == "utf-8", "RFC 2231 filename*"
            name = email.utils.collapse_rfc2231_value(encoded)
            assert name.endswith(".xlsx") and not name.isascii()
            for value in (part.get_param("name"), plain):
                assert isinstance(value, str) and value.startswith("=?utf-8?b?"), "RFC 2047 name and filename"
                assert str(make_header(decode_header(value))) == name
    u002 = parse(raws[f"U002_{unit(roster, 'U002').name}.eml"])
    assert u002["Subject"] == "关于催报及退回修改2023年“安全生产月”有关报送事项的通知"
    assert len(attachments(u002)) == 2
    u002_body = u002.get_body(("plain",))
    assert u002_body is not None
    assert "三、2023年“安全生产月”活动总结未报送。" in u002_body.get_content()


def test_feedback_mail_goes_to_warned_units_with_their_feedback_workbook(
    tmp_path: Path, templates: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
) -> None:
    """`mail feedback` drafts one message per form that passed with warnings, attaching its feedback workbook."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    submit(templates, inbox, forms["annex1"], campaign, unit(roster, "U004"), s1_center_study_people="约20")
    submit(templates, inbox, forms["annex1"], campaign, unit(roster, "U005"), s1_center_study_times="二十多")
    submit(templates, inbox, forms["annex2"], campaign, unit(roster, "U005"))

    assert run("mail", "feedback", *PATHS, "--templates", str(templates), "--inbox", str(inbox),
               "--outbox", str(outbox)) == 0

    u004 = unit(roster, "U004")
    found = drafts(outbox / "mail" / "feedback")
    assert list(found) == [f"U004_{u004.name}.eml"]
    msg = found[f"U004_{u004.name}.eml"]
    assert msg["Subject"] == "关于核实2023年“安全生产月”活动情况统计表有关情况的通知"
    workbook = outbox / FEEDBACK_DIR / (template_name(forms["annex1"], u004).removesuffix(".xlsx") + "_审核反馈.xlsx")
    assert attachments(msg) == {workbook.name: workbook.read_bytes()}


def test_reminders_need_an_existing_inbox(
    tmp_path: Path, templates: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mistyped --inbox stops the reminders (which would otherwise go to every unit) with a Chinese error."""
    code = run("mail", "reminders", *PATHS, "--templates", str(templates), "--inbox", str(tmp_path / "nope"),
               "--outbox", str(tmp_path / "outbox"))

    assert code == 2
    assert "来件目录" in capsys.readouterr().err


def test_reminder_before_and_after_the_deadline_are_different_messages(
    tmp_path: Path, templates: Path, roster: Roster, smtp: Mailbox, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A unit's 未报送 reminder is sent once before the deadline and once after it, never more, without X-Unsent."""
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    inbox.mkdir()
    args = ("mail", "reminders", *PATHS, "--templates", str(templates), "--inbox", str(inbox),
            "--outbox", str(outbox), "--send")
    mailed = [u for u in roster if u.email]

    assert run(*args) == 0  # 2023-05-31: 附件2 is overdue, 附件1 not yet: one message per unit for both
    assert run(*args) == 0
    assert len(smtp.received) == len(mailed)

    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(dt.datetime(2023, 7, 5, tzinfo=dt.UTC).timestamp())))
    assert run(*args) == 0
    assert run(*args) == 0

    assert len(smtp.received) == 2 * len(mailed), "附件1 now overdue is a new matter: one more message each, once"
    for delivery in smtp.received:
        assert parse(delivery.content)["X-Unsent"] is None, "a message actually sent is not marked unsent"


def test_refused_login_stops_before_anything_is_sent(
    tmp_path: Path, templates: Path, smtp: Mailbox, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A wrong SMTP_PASSWORD (or a login the open server does not offer) is one Chinese error, and nothing is sent."""
    monkeypatch.setenv("SMTP_USER", "bureau")
    monkeypatch.setenv("SMTP_PASSWORD", "wrong")

    code = run("mail", "templates", *PATHS, "--templates", str(templates), "--outbox", str(tmp_path / "outbox"),
               "--send")

    assert code == 2
    err = capsys.readouterr().err
    assert ("拒绝登录" if smtp.login else "不提供登录") in err
    assert "SMTP_USER" in err and "SMTP_PASSWORD" in err
    assert smtp.received == []
