"""One inbox file, several returns: archives, saved mail, several forms in one workbook, and 格式不符."""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import os
from pathlib import Path

import pytest
from containers import (
    both_forms_book,
    counts,
    eml_bytes,
    put,
    rar_bytes,
    return_bytes,
    sevenzip_bytes,
    submission_named,
    two_unit_book,
    zip_bytes,
)
from returns import (
    CAMPAIGN_TOML,
    UNITS_CSV,
    count_ids,
    read_csv,
    record_values,
    rollup,
    roster_unit,
    settings,
    statuses,
)

from pipeline.cli import main
from pipeline.demo.samples import docx_bytes, jpeg_bytes, png_bytes
from pipeline.model import Outcome, Status
from pipeline.outputs.mail.drafts import draft_reminders
from pipeline.store.ledger import LEDGER_NAME, Ledger

CST = dt.timezone(dt.timedelta(hours=8))
FIRST = count_ids()[0]




def _files(outbox: Path) -> dict[str, dict[str, str]]:
    return {row["file"]: row for row in read_csv(outbox / "files.csv")}


@pytest.fixture()
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A scratch folder for building returns, an empty inbox and an outbox."""
    (tmp_path / "inbox").mkdir()
    return tmp_path / "src", tmp_path / "inbox", tmp_path / "outbox"


# ----------------------------------------------------------------------------- archives


def test_zip_with_gbk_names_is_read_member_by_member(dirs: tuple[Path, Path, Path]) -> None:
    """A zip whose names are GBK without the UTF-8 flag: each member is read, named ``附件.zip!/…`` in files.csv."""
    src, inbox, outbox = dirs
    put(inbox, "附件.zip", zip_bytes({"U013附件1.xlsx": return_bytes(src, "annex1", "U013", **counts(4)),
                                      "活动照片/现场.jpg": jpeg_bytes()}, gbk=True))
    result = rollup(inbox, outbox)
    files = _files(outbox)
    assert files["附件.zip"]["outcome"] == Outcome.UNPACKED and files["附件.zip"]["unit_code"] == "U013"
    assert files["附件.zip!/U013附件1.xlsx"]["outcome"] == Outcome.ACCEPTED
    assert files["附件.zip!/活动照片/现场.jpg"]["outcome"] == Outcome.MATERIAL
    assert files["附件.zip!/活动照片/现场.jpg"]["unit_code"] == "U013"  # by the archive's other member
    assert statuses(outbox)[("U013", "annex1")]["file"] == "附件.zip!/U013附件1.xlsx"
    assert record_values(outbox)[("U013", FIRST)] == "4"
    assert result.status("U013", "annex1").status == Status.PASSED


def test_7z_and_rar_members_are_counted(dirs: tuple[Path, Path, Path]) -> None:
    """A .7z (py7zr) and a .rar (rarfile) are unpacked and their returns counted like loose files."""
    src, inbox, outbox = dirs
    put(inbox, "U004报送.7z", sevenzip_bytes({"附件2.xlsx": return_bytes(src, "annex2", "U004"),
                                              "附件1.xlsx": return_bytes(src, "annex1", "U004", **counts(6))}))
    put(inbox, "报表.rar", rar_bytes({"U005附件1.xlsx": return_bytes(src, "annex1", "U005", **counts(9))}))
    result = rollup(inbox, outbox)
    assert result.status("U004", "annex2").counted is not None
    assert result.status("U004", "annex1").counted is submission_named(result, "U004报送.7z!/附件1.xlsx")
    assert result.status("U005", "annex1").counted is submission_named(result, "报表.rar!/U005附件1.xlsx")
    assert result.totals("annex1")[FIRST] == 6 + 9
    assert submission_named(result, "报表.rar").unit == roster_unit("U005")


def test_encrypted_archive_with_a_return_is_format_mismatch(dirs: tuple[Path, Path, Path]) -> None:
    """A password-protected zip whose inner names show a return is tied to the unit in its name as 格式不符."""
    _, inbox, outbox = dirs
    put(inbox, "U007_报表.zip", zip_bytes({"附件1.xlsx": b"secret"}, encrypted=True))
    put(inbox, "U008_照片.zip", zip_bytes({"1.jpg": b"secret"}, encrypted=True))
    result = rollup(inbox, outbox)
    locked = submission_named(result, "U007_报表.zip")
    assert locked.outcome == Outcome.UNSUPPORTED and locked.unit == roster_unit("U007")
    assert "设有密码" in locked.findings[0].message and "取消压缩包密码" in locked.findings[0].message
    assert result.status("U007", "annex1").status == Status.MISMATCH
    photos = submission_named(result, "U008_照片.zip")
    assert photos.outcome == Outcome.MATERIAL and photos.unit == roster_unit("U008") and photos.errors == 0
    assert [f.rule for f in photos.findings] == ["压缩包无法打开"]
    assert result.status("U008", "annex1").status == Status.MISSING


def test_archive_guards_nesting_and_escape(dirs: tuple[Path, Path, Path]) -> None:
    """A zip three deep is not opened past depth 2; a member named ``../x`` refuses the archive, writing nothing."""
    src, inbox, outbox = dirs
    inner = zip_bytes({"U002附件1.xlsx": return_bytes(src, "annex1", "U002")})
    put(inbox, "U002/外层.zip", zip_bytes({"中层.zip": zip_bytes({"内层.zip": inner})}))
    put(inbox, "U003/逃逸.zip", zip_bytes({"../逃逸.jpg": jpeg_bytes()}))
    before = sorted(p.relative_to(inbox.parent).as_posix() for p in inbox.parent.rglob("*"))
    result = rollup(inbox, outbox)
    deepest = submission_named(result, "U002/外层.zip!/中层.zip!/内层.zip")
    assert "嵌套" in deepest.findings[0].message and deepest.members == []
    assert result.status("U002", "annex1").status == Status.MISMATCH  # its name says a return is inside
    escape = submission_named(result, "U003/逃逸.zip")
    assert [f.rule for f in escape.findings] == ["压缩包异常"] and escape.members == []
    after = sorted(p.relative_to(inbox.parent).as_posix() for p in inbox.parent.rglob("*")
                   if not p.is_relative_to(outbox))
    assert after == before


# ----------------------------------------------------------------------------- saved mail


def test_saved_mail_attachments_sender_and_date(dirs: tuple[Path, Path, Path]) -> None:
    """A .eml's attachments (RFC 2047 and 2231 names) are members; the sender names the unit, the Date is the arrival."""
    src, inbox, outbox = dirs
    late = dt.datetime(2023, 7, 2, 10, 0, tzinfo=CST)  # 附件1 is due 2023-06-30; the 填报日期 says 06-28
    mail = eml_bytes(roster_unit("U006").email, late,
                     {"附件1统计表.xlsx": return_bytes(src, "annex1", "U006", **counts(5)), "活动照片.jpg": jpeg_bytes()},
                     rfc2047=frozenset({"活动照片.jpg"}))
    put(inbox, "来信/报送.eml", mail)
    put(inbox, "邮件/2023-07-02/U006_x/原邮件.eml", mail)  # kept by fetch beside its saved attachments
    with Ledger(outbox / LEDGER_NAME) as ledger:
        ledger.record_fetch("box", 1, 7, "<m@x>", "saved", ["邮件/2023-07-02/U006_x/原邮件.eml"],
                            kept=("邮件/2023-07-02/U006_x/原邮件.eml", hashlib.sha256(mail).hexdigest()))
    result = rollup(inbox, outbox)
    form = submission_named(result, "来信/报送.eml!/附件1统计表.xlsx")
    photo = submission_named(result, "来信/报送.eml!/活动照片.jpg")
    assert form.outcome == Outcome.ACCEPTED and form.arrived == dt.date(2023, 7, 2)
    assert photo.outcome == Outcome.MATERIAL and photo.unit == roster_unit("U006") and "发件人邮箱" in photo.note
    assert result.status("U006", "annex1").on_time is False
    kept = submission_named(result, "邮件/2023-07-02/U006_x/原邮件.eml")
    assert kept.outcome == Outcome.IGNORED and kept.members == []
    assert sum(s.file.endswith("附件1统计表.xlsx") for s in result.submissions) == 1


def test_saved_mail_sender_names_a_return_without_its_unit(dirs: tuple[Path, Path, Path]) -> None:
    """A return on the generic template that does not say its unit takes the unit of the mail's sender."""
    src, inbox, outbox = dirs
    blank = return_bytes(src, "annex1", None, unit_name=None)
    put(inbox, "a.eml", eml_bytes(roster_unit("U011").email, dt.datetime(2023, 6, 20, tzinfo=CST), {"表.xlsx": blank}))
    result = rollup(inbox, outbox)
    assert submission_named(result, "a.eml!/表.xlsx").unit == roster_unit("U011")
    assert submission_named(result, "a.eml").unit == roster_unit("U011")


def test_mail_reader_decodes_both_name_encodings() -> None:
    """The fixture's mail carries one name in RFC 2231 and one as RFC 2047 inside quotes (as Foxmail sends)."""
    raw = eml_bytes("a@example.com", dt.datetime(2023, 6, 20, tzinfo=CST), {"附件1.xlsx": b"x", "照片.jpg": b"y"},
                    rfc2047=frozenset({"照片.jpg"}))
    from pipeline.intake.mailparts import iter_attachments, parse_message

    assert b"=?GB2312?B?" in raw and b"filename*=" in raw
    assert [a.name for a in iter_attachments(parse_message(raw))] == ["附件1.xlsx", "照片.jpg"]
    assert email.message_from_bytes(raw)["From"] == "a@example.com"


def test_saved_mail_is_read_anywhere_unless_the_ledger_kept_it(dirs: tuple[Path, Path, Path]) -> None:
    """An .eml under inbox/邮件/ is read like any other; only the raw copy fetch recorded (same bytes) is skipped."""
    src, inbox, outbox = dirs
    day = dt.datetime(2023, 6, 26, 9, tzinfo=CST)
    forwarded = eml_bytes(roster_unit("U002").email, day, {"附件1.xlsx": return_bytes(src, "annex1", "U002", **counts(2))})
    kept = eml_bytes(roster_unit("U003").email, day, {"附件1.xlsx": return_bytes(src, "annex1", "U003", **counts(3))})
    put(inbox, "邮件/2023-06-26/U002_x/转发的报送.eml", forwarded)  # saved by a clerk, or an .eml attached to a mail
    put(inbox, "邮件/2023-06-26/U003_x/邮件原文_090000.eml", kept)
    put(inbox, "邮件/2023-06-26/U004_x/邮件原文_090000.eml", b"X-Copy: 2\n" + kept)  # recorded, but other bytes
    with Ledger(outbox / LEDGER_NAME) as ledger:
        for code in ("U003", "U004"):
            file = f"邮件/2023-06-26/{code}_x/邮件原文_090000.eml"
            ledger.record_fetch("box", 1, int(code[1:]), f"<{code}@x>", "saved", [file],
                                kept=(file, hashlib.sha256(kept).hexdigest()))
    result = rollup(inbox, outbox)
    assert submission_named(result, "邮件/2023-06-26/U002_x/转发的报送.eml!/附件1.xlsx").outcome == Outcome.ACCEPTED
    assert result.status("U002", "annex1").status == Status.PASSED
    skipped = submission_named(result, "邮件/2023-06-26/U003_x/邮件原文_090000.eml")
    assert skipped.outcome == Outcome.IGNORED and skipped.members == []
    changed = submission_named(result, "邮件/2023-06-26/U004_x/邮件原文_090000.eml")
    assert changed.outcome == Outcome.UNPACKED and len(changed.members) == 1


def test_a_saved_mail_dated_9999_arrives_when_the_file_did(dirs: tuple[Path, Path, Path]) -> None:
    """A saved mail whose Date says year 9999 is read; its arrival is the file's own time, not 9999."""
    src, inbox, outbox = dirs
    raw = eml_bytes(roster_unit("U007").email, dt.datetime(2023, 6, 26, tzinfo=CST),
                    {"附件1.xlsx": return_bytes(src, "annex1", "U007", **counts(7))})
    raw = raw.replace(email.utils.format_datetime(dt.datetime(2023, 6, 26, tzinfo=CST)).encode(),
                      b"Fri, 31 Dec 9999 23:59:59 -1200")
    path = put(inbox, "来信/未来.eml", raw)
    stamp = dt.datetime(2023, 6, 27, 15, tzinfo=CST).timestamp()
    os.utime(path, (stamp, stamp))
    result = rollup(inbox, outbox)
    member = submission_named(result, "来信/未来.eml!/附件1.xlsx")
    assert member.outcome == Outcome.ACCEPTED and member.arrived != dt.date(9999, 12, 31)
    assert result.status("U007", "annex1").on_time is True


def _attached_mail(inner: bytes, how: str) -> bytes:
    """A mail carrying ``inner`` as an attached message (message/rfc822) or as a plain .eml file (octet-stream)."""
    from email.message import EmailMessage
    from email.parser import BytesParser
    from email.policy import default

    outer = EmailMessage()
    outer["From"], outer["Subject"] = roster_unit("U005").email, "转发：报送"
    outer["Date"] = email.utils.format_datetime(dt.datetime(2023, 6, 27, 9, tzinfo=CST))
    outer.set_content("转发单位的报送邮件。")
    if how == "rfc822":
        outer.add_attachment(BytesParser(policy=default).parsebytes(inner), filename="报送.eml")
    else:
        outer.add_attachment(inner, maintype="application", subtype="octet-stream", filename="报送.eml")
    return outer.as_bytes()


@pytest.mark.parametrize("how", ["rfc822", "octet-stream"])
def test_a_mail_attached_to_a_mail_is_opened(dirs: tuple[Path, Path, Path], how: str) -> None:
    """A mail attached to another (as message/rfc822 or as an .eml file) is opened and its attachments counted."""
    src, inbox, outbox = dirs
    inner = eml_bytes(roster_unit("U005").email, dt.datetime(2023, 6, 26, tzinfo=CST),
                      {"附件1.xlsx": return_bytes(src, "annex1", "U005", **counts(5))})
    put(inbox, "邮件/2023-06-27/U005_x/外层.eml", _attached_mail(inner, how))
    result = rollup(inbox, outbox)
    counted = result.status("U005", "annex1").counted
    assert counted is not None and counted.file.endswith("附件1.xlsx") and counted.file.startswith("邮件/2023-06-27/")
    assert result.totals("annex1")[FIRST] == 5


# ----------------------------------------------------------------------------- several forms in one workbook


def test_two_units_sheets_in_one_workbook(dirs: tuple[Path, Path, Path]) -> None:
    """Two units' 附件1 sheets in one workbook are two returns, each counted for its own unit, findings included."""
    src, inbox, outbox = dirs
    put(inbox, "汇总/book.xlsx", two_unit_book(src, "U007", roster_unit("U008").name, 2, 7))
    result = rollup(inbox, outbox)
    first, second = submission_named(result, "汇总/book.xlsx#附件1"), submission_named(result, "汇总/book.xlsx#附件1（2）")
    assert (first.unit, second.unit) == (roster_unit("U007"), roster_unit("U008"))
    assert result.totals("annex1")[FIRST] == 2 + 7
    assert {r["unit_code"] for r in read_csv(outbox / "issues.csv") if r["file"] == second.file} == {"U008"}
    assert statuses(outbox)[("U008", "annex1")]["file"] == "汇总/book.xlsx#附件1（2）"
    assert _files(outbox)["汇总/book.xlsx"]["outcome"] == Outcome.UNPACKED


def test_one_units_two_forms_in_one_workbook(dirs: tuple[Path, Path, Path]) -> None:
    """One unit's 附件1 and 附件2 in one workbook are read as two returns, ``both.xlsx#附件2`` among them."""
    src, inbox, outbox = dirs
    put(inbox, "both.xlsx", both_forms_book(src, "U003", 3))
    result = rollup(inbox, outbox)
    assert result.status("U003", "annex1").counted is submission_named(result, "both.xlsx#附件1")
    assert result.status("U003", "annex2").counted is submission_named(result, "both.xlsx#附件2")
    assert submission_named(result, "both.xlsx#附件2").values["name"] == "王建国"


def test_plain_template_is_not_split(dirs: tuple[Path, Path, Path]) -> None:
    """The ordinary template (one form sheet and ``_meta``) stays one file with no members."""
    src, inbox, outbox = dirs
    put(inbox, "U001.xlsx", return_bytes(src, "annex1", "U001"))
    result = rollup(inbox, outbox)
    assert [s.file for s in result.submissions] == ["U001.xlsx"] and result.submissions[0].members == []


# ----------------------------------------------------------------------------- 格式不符


def _mismatch_inbox(src: Path, inbox: Path) -> None:
    put(inbox, "附件1_情况统计_U009.png", png_bytes())  # a photo of the form, named as one
    put(inbox, "U010/U010_附件2.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")  # no text layer
    put(inbox, "U011/情况说明.docx", docx_bytes(["情况说明", "我单位已开展活动"]))  # its only file
    put(inbox, "U012/活动照片.jpg", jpeg_bytes())  # photos alone are material
    put(inbox, "U014/情况说明.docx", docx_bytes(["情况说明"]))  # not alone: the unit's return came too
    put(inbox, "U014/附件1.xlsx", return_bytes(src, "annex1", "U014"))


def test_unreadable_returns_are_format_mismatch(dirs: tuple[Path, Path, Path]) -> None:
    """A form photo, a scanned PDF and a unit's only document are 格式不符 in status.csv; photos alone are not."""
    src, inbox, outbox = dirs
    _mismatch_inbox(src, inbox)
    result = rollup(inbox, outbox)
    got = {key: row["status"] for key, row in statuses(outbox).items() if key[0] in ("U009", "U010", "U011", "U012")}
    assert got == {("U009", "annex1"): Status.MISMATCH, ("U009", "annex2"): Status.MISSING,
                   ("U010", "annex1"): Status.MISSING, ("U010", "annex2"): Status.MISMATCH,
                   ("U011", "annex1"): Status.MISMATCH, ("U011", "annex2"): Status.MISMATCH,
                   ("U012", "annex1"): Status.MISSING, ("U012", "annex2"): Status.MISSING}
    assert submission_named(result, "U014/情况说明.docx").outcome == Outcome.MATERIAL
    assert submission_named(result, "U012/活动照片.jpg").outcome == Outcome.MATERIAL
    assert submission_named(result, "附件1_情况统计_U009.png").outcome == Outcome.UNSUPPORTED
    from pipeline.job import summary_lines

    lines = summary_lines(result, outbox / "x.xlsx")
    assert "格式不符 2" in lines[1] and "格式不符 2" in lines[2]


def test_reminder_for_format_mismatch(dirs: tuple[Path, Path, Path]) -> None:
    """`mail reminders` tells a 格式不符 unit its file arrived but cannot be read, with the template attached."""
    src, inbox, outbox = dirs
    _mismatch_inbox(src, inbox)
    result = rollup(inbox, outbox)
    batch = draft_reminders(result, outbox.parent / "templates", outbox, on=dt.date(2023, 6, 20))
    draft = next(d for d in batch.drafts if d.unit.code == "U009")
    body = email.message_from_bytes(draft.path.read_bytes())
    text = next(p for p in body.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert "已收到贵单位报送的“附件1_情况统计_U009.png”，但无法读取，请使用附件中的模板" in text
    assert any(a.name.startswith("附件1") and "U009" in a.name for a in draft.attachments)


def test_check_exits_1_on_a_form_photo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`check` on a photo named as a return reports 格式不符 and exits 1; on an archive it lists each member."""
    monkeypatch.chdir(tmp_path)
    photo = put(tmp_path, "附件1_U009.png", png_bytes())
    paths = ["--campaign", str(CAMPAIGN_TOML), "--roster", str(UNITS_CSV)]
    assert main(["check", *paths, str(photo)]) == 1
    assert "格式不符" in capsys.readouterr().out
    packed = put(tmp_path, "a.zip", zip_bytes({"U001附件1.xlsx": return_bytes(tmp_path / "src", "annex1", "U001")}))
    assert main(["check", *paths, str(packed)]) == 0
    assert "a.zip!/U001附件1.xlsx：通过" in capsys.readouterr().out


# ----------------------------------------------------------------------------- end to end


def test_mixed_inbox_end_to_end(dirs: tuple[Path, Path, Path]) -> None:
    """Loose, zipped, 7z, rar, mailed and multi-sheet returns plus unreadable ones: exact totals, statuses, files.csv."""
    src, inbox, outbox = dirs
    n = {"U001": 1, "U002": 2, "U003": 3, "U004": 4, "U005": 5, "U006": 6, "U007": 7, "U008": 8}
    put(inbox, "U001_附件1.xlsx", return_bytes(src, "annex1", "U001", **counts(n["U001"])))
    put(inbox, "打包.zip", zip_bytes({"U002附件1.xlsx": return_bytes(src, "annex1", "U002", **counts(n["U002"])),
                                      "U003附件1.xlsx": return_bytes(src, "annex1", "U003", **counts(n["U003"])),
                                      "U003附件2.xlsx": return_bytes(src, "annex2", "U003")}, gbk=True))
    put(inbox, "U004.7z", sevenzip_bytes({"附件1.xlsx": return_bytes(src, "annex1", "U004", **counts(n["U004"]))}))
    put(inbox, "U005.rar", rar_bytes({"附件1.xlsx": return_bytes(src, "annex1", "U005", **counts(n["U005"]))}))
    put(inbox, "邮件原文.eml", eml_bytes(roster_unit("U006").email, dt.datetime(2023, 6, 29, tzinfo=CST),
                                     {"附件1.xlsx": return_bytes(src, "annex1", "U006", **counts(n["U006"]))}))
    put(inbox, "两个单位.xlsx", two_unit_book(src, "U007", roster_unit("U008").name, n["U007"], n["U008"]))
    _mismatch_inbox(src, inbox)
    result = rollup(inbox, outbox)

    forms, _, roster = settings()
    assert result.totals("annex1") == {fid: sum(n.values()) + 3 for fid in count_ids()}  # U014 typed 3s
    expected = {code: Status.PASSED for code in n} | {"U008": Status.WARNED, "U014": Status.PASSED,
                                                      "U009": Status.MISMATCH, "U011": Status.MISMATCH}
    got = {u.code: result.status(u.code, "annex1").status for u in roster}
    assert got == {u.code: expected.get(u.code, Status.MISSING) for u in roster}
    files = set(_files(outbox))
    members = {"打包.zip!/U002附件1.xlsx", "打包.zip!/U003附件1.xlsx", "打包.zip!/U003附件2.xlsx", "U004.7z!/附件1.xlsx",
               "U005.rar!/附件1.xlsx", "邮件原文.eml!/附件1.xlsx", "两个单位.xlsx#附件1", "两个单位.xlsx#附件1（2）"}
    on_disk = {p.relative_to(inbox).as_posix() for p in inbox.rglob("*") if p.is_file()}
    assert files == on_disk | members
    assert all(row["outcome"] for row in read_csv(outbox / "files.csv"))
    assert len(forms) == 2


def test_everything_mixed_no_unit_that_sent_anything_is_missing(dirs: tuple[Path, Path, Path]) -> None:
    """Containers, 格式不符, identity from names, header slips and a resubmission in one inbox: exact totals, no sender 未报送."""
    src, inbox, outbox = dirs
    n = {"U001": 1, "U002": 2, "U005": 5, "U006": 6, "U015": 15, "U016": 16, "U017": 17, "U018": 18}
    put(inbox, "U001_附件1.xlsx", return_bytes(src, "annex1", "U001", **counts(n["U001"])))
    put(inbox, "打包.zip", zip_bytes({"U002附件1.xlsx": return_bytes(src, "annex1", "U002", **counts(n["U002"]))},
                                      gbk=True))
    put(inbox, "U005.rar", rar_bytes({"附件1.xlsx": return_bytes(src, "annex1", "U005", **counts(n["U005"]))}))
    put(inbox, "邮件原文.eml", eml_bytes(roster_unit("U006").email, dt.datetime(2023, 6, 29, tzinfo=CST),
                                     {"附件1.xlsx": return_bytes(src, "annex1", None, unit_name=None, **counts(n["U006"]))}))
    _mismatch_inbox(src, inbox)
    # Identity: the generic template with a 填报单位 not in the roster, the code in the file name.
    put(inbox, "U015_附件1.xlsx", return_bytes(src, "annex1", None, unit_name="县公路站", **counts(n["U015"])))
    # A name with （盖章） and header slips: a date without the year, a phone with a long dash.
    put(inbox, "农村公路附件1.xlsx", return_bytes(src, "annex1", None, unit_name="清河县农村公路服务中心（盖章）",
                                                 report_date="6月28日", phone="0311—6627527", **counts(n["U016"])))
    # No 联系人 at all: a 警告, the counts still count.
    put(inbox, "U017附件1.xlsx", return_bytes(src, "annex1", "U017", contact=None, **counts(n["U017"])))
    # A good return, then a correction whose 填报日期 does not exist, in a later date folder: the correction counts.
    put(inbox, "2023-06-25/U018附件1.xlsx", return_bytes(src, "annex1", "U018", report_date=dt.date(2023, 6, 25),
                                                          **counts(1)))
    put(inbox, "2023-06-29/U018附件1（更正）.xlsx", return_bytes(src, "annex1", "U018", report_date="2023-06-31",
                                                               **counts(n["U018"])))
    result = rollup(inbox, outbox)

    _, _, roster = settings()
    assert result.totals("annex1") == {fid: sum(n.values()) + 3 for fid in count_ids()}  # U014 typed 3s
    got = {u.code: result.status(u.code, "annex1").status for u in roster}
    senders = set(n) | {"U009", "U010", "U011", "U012", "U014"}
    assert all(got[code] != Status.MISSING for code in senders - {"U010", "U012"}), got
    assert {code for code, status in got.items() if status == Status.MISSING} == {u.code for u in roster} - senders \
        | {"U010", "U012"}  # U010 sent only an 附件2 (格式不符 there); U012 only photos
    assert result.status("U010", "annex2").status == Status.MISMATCH
    assert {got[c] for c in ("U015", "U016", "U017", "U018")} == {Status.WARNED}
    assert result.status("U018", "annex1").counted is not None
    assert result.status("U018", "annex1").counted.file == "2023-06-29/U018附件1（更正）.xlsx"
    files = set(_files(outbox))
    on_disk = {p.relative_to(inbox).as_posix() for p in inbox.rglob("*") if p.is_file()}
    assert files == on_disk | {"打包.zip!/U002附件1.xlsx", "U005.rar!/附件1.xlsx", "邮件原文.eml!/附件1.xlsx"}
