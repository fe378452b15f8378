"""More container kinds and their guards: tar and lone compressed files, 7z listings, .docx packages, member names."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from containers import (
    compressed_bytes,
    counts,
    padded_docx,
    put,
    return_bytes,
    sevenzip_bytes,
    submission_named,
    tar_bytes,
    zip_bytes,
)
from corpus import with_macro
from returns import (
    CAMPAIGN_TOML,
    REPO,
    UNITS_CSV,
    clean_values,
    count_ids,
    make_return,
    read_csv,
    rollup,
    roster_unit,
    settings,
)

from pipeline.demo.samples import jpeg_bytes
from pipeline.intake.members import unique_names
from pipeline.model import Outcome, Severity
from pipeline.outputs.mail.drafts import draft_feedback
from pipeline.safety.guards import zip_entry_count

FIRST = count_ids()[0]
CST = dt.timezone(dt.timedelta(hours=8))
MB = 1 << 20




@pytest.fixture()
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A scratch folder for building returns, an empty inbox and an outbox."""
    (tmp_path / "inbox").mkdir()
    return tmp_path / "src", tmp_path / "inbox", tmp_path / "outbox"


# ----------------------------------------------------------------------------- tar, gzip, bzip2, xz

TARS = {"U001.tar": "", "U002.tar.gz": "gz", "U003.tgz": "gz", "U004.tar.bz2": "bz2", "U005.tar.xz": "xz"}
LONE = {"U006附件1.xlsx.gz": "gz", "U007附件1.xlsx.bz2": "bz2", "U008附件1.xlsx.xz": "xz"}


def test_tar_and_compressed_files_are_read_like_other_archives(dirs: tuple[Path, Path, Path]) -> None:
    """A .tar, .tar.gz, .tgz, .tar.bz2, .tar.xz and a lone .gz/.bz2/.xz: every return inside is counted."""
    src, inbox, outbox = dirs
    n = {f"U00{i}": i for i in range(1, 9)}
    for name, compression in TARS.items():
        code = name[:4]
        put(inbox, name, tar_bytes({"报送/附件1.xlsx": return_bytes(src, "annex1", code, **counts(n[code])),
                                     "报送/照片.jpg": jpeg_bytes()}, compression))
    for name, compression in LONE.items():
        code = name[:4]
        put(inbox, name, compressed_bytes(return_bytes(src, "annex1", code, **counts(n[code])), compression))
    result = rollup(inbox, outbox)
    assert result.totals("annex1")[FIRST] == sum(n.values())
    for name in TARS:
        assert submission_named(result, name).outcome == Outcome.UNPACKED
        assert submission_named(result, f"{name}!/报送/附件1.xlsx").outcome == Outcome.ACCEPTED
        assert submission_named(result, f"{name}!/报送/照片.jpg").unit == roster_unit(name[:4])
    for name in LONE:
        inner = name.rsplit(".", 1)[0]
        assert result.status(name[:4], "annex1").counted is submission_named(result, f"{name}!/{inner}")


@pytest.mark.parametrize(("name", "make", "reason"), [
    ("U001链接.tar", lambda: tar_bytes({"照片.jpg": b"x"}, links={"密码": "/etc/shadow"}), "链接"),
    ("U002逃逸.tar.gz", lambda: tar_bytes({"../../逃逸.jpg": b"x"}, "gz"), "以外的位置"),
    ("U003炸弹.gz", lambda: compressed_bytes(bytes(40 * MB), "gz"), "压缩炸弹"),
    ("U004炸弹.tar.xz", lambda: tar_bytes({"大.bin": bytes(40 * MB)}, "xz"), "压缩炸弹"),
    ("U005过多.tar", lambda: tar_bytes({f"{i}.jpg": b"" for i in range(settings()[1].limits.max_zip_entries + 1)}), "文件过多"),
], ids=["symlink", "traversal", "gzip-bomb", "tar-xz-bomb", "too-many"])
def test_tar_guards(dirs: tuple[Path, Path, Path], name: str, make: Callable[[], bytes], reason: str) -> None:
    """A link, a name out of the archive, a compression bomb or too many entries refuses the archive; nothing lands in inbox/."""
    _, inbox, outbox = dirs
    put(inbox, name, make())
    before = sorted(p.name for p in inbox.parent.rglob("*"))
    result = rollup(inbox, outbox)
    refused = submission_named(result, name)
    assert refused.members == [] and [f.rule for f in refused.findings] == ["压缩包异常"]
    assert reason in refused.findings[0].message
    assert sorted(p.name for p in inbox.parent.rglob("*") if not p.is_relative_to(outbox)) == before


def test_a_damaged_archive_says_why(dirs: tuple[Path, Path, Path]) -> None:
    """A truncated .tar.gz is named damaged in its note, not blamed on a missing RAR/7z component."""
    src, inbox, outbox = dirs
    whole = tar_bytes({"附件1.xlsx": return_bytes(src, "annex1", "U009", **counts(1))}, "gz")
    put(inbox, "U009报送.tar.gz", whole[: len(whole) // 2])
    result = rollup(inbox, outbox)
    broken = submission_named(result, "U009报送.tar.gz")
    assert "损坏" in broken.note and "RAR" not in broken.note and "7z" not in broken.note
    assert broken.unit == roster_unit("U009")


# ----------------------------------------------------------------------------- zip names and directories


def test_zip_names_in_utf8_without_the_flag(dirs: tuple[Path, Path, Path]) -> None:
    """Names written in UTF-8 without the UTF-8 flag (as some tools do) are read as written, GBK ones too."""
    src, inbox, outbox = dirs
    put(inbox, "a.zip", zip_bytes({"报送/U015附件1.xlsx": return_bytes(src, "annex1", "U015")}, unflagged="utf-8"))
    put(inbox, "b.zip", zip_bytes({"报送/U016附件1.xlsx": return_bytes(src, "annex1", "U016")}, gbk=True))
    result = rollup(inbox, outbox)
    assert [m.file for m in submission_named(result, "a.zip").members] == ["a.zip!/报送/U015附件1.xlsx"]
    assert [m.file for m in submission_named(result, "b.zip").members] == ["b.zip!/报送/U016附件1.xlsx"]


@pytest.mark.parametrize(("count", "comment", "zip64"), [(0, b"", False), (3, b"note" * 40, False),
                                                          (70_000, b"", False), (4, b"", True)])
def test_zip_entry_count_reads_the_end_record(tmp_path: Path, count: int, comment: bytes, zip64: bool) -> None:
    """The entry count read from the end record (zip64 too, comment or not) is the number of entries zipfile lists."""
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.comment = comment
        for index in range(count):
            with zf.open(f"{index}.txt", "w", force_zip64=zip64) as part:
                part.write(b"x")
    with zipfile.ZipFile(path) as zf:
        assert zip_entry_count(path) == len(zf.infolist()) == count
    (tmp_path / "b.zip").write_bytes(path.read_bytes()[: -(len(comment) + 22)])  # the end record cut off
    assert zip_entry_count(tmp_path / "b.zip") is None


# ----------------------------------------------------------------------------- 7z listing, .docx package


def test_7z_bomb_is_refused_from_its_listing(dirs: tuple[Path, Path, Path]) -> None:
    """A 7z whose listing announces more than the unpacked limit is refused before any member is extracted."""
    _, inbox, outbox = dirs
    put(inbox, "U010.7z", sevenzip_bytes({"录像.bin": bytes(250 * MB)}))
    result = rollup(inbox, outbox)
    refused = submission_named(result, "U010.7z")
    assert refused.members == [] and [f.rule for f in refused.findings] == ["压缩包异常"]
    assert "上限" in refused.findings[0].message


PEAK_SCRIPT = """
import resource, subprocess, sys
run = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=False)
print(run.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def test_docx_bomb_is_refused_before_python_docx_opens_it(dirs: tuple[Path, Path, Path]) -> None:
    """A 0.3 MB .docx that inflates to 300 MB is refused by the package guards; the rollup's peak stays under 600 MB."""
    _, inbox, outbox = dirs
    (inbox / "U013").mkdir()
    bomb = padded_docx(inbox / "U013" / "附件1.docx", 300)
    assert bomb.stat().st_size < 0.4 * MB
    command = [sys.executable, "-c", PEAK_SCRIPT, sys.executable, "-m", "pipeline", "rollup",
               "--campaign", str(CAMPAIGN_TOML), "--roster", str(UNITS_CSV), "--inbox", str(inbox), "--outbox", str(outbox)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=True)
    code, peak_kb = (int(x) for x in done.stdout.split())
    assert code == 0
    assert peak_kb * 1024 < 600 * MB, f"peak {peak_kb / 1024:.0f} MB"
    row = next(r for r in read_csv(outbox / "issues.csv") if r["file"] == "U013/附件1.docx")
    assert "压缩" in row["message"] or "上限" in row["message"], row


def test_7z_with_a_link_is_refused(dirs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """A 7z holding a symbolic link is refused before extraction, as a tar is; nothing is followed."""
    import py7zr

    _, inbox, outbox = dirs
    (tmp_path / "made").mkdir()
    (tmp_path / "made" / "照片.jpg").write_bytes(jpeg_bytes())
    (tmp_path / "made" / "密码").symlink_to("/etc/passwd")
    with py7zr.SevenZipFile(inbox / "U011链接.7z", "w") as archive:
        archive.write(tmp_path / "made" / "照片.jpg", "照片.jpg")
        archive.write(tmp_path / "made" / "密码", "密码")
    result = rollup(inbox, outbox)
    refused = submission_named(result, "U011链接.7z")
    assert refused.members == [] and [f.rule for f in refused.findings] == ["压缩包异常"]
    assert "链接" in refused.findings[0].message


# ----------------------------------------------------------------------------- macro-enabled workbooks

VBA_MARK = b"Attribute VB_Name"  # the bytes of corpus.with_macro's VBA project


def test_macro_workbook_is_read_by_its_values_and_its_macros_go_nowhere(dirs: tuple[Path, Path, Path]) -> None:
    """An .xlsm with a VBA project is counted with a 警告; no output (feedback workbook, mail draft) holds a macro."""
    src, inbox, outbox = dirs
    path = make_return(src, "annex1", "U014", clean_values("annex1", **counts(7)), name="附件1.xlsx")
    with_macro(path)
    put(inbox, "U014/附件1.xlsm", path.read_bytes())
    result = rollup(inbox, outbox)
    sub = submission_named(result, "U014/附件1.xlsm")
    assert sub.outcome == Outcome.ACCEPTED and sub.errors == 0
    assert "含有宏" in [f.rule for f in sub.findings if f.severity == Severity.WARNING]
    assert result.status("U014", "annex1").counted is sub and result.totals("annex1")[FIRST] == 7
    draft_feedback(result, outbox, on=dt.date(2023, 6, 29))
    written = [p for p in outbox.rglob("*") if p.is_file()]
    assert any(p.suffix == ".xlsx" and "U014" in p.name for p in written)  # the unit's feedback workbook
    assert any(p.suffix == ".eml" for p in written)
    for out in written:
        data = out.read_bytes()
        assert VBA_MARK not in data and b"vbaProject" not in data, out
        if zipfile.is_zipfile(out):
            with zipfile.ZipFile(out) as zf:
                assert not any("vba" in n.lower() or "macro" in n.lower() for n in zf.namelist()), out


# ----------------------------------------------------------------------------- member names


def test_member_names_are_unique_as_windows_numbers_them() -> None:
    """Repeated names become ``a``, ``a (2)``, ``a (3)``, never taking a name another member already has."""
    assert unique_names(["a", "a", "a"]) == ["a", "a (2)", "a (3)"]
    assert unique_names(["附件.xlsx", "附件.xlsx", "附件 (2).xlsx"]) == ["附件.xlsx", "附件 (3).xlsx", "附件 (2).xlsx"]


def test_three_attachments_of_one_name_are_three_members(dirs: tuple[Path, Path, Path]) -> None:
    """A mail with three attachments all named 照片.jpg lists ``照片.jpg``, ``照片 (2).jpg`` and ``照片 (3).jpg``."""
    _, inbox, outbox = dirs
    msg = EmailMessage()
    msg["From"], msg["Subject"] = roster_unit("U011").email, "照片"
    msg["Date"] = format_datetime(dt.datetime(2023, 6, 20, tzinfo=CST))
    msg.set_content("照片")
    for _ in range(3):
        msg.add_attachment(jpeg_bytes(), maintype="image", subtype="jpeg", filename="照片.jpg")
    put(inbox, "照片.eml", msg.as_bytes())
    rollup(inbox, outbox)
    listed = {row["file"] for row in read_csv(outbox / "files.csv")}
    assert {"照片.eml!/照片.jpg", "照片.eml!/照片 (2).jpg", "照片.eml!/照片 (3).jpg"} <= listed


def test_zip_members_of_one_name_are_told_apart(dirs: tuple[Path, Path, Path]) -> None:
    """Two zip entries of the same name are two members, the second numbered “ (2)”."""
    src, inbox, outbox = dirs
    buffer = io.BytesIO()
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("附件1.xlsx", return_bytes(src, "annex1", "U012", **counts(2)))
        zf.writestr("附件1.xlsx", return_bytes(src, "annex1", "U012", **counts(3)))
    put(inbox, "U012.zip", buffer.getvalue())
    result = rollup(inbox, outbox)
    assert {s.file for s in submission_named(result, "U012.zip").members} == {"U012.zip!/附件1.xlsx", "U012.zip!/附件1 (2).xlsx"}
    assert zip_bytes  # the plain builder stays the one the other tests use
