"""``python -m pipeline fetch`` against a real Dovecot: read-only, nothing twice, identity and time reach the rollup."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator, Sequence
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
import returns
from dovecot import USER, Dovecot, dovecot_path, running_dovecot
from imapclient import IMAPClient

from pipeline.cli import main
from pipeline.errors import CampaignError, PipelineError
from pipeline.fetch import FetchReport, ImapSettings, fetch_to_inbox, imap_settings, summary_lines
from pipeline.model import Outcome
from pipeline.settings.campaign import Campaign, load_campaign
from pipeline.settings.roster import Roster, load_roster
from pipeline.store.ledger import LEDGER_NAME, Ledger

CHINA = dt.timezone(dt.timedelta(hours=8))
BUREAU = "yqjt6623055@163.com"


# ---------------------------------------------------------------- fixtures


def _require_dovecot() -> None:
    if dovecot_path() is None:
        why = "dovecot not found (install dovecot-imapd)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, so the IMAP tests must run, but {why}", pytrace=False)
        pytest.skip(why)


@pytest.fixture
def server() -> Iterator[Dovecot]:
    """A private plain-text Dovecot; mandatory (a failure, not a skip) when CI is "true"."""
    _require_dovecot()
    with running_dovecot() as running:
        yield running


@pytest.fixture
def tls_server() -> Iterator[Dovecot]:
    """A private Dovecot with TLS on a self-signed certificate (implicit TLS port and STARTTLS)."""
    _require_dovecot()
    if shutil.which("openssl") is None:
        pytest.skip("openssl not found")
    with running_dovecot(tls=True) as running:
        yield running


@pytest.fixture
def roster_file(tmp_path: Path) -> Path:
    """The repository's roster with U002 given a second, mixed-case address after a full-width “；”."""
    text = returns.UNITS_CSV.read_text(encoding="utf-8").replace(
        "u002@example.com", "u002@example.com；Station2@Example.COM")
    path = tmp_path / "units.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def roster(roster_file: Path) -> Roster:
    """The roster of :func:`roster_file`."""
    return load_roster(roster_file)


def _campaign(tmp_path: Path, **fetch: int) -> Campaign:
    """The repository's campaign with the [fetch] caps replaced."""
    text = returns.CAMPAIGN_TOML.read_text(encoding="utf-8")
    head, _, _ = text.partition("\n[fetch]")
    path = tmp_path / "campaign.toml"
    path.write_text(head + "\n[fetch]\n" + "".join(f"{k} = {v}\n" for k, v in fetch.items()), encoding="utf-8")
    return load_campaign(path)


# ---------------------------------------------------------------- messages


def mail(sender: str, subject: str, date: dt.datetime, attachments: Sequence[tuple[str, bytes, str]] = (), *,
         message_id: str | None = None, forwarded: Message | None = None, body: str = "请查收。") -> bytes:
    """A message as a unit's mail client would send it; each attachment named in the given style:
    ``2231`` (filename*=gbk''…), ``2047`` (an encoded word inside the quotes) or ``gbk`` (raw GBK bytes)."""
    outer = MIMEMultipart()
    outer["From"] = sender
    outer["To"] = BUREAU
    outer["Subject"] = Header(subject, "utf-8")
    outer["Date"] = format_datetime(date)
    outer["Message-ID"] = message_id or make_msgid(domain="example.com")
    outer.attach(MIMEText(body, "plain", "utf-8"))
    raw_names: dict[bytes, bytes] = {}
    for index, (name, data, style) in enumerate(attachments):
        part = MIMEApplication(data)
        if style == "2231":
            part.add_header("Content-Disposition", "attachment", filename=("gbk", "", name))
        elif style == "2047":
            encoded = Header(name, "gbk").encode(maxlinelen=998)
            part.add_header("Content-Disposition", f'attachment; filename="{encoded}"')
        else:
            token = f"RAWNAME{index}X"
            part.add_header("Content-Disposition", "attachment", filename=token)
            raw_names[token.encode()] = name.encode("gbk")
        outer.attach(part)
    if forwarded is not None:
        wrapper = MIMEMessage(forwarded)
        wrapper.add_header("Content-Disposition", "attachment", filename="转发邮件.eml")
        outer.attach(wrapper)
    raw = outer.as_bytes()
    for token, name_bytes in raw_names.items():
        raw = raw.replace(token, name_bytes)
    return raw


def _settings(server: Dovecot, security: str = "none") -> ImapSettings:
    return imap_settings(server.environ(security))


def _fetch(server: Dovecot, tmp_path: Path, roster: Roster, campaign: Campaign | None = None) -> FetchReport:
    return fetch_to_inbox(_settings(server), campaign or _campaign(tmp_path), roster, tmp_path / "inbox",
                          tmp_path / "outbox" / LEDGER_NAME)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _day(when: dt.datetime) -> str:
    """The folder fetch files a mail under: the mail's date in the local time of the machine."""
    return when.astimezone().date().isoformat()


def _imap_flags(server: Dovecot) -> dict[bytes, tuple[bytes, ...]]:
    """Every message's flags as IMAP reports them (Message-ID → flags), leaving out the per-session \\Recent."""
    client = IMAPClient("127.0.0.1", server.port, ssl=False)
    try:
        client.login(USER, server.environ()["IMAP_PASSWORD"])
        client.select_folder("INBOX", readonly=True)
        items = client.fetch(client.search("ALL"), ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    finally:
        client.logout()
    return {item[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].strip(): tuple(f for f in item[b"FLAGS"] if f != b"\\Recent")
            for item in items.values()}


def _annex(tmp_path: Path, form_id: str, code: str | None, **values: object) -> bytes:
    folder = tmp_path / "made" / f"{form_id}-{code}-{len(values)}"
    path = returns.make_return(folder, form_id, code, returns.clean_values(form_id, **values))
    return path.read_bytes()


# ---------------------------------------------------------------- fetching


def test_first_fetch_saves_each_attachment_by_date_and_unit(server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """Names in RFC 2231, RFC 2047 and raw GBK are decoded; files go to 邮件/<date>/<unit>/ with the .eml and the mail's time."""
    when = dt.datetime(2023, 6, 28, 10, 15, tzinfo=CHINA)
    files = [("附件1_清河县顺达货物运输有限公司.xlsx", b"one", "2231"), ("活动总结（顺达）.docx", b"two", "2047"),
             ("现场照片 喆.jpg", b"three", "gbk")]
    server.deliver(mail("李明 <U001@example.com>", "报送安全生产月报表", when, files))
    report = _fetch(server, tmp_path, roster)
    folder = tmp_path / "inbox" / "邮件" / _day(when) / "U001_清河县顺达货物运输有限公司"
    saved = _tree(folder)
    for name, data, _style in files:
        assert saved[name] == data
        assert (folder / name).stat().st_mtime == when.timestamp()
    eml = [name for name in saved if name.endswith(".eml")]
    assert len(eml) == 1 and b"Subject:" in saved[eml[0]]
    assert len(saved) == len(files) + 1
    assert (report.seen, report.new, sum(map(len, report.saved.values()))) == (1, 1, len(files))


def test_second_fetch_saves_nothing(server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """Fetching again finds every message already in the ledger and writes no file."""
    server.deliver(mail("u001@example.com", "附件1", dt.datetime(2023, 6, 28, 10, tzinfo=CHINA),
                        [("附件1.xlsx", b"x", "2231")]))
    server.deliver(mail("u004@example.com", "正文报送", dt.datetime(2023, 6, 28, 11, tzinfo=CHINA),
                        body="宣传活动 3 场"))
    _fetch(server, tmp_path, roster)
    before = _tree(tmp_path / "inbox")
    again = _fetch(server, tmp_path, roster)
    assert _tree(tmp_path / "inbox") == before
    assert (again.seen, again.known, again.new, again.saved, again.no_attachments) == (2, 2, 0, {}, [])


def test_one_new_mail_is_the_only_one_saved(server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """After a fetch, one newly delivered mail is fetched alone; a same-named file gets a suffix, never overwrites."""
    when = dt.datetime(2023, 6, 28, 10, tzinfo=CHINA)
    server.deliver(mail("u001@example.com", "附件1", when, [("附件1.xlsx", b"first", "2231")]))
    _fetch(server, tmp_path, roster)
    before = _tree(tmp_path / "inbox")
    server.deliver(mail("u001@example.com", "附件1（更正）", when + dt.timedelta(hours=2),
                        [("附件1.xlsx", b"second", "2231")]))
    report = _fetch(server, tmp_path, roster)
    after = _tree(tmp_path / "inbox")
    assert (report.known, report.new) == (1, 1)
    assert {k: v for k, v in after.items() if k in before} == before
    added = {k: v for k, v in after.items() if k not in before}
    folder = f"邮件/{_day(when)}/U001_清河县顺达货物运输有限公司"
    assert added[f"{folder}/附件1 (2).xlsx"] == b"second"
    assert len(added) == 2  # the attachment and its .eml


def test_same_message_id_under_another_uid_is_not_saved_again(server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """A message copied in the mailbox (new UID, same Message-ID) is recognised and not saved twice."""
    raw = mail("u001@example.com", "附件1", dt.datetime(2023, 6, 28, 10, tzinfo=CHINA), [("附件1.xlsx", b"x", "2231")])
    server.deliver(raw)
    _fetch(server, tmp_path, roster)
    before = _tree(tmp_path / "inbox")
    server.deliver(raw)
    report = _fetch(server, tmp_path, roster)
    assert _tree(tmp_path / "inbox") == before
    assert report.new == 1 and len(report.duplicates) == 1


def test_unknown_sender_is_saved_under_the_address(server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """A sender not on the roster still gets its attachments saved, in a folder named after the address, and listed."""
    when = dt.datetime(2023, 6, 28, 10, tzinfo=CHINA)
    server.deliver(mail("Someone <Stranger@Other.cn>", "转报", when, [("附件1.xlsx", b"x", "gbk")]))
    report = _fetch(server, tmp_path, roster)
    assert (tmp_path / "inbox" / "邮件" / _day(when) / "stranger@other.cn" / "附件1.xlsx").read_bytes() == b"x"
    assert dict(report.unknown_senders) == {"stranger@other.cn": 1}
    assert any("stranger@other.cn" in line and "1 封" in line for line in summary_lines(report, tmp_path))


def test_second_roster_address_in_another_case_identifies_the_unit(server: Dovecot, tmp_path: Path,
                                                                   roster: Roster) -> None:
    """The second address of a unit (after “；”), written in another case, is that unit."""
    when = dt.datetime(2023, 6, 28, 10, tzinfo=CHINA)
    server.deliver(mail("station2@example.com", "附件2", when, [("附件2.xlsx", b"x", "2231")]))
    report = _fetch(server, tmp_path, roster)
    assert (tmp_path / "inbox" / "邮件" / _day(when) / "U002_清河县恒通物流运输有限公司" / "附件2.xlsx").is_file()
    assert not report.unknown_senders


def test_oversized_message_is_refused_and_listed_each_run(server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """A message over max_message_mb is not downloaded; it is listed with the cap, now and on the next run."""
    campaign = _campaign(tmp_path, max_message_mb=1)
    when = dt.datetime(2023, 6, 28, 10, tzinfo=CHINA)
    server.deliver(mail("u001@example.com", "视频材料", when, [("演练视频.mp4", os.urandom(1_300_000), "2231")]))
    server.deliver(mail("u003@example.com", "附件1", when, [("附件1.xlsx", b"x", "2231")]))
    report = _fetch(server, tmp_path, roster, campaign)
    saved = _tree(tmp_path / "inbox")
    assert not any(name.endswith(".mp4") for name in saved)
    assert any(name.endswith("/附件1.xlsx") for name in saved)
    assert len(report.refused) == 1 and "max_message_mb" in report.refused[0].reason
    assert report.refused[0].subject == "视频材料"
    again = _fetch(server, tmp_path, roster, campaign)
    assert [s.subject for s in again.refused] == ["视频材料"]


def test_too_many_attachments_are_refused(server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """A message with more attachments than max_attachments (forwarded ones counted) saves nothing."""
    campaign = _campaign(tmp_path, max_attachments=2)
    when = dt.datetime(2023, 6, 28, 10, tzinfo=CHINA)
    inner = MIMEMultipart()
    inner["Subject"] = "原邮件"
    inner.attach(MIMEApplication(b"c", Name="c.pdf"))
    inner.get_payload()[0].add_header("Content-Disposition", "attachment", filename="c.pdf")
    server.deliver(mail("u001@example.com", "三个附件", when, [("a.pdf", b"a", "2231"), ("b.pdf", b"b", "2047")],
                        forwarded=inner))
    report = _fetch(server, tmp_path, roster, campaign)
    assert not (tmp_path / "inbox").exists() or not _tree(tmp_path / "inbox")
    assert len(report.refused) == 1 and "附件 3 个" in report.refused[0].reason


def test_malformed_message_is_skipped_and_the_run_goes_on(server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """A message whose multipart boundary never appears is reported and skipped; the next one is still saved."""
    broken = (b"From: u005@example.com\nTo: " + BUREAU.encode() + b"\nSubject: broken\n"
              b"Date: Wed, 28 Jun 2023 10:00:00 +0800\nMessage-ID: <broken@example.com>\nMIME-Version: 1.0\n"
              b'Content-Type: multipart/mixed; boundary="NEVER"\n\nno parts here at all\n')
    server.deliver(broken)
    server.deliver(mail("u006@example.com", "附件1", dt.datetime(2023, 6, 28, 11, tzinfo=CHINA),
                        [("附件1.xlsx", b"x", "2231")]))
    report = _fetch(server, tmp_path, roster)
    assert [s.subject for s in report.refused] == ["broken"]
    assert "分段边界" in report.refused[0].reason
    assert [name for name in _tree(tmp_path / "inbox") if name.endswith(".xlsx")] == [
        f"邮件/{_day(dt.datetime(2023, 6, 28, 11, tzinfo=CHINA))}/U006_清河县通达旅游客运有限公司/附件1.xlsx"]


def test_forwarded_message_attachments_are_saved(server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """Attachments of a message/rfc822 part (a forwarded mail) are saved like direct ones."""
    inner = MIMEMultipart()
    inner["Subject"] = Header("附件2报送", "utf-8")
    part = MIMEApplication(b"inner-bytes")
    part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", "附件2_联络员.xlsx"))
    inner.attach(part)
    when = dt.datetime(2023, 5, 26, 9, tzinfo=CHINA)
    server.deliver(mail("u001@example.com", "转发：附件2", when, forwarded=inner))
    _fetch(server, tmp_path, roster)
    folder = tmp_path / "inbox" / "邮件" / _day(when) / "U001_清河县顺达货物运输有限公司"
    assert (folder / "附件2_联络员.xlsx").read_bytes() == b"inner-bytes"


def test_mailbox_is_unchanged(server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """After two fetches the mailbox holds the same messages with the same flags (none gets \\Seen)."""
    when = dt.datetime(2023, 6, 28, 10, tzinfo=CHINA)
    server.deliver(mail("u001@example.com", "附件1", when, [("附件1.xlsx", b"x", "2231")]))
    server.deliver(mail("u002@example.com", "正文", when, body="无附件"))
    server.deliver(b"From: u005@example.com\nSubject: broken\nMIME-Version: 1.0\n"
                   b'Content-Type: multipart/mixed; boundary="NEVER"\n\nnothing\n')
    files, flags = server.snapshot(), _imap_flags(server)
    assert set(flags.values()) == {()}
    _fetch(server, tmp_path, roster)
    _fetch(server, tmp_path, roster)
    assert server.snapshot() == files
    assert _imap_flags(server) == flags


def test_tls_and_starttls_with_a_private_certificate(tls_server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """Implicit TLS and STARTTLS both work when IMAP_CAFILE names the server's certificate."""
    tls_server.deliver(mail("u001@example.com", "附件1", dt.datetime(2023, 6, 28, 10, tzinfo=CHINA),
                            [("附件1.xlsx", b"x", "2231")]))
    first = fetch_to_inbox(_settings(tls_server, "ssl"), _campaign(tmp_path), roster, tmp_path / "a",
                           tmp_path / "a.sqlite")
    second = fetch_to_inbox(_settings(tls_server, "starttls"), _campaign(tmp_path), roster, tmp_path / "b",
                            tmp_path / "b.sqlite")
    assert _tree(tmp_path / "a") and _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert first.new == second.new == 1


def test_untrusted_certificate_is_refused(tls_server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """Without IMAP_CAFILE a self-signed server is refused with a Chinese message about the certificate."""
    env = tls_server.environ("ssl")
    del env["IMAP_CAFILE"]
    with pytest.raises(PipelineError, match="加密连接失败"):
        fetch_to_inbox(imap_settings(env), _campaign(tmp_path), roster, tmp_path / "inbox", tmp_path / "l.sqlite")


def test_wrong_password_names_the_settings(server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """A refused login says which variables to check and mentions the 授权码."""
    env = {**server.environ(), "IMAP_PASSWORD": "wrong"}
    with pytest.raises(PipelineError, match=r"IMAP_PASSWORD.*授权码"):
        fetch_to_inbox(imap_settings(env), _campaign(tmp_path), roster, tmp_path / "inbox", tmp_path / "l.sqlite")


def test_since_leaves_older_mail_alone(server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """Only messages received on or after --since are read (the server's received date decides)."""
    old = server.deliver(mail("u001@example.com", "去年", dt.datetime(2022, 6, 1, 10, tzinfo=CHINA),
                              [("old.xlsx", b"x", "2231")]))
    stamp = dt.datetime(2022, 6, 1, 10, tzinfo=CHINA).timestamp()
    os.utime(old, (stamp, stamp))  # Maildir: the file time is the received date
    server.deliver(mail("u001@example.com", "今年", dt.datetime(2023, 6, 1, 10, tzinfo=CHINA),
                        [("new.xlsx", b"y", "2231")]))
    report = fetch_to_inbox(_settings(server), _campaign(tmp_path), roster, tmp_path / "inbox",
                            tmp_path / "l.sqlite", since=dt.date(2023, 1, 1))
    assert report.seen == 1
    assert [Path(n).name for n in _tree(tmp_path / "inbox") if not n.endswith(".eml")] == ["new.xlsx"]


# ---------------------------------------------------------------- settings


def test_imap_settings_require_host_user_and_password() -> None:
    """Without IMAP_HOST/USER/PASSWORD the message lists every variable to set."""
    with pytest.raises(PipelineError, match=r"IMAP_HOST.*IMAP_USER.*IMAP_PASSWORD"):
        imap_settings({"IMAP_HOST": "imap.163.com"})


def test_imap_settings_defaults_and_checks() -> None:
    """ssl on 993 and INBOX by default; a bad security or port is named."""
    got = imap_settings({"IMAP_HOST": "imap.163.com", "IMAP_USER": "a@163.com", "IMAP_PASSWORD": "x"})
    assert (got.security, got.port, got.folder) == ("ssl", 993, "INBOX")
    with pytest.raises(PipelineError, match="IMAP_SECURITY"):
        imap_settings({"IMAP_HOST": "h", "IMAP_USER": "u", "IMAP_PASSWORD": "p", "IMAP_SECURITY": "tls"})
    with pytest.raises(PipelineError, match="IMAP_PORT"):
        imap_settings({"IMAP_HOST": "h", "IMAP_USER": "u", "IMAP_PASSWORD": "p", "IMAP_PORT": "99999"})


def test_fetch_caps_are_checked(tmp_path: Path) -> None:
    """[fetch] takes positive whole numbers and a date; anything else names the key."""
    assert _campaign(tmp_path, max_message_mb=7).fetch.max_message_mb == 7
    with pytest.raises(CampaignError, match="max_attachments"):
        _campaign(tmp_path, max_attachments=0)
    with pytest.raises(CampaignError, match="max_mb"):
        _campaign(tmp_path, max_mb=3)
    text = returns.CAMPAIGN_TOML.read_text(encoding="utf-8").partition("\n[fetch]")[0]
    (tmp_path / "c.toml").write_text(text + '\n[fetch]\nsince = "May"\n', encoding="utf-8")
    with pytest.raises(CampaignError, match="since"):
        load_campaign(tmp_path / "c.toml")


def test_default_since_is_before_the_earliest_deadline(tmp_path: Path) -> None:
    """Without [fetch] since, mail is read from 30 days before the earliest deadline (附件2's, before the start)."""
    campaign = _campaign(tmp_path)
    earliest = min(campaign.deadlines.values())
    assert campaign.fetch_since == earliest - dt.timedelta(days=30)
    assert campaign.fetch_since < campaign.start


# ---------------------------------------------------------------- end to end


def _without_file(rows: dict[tuple[str, str], dict[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
    """status.csv rows without the file column and with the arrival day but not its source (where the file lies,
    and so whether its day comes from a date folder or the file's time, differs by design)."""
    return {key: {c: v.split("（")[0] if c == "arrival" else v for c, v in row.items() if c != "file"}
            for key, row in rows.items()}


@pytest.mark.slow
def test_fetch_then_rollup_matches_hand_filing(server: Dovecot, tmp_path: Path, roster_file: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`fetch` then `rollup` gives each unit the status a clerk's hand-saved files give, with 附件2 on time by mail date."""
    plan = [  # sender, mail date, [(form, unit code, name style)]
        ("u001@example.com", dt.datetime(2023, 5, 26, 10, tzinfo=CHINA), [("annex2", "U001", "2231")]),
        ("Station2@Example.COM", dt.datetime(2023, 6, 2, 10, tzinfo=CHINA), [("annex2", "U002", "2047")]),
        ("u003@example.com", dt.datetime(2023, 6, 28, 10, tzinfo=CHINA),
         [("annex1", "U003", "gbk"), ("annex2", "U003", "2231")]),
        ("stranger@other.cn", dt.datetime(2023, 5, 29, 10, tzinfo=CHINA), [("annex2", "U004", "2231")]),
    ]
    hand = tmp_path / "hand"
    hand.mkdir()
    for sender, when, items in plan:
        files = []
        for form_id, code, style in items:
            data = _annex(tmp_path, form_id, code)
            name = f"{'附件1' if form_id == 'annex1' else '附件2'}_{code}.xlsx"
            files.append((name, data, style))
            (hand / name).write_bytes(data)  # the clerk saves the attachment, keeping the mail's time
            os.utime(hand / name, (when.timestamp(), when.timestamp()))
        server.deliver(mail(sender, "报送", when, files))
    server.deliver(mail("u005@example.com", "报送数据", dt.datetime(2023, 6, 28, 10, tzinfo=CHINA), body="宣传 3 场"))
    for key, value in server.environ().items():
        monkeypatch.setenv(key, value)
    paths = ["--campaign", str(_campaign(tmp_path).path), "--roster", str(roster_file)]
    assert main(["fetch", *paths, "--inbox", str(tmp_path / "inbox"), "--outbox", str(tmp_path / "out")]) == 0
    assert main(["rollup", *paths, "--inbox", str(tmp_path / "inbox"), "--outbox", str(tmp_path / "out")]) == 0
    assert main(["rollup", *paths, "--inbox", str(hand), "--outbox", str(tmp_path / "hand-out")]) == 0

    fetched, by_hand = returns.statuses(tmp_path / "out"), returns.statuses(tmp_path / "hand-out")
    assert _without_file(fetched) == _without_file(by_hand)
    assert returns.read_csv(tmp_path / "out" / "records.csv") == returns.read_csv(tmp_path / "hand-out" / "records.csv")
    # 附件2 has no 填报日期: the mail's date decides, against the deadline in campaign.toml.
    due = _campaign(tmp_path).deadlines["annex2_due"]
    for _sender, when, items in plan:
        for form_id, code, _style in items:
            row = fetched[(code, form_id)]
            assert row["status"] == "已通过", row
            if form_id == "annex2":
                assert row["on_time"] == ("是" if when.astimezone().date() <= due else "否"), row
    assert fetched[("U002", "annex2")]["on_time"] == "否" and fetched[("U001", "annex2")]["on_time"] == "是"
    assert fetched[("U004", "annex2")]["file"].startswith(f"邮件/{_day(plan[3][1])}/stranger@other.cn/")


@pytest.mark.slow
def test_folder_names_the_unit_when_the_form_does_not(server: Dovecot, tmp_path: Path, roster_file: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A generic 附件2 with 单位名称 left blank, mailed from U003's address, is U003's (by its folder) and counts,
    where saved loose in inbox/ it belongs to no unit and U003 stays 未报送."""
    when = dt.datetime(2023, 5, 27, 10, tzinfo=CHINA)
    data = _annex(tmp_path, "annex2", None)  # the generic template: no unit code, name blank
    server.deliver(mail("u003@example.com", "附件2", when, [("附件2.xlsx", data, "2231")]))
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "附件2.xlsx").write_bytes(data)
    for key, value in server.environ().items():
        monkeypatch.setenv(key, value)
    paths = ["--campaign", str(_campaign(tmp_path).path), "--roster", str(roster_file)]
    fetched = [*paths, "--inbox", str(tmp_path / "inbox"), "--outbox", str(tmp_path / "out")]
    assert main(["fetch", *fetched]) == 0
    assert main(["rollup", *fetched]) == 0
    assert main(["rollup", *paths, "--inbox", str(tmp_path / "loose"), "--outbox", str(tmp_path / "loose-out")]) == 0
    row = returns.statuses(tmp_path / "out")[("U003", "annex2")]
    assert (row["status"], row["on_time"]) == ("已通过", "是")
    issues = returns.read_csv(tmp_path / "out" / "issues.csv")
    assert [(i["unit_code"], i["field_id"], i["rule"]) for i in issues if i["unit_code"] == "U003"] == []
    assert returns.statuses(tmp_path / "loose-out")[("U003", "annex2")]["status"] == "未报送"
    kept = [r for r in returns.read_csv(tmp_path / "out" / "files.csv") if r["file"].endswith(".eml")]
    assert [r["outcome"] for r in kept] == [Outcome.IGNORED]


def test_ledger_keys_survive_a_new_ledger_object(tmp_path: Path) -> None:
    """The ledger answers by UIDVALIDITY+UID and by Message-ID after being closed and opened again."""
    path = tmp_path / LEDGER_NAME
    with Ledger(path) as ledger:
        ledger.record_fetch("clerk@host/INBOX", 7, 3, "<a@b>", "saved", ["邮件/x/a.xlsx", "邮件/x/邮件原文.eml"],
                            kept=("邮件/x/邮件原文.eml", "d1"), digest="d1")
    with Ledger(path) as ledger:
        assert ledger.fetched_uids("clerk@host/INBOX", 7) == {3}
        assert ledger.fetched_uids("clerk@host/INBOX", 8) == set()  # a new UIDVALIDITY: UIDs mean other messages
        assert ledger.fetched_message("<a@b>", "d1") is not None
        assert ledger.fetched_message("<a@b>", "d2") is None  # the Message-ID reused for other bytes
        assert ledger.fetched_message("<c@d>", "d1") is None
        assert ledger.kept_mail() == {"邮件/x/邮件原文.eml": "d1"}


def test_a_ledger_from_before_digests_still_answers(tmp_path: Path) -> None:
    """A ledger whose fetched_mail has no sha256 column gains it; its old rows match by Message-ID and saved path."""
    import sqlite3

    path = tmp_path / LEDGER_NAME
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE fetched_mail (mailbox TEXT NOT NULL, uidvalidity INTEGER NOT NULL, uid INTEGER NOT NULL,"
                   " message_id TEXT NOT NULL, fetched_at TEXT NOT NULL, outcome TEXT NOT NULL,"
                   " saved TEXT NOT NULL DEFAULT '', PRIMARY KEY (mailbox, uidvalidity, uid))")
        db.execute("INSERT INTO fetched_mail VALUES ('b', 1, 1, '<a@b>', '2023-06-28 10:00:00', 'saved',"
                   " '邮件/x/a.xlsx\n邮件/x/邮件原文_100000.eml')")
    db.close()
    with Ledger(path) as ledger:
        assert ledger.fetched_message("<a@b>", "any") == "2023-06-28 10:00:00"
        assert ledger.kept_mail() == {"邮件/x/邮件原文_100000.eml": ""}


def _without_date(raw: bytes) -> bytes:
    head, sep, body = raw.partition(b"\n\n")
    return b"\n".join(line for line in head.split(b"\n") if not line.lower().startswith(b"date:")) + sep + body


def test_absurd_or_missing_dates_never_stop_the_fetch(server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """Dates of year 9999 −1200, year 1 or none at all: every mail is saved, under the day the server received it."""
    received = dt.datetime(2023, 6, 28, 9, 30, tzinfo=CHINA)
    odd = {
        "9999": mail("u001@example.com", "9999", dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.timezone(-dt.timedelta(hours=12))),
                     [("a.xlsx", b"a", "2231")]),
        "none": _without_date(mail("u002@example.com", "none", received, [("b.xlsx", b"b", "2231")])),
        "garbage": mail("u003@example.com", "garbage", received, [("c.xlsx", b"c", "2231")]).replace(
            format_datetime(received).encode(), b"Mon, 32 Foo 0001 99:99:99 -9999"),
    }
    for raw in odd.values():
        server.deliver(raw, received)
    report = _fetch(server, tmp_path, roster)
    saved = _tree(tmp_path / "inbox")
    for name in ("a.xlsx", "b.xlsx", "c.xlsx"):
        found = [path for path in saved if path.endswith("/" + name)]
        assert len(found) == 1 and found[0].startswith(f"邮件/{_day(received)}/"), found
        assert (tmp_path / "inbox" / found[0]).stat().st_mtime == received.timestamp()
    assert report.new == 3 and not report.refused


def test_arrival_is_the_servers_received_time(server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """A mail dated 06-20 by its sender but received on 06-29 is filed under 06-29, with that time on its files."""
    sent, received = dt.datetime(2023, 6, 20, 10, tzinfo=CHINA), dt.datetime(2023, 6, 29, 16, 5, tzinfo=CHINA)
    server.deliver(mail("u001@example.com", "附件1", sent, [("附件1.xlsx", b"x", "2231")]), received)
    _fetch(server, tmp_path, roster)
    (path,) = [p for p in _tree(tmp_path / "inbox") if p.endswith("附件1.xlsx")]
    assert path.startswith(f"邮件/{_day(received)}/")
    assert (tmp_path / "inbox" / path).stat().st_mtime == received.timestamp()


def test_a_reused_message_id_with_other_content_is_saved(server: Dovecot, tmp_path: Path, roster: Roster) -> None:
    """Two different mails under one Message-ID are both saved; the same bytes again (a copy) are not."""
    when = dt.datetime(2023, 6, 28, 10, tzinfo=CHINA)
    first = mail("u001@example.com", "附件1", when, [("附件1.xlsx", b"first", "2231")], message_id="<same@example.com>")
    second = mail("u001@example.com", "附件1（更正）", when + dt.timedelta(hours=1), [("附件1.xlsx", b"second", "2231")],
                  message_id="<same@example.com>")
    server.deliver(first)
    server.deliver(second)
    server.deliver(first)
    report = _fetch(server, tmp_path, roster)
    saved = _tree(tmp_path / "inbox")
    assert sorted(v for k, v in saved.items() if k.endswith(".xlsx")) == [b"first", b"second"]
    assert report.new == 3 and len(report.duplicates) == 1


@pytest.mark.slow
def test_a_mail_attached_as_a_file_is_read_by_the_rollup(server: Dovecot, tmp_path: Path, roster_file: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit forwards its earlier mail as an .eml attachment: fetch saves it, the rollup opens it and counts the
    return inside, while the raw copy fetch kept of the outer mail is skipped."""
    when = dt.datetime(2023, 6, 28, 10, tzinfo=CHINA)
    inner = mail("u003@example.com", "附件1", when - dt.timedelta(days=1),
                 [("附件1.xlsx", _annex(tmp_path, "annex1", "U003"), "2231")])
    server.deliver(mail("u003@example.com", "转发：附件1", when, [("原邮件.eml", inner, "2231")]))
    for key, value in server.environ().items():
        monkeypatch.setenv(key, value)
    paths = ["--campaign", str(_campaign(tmp_path).path), "--roster", str(roster_file),
             "--inbox", str(tmp_path / "inbox"), "--outbox", str(tmp_path / "out")]
    assert main(["fetch", *paths]) == 0
    assert main(["rollup", *paths]) == 0
    files = {r["file"]: r for r in returns.read_csv(tmp_path / "out" / "files.csv")}
    folder = f"邮件/{_day(when)}/U003_清河县安泰危险货物运输有限公司"
    assert files[f"{folder}/原邮件.eml!/附件1.xlsx"]["outcome"] == Outcome.ACCEPTED
    kept = [f for f in files if f.startswith(f"{folder}/邮件原文_")]
    assert len(kept) == 1 and files[kept[0]]["outcome"] == Outcome.IGNORED
    assert returns.statuses(tmp_path / "out")[("U003", "annex1")]["status"] == "已通过"
