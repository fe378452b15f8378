"""Supporting material (活动总结, photos, videos, documents, archives): recognised, attributed, listed, reminded."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from returns import rollup_of

from pipeline.checks.rollup import Rollup
from pipeline.demo.samples import add_to_truth, demo_materials, docx_bytes, jpeg_bytes, mp4_bytes, png_bytes
from pipeline.forms.spec import FormSpec, template_name
from pipeline.intake.materials import (
    ARCHIVE,
    IMAGE,
    OTHER,
    SUMMARY,
    TEXT,
    VIDEO,
)
from pipeline.job import summary_lines, write_outputs
from pipeline.model import Outcome, Severity, Submission
from pipeline.outputs.materials_report import summary_missing
from pipeline.outputs.report import rollup_name
from pipeline.safety.sniff import sniff
from pipeline.settings.campaign import Campaign, Limits
from pipeline.settings.roster import Roster, Unit
from pipeline.units.attribution import Attribution, attribute_file

Forms = dict[str, FormSpec]


def _put(inbox: Path, rel: str, data: bytes) -> Path:
    path = inbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _snapshot(folder: Path) -> dict[str, tuple[int, float]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime)
            for p in folder.rglob("*")}


def _filled(template_dir: Path, inbox: Path, spec: FormSpec, campaign: Campaign, unit: Unit, rel: str = "") -> Path:
    """The unit's own template typed full of valid answers, saved into ``inbox``."""
    by_kind = {"person": "欧阳明远", "phone": "0311-6627527", "mobile": "13812345678",
               "email": "liaison@example.com", "date": dt.date(campaign.year, 6, 28), "count": 3, "text": "无"}
    path = inbox / (rel or f"{unit.code}_{spec.annex}.xlsx")
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.load_workbook(template_dir / template_name(spec, unit))
    try:
        for f in spec.fields:
            if f.kind != "unit":
                ((sheet, ref),) = wb.defined_names[f.id].destinations
                wb[sheet][ref.replace("$", "")].value = by_kind[f.kind]
        wb.save(path)
    finally:
        wb.close()
    return path


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _run(inbox: Path, outbox: Path, forms: Forms, campaign: Campaign, roster: Roster) -> Rollup:
    rollup = rollup_of(inbox, forms, campaign, roster, outbox)
    write_outputs(outbox, rollup)
    return rollup


def _sub(rollup: Rollup, rel: str) -> Submission:
    return next(s for s in rollup.submissions if s.file == rel)


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture()
def run(tmp_path: Path, forms: Forms, campaign: Campaign, roster: Roster) -> Callable[[], Rollup]:
    """Roll up tmp_path/inbox into tmp_path/outbox with the real settings."""
    return lambda: _run(tmp_path / "inbox", tmp_path / "outbox", forms, campaign, roster)


# ----------------------------------------------------------------------------- attribution


def attribute(file: str, roster: Roster, county: str) -> Attribution:
    """The unit of a material file saved as ``file``, judged without its content."""
    return attribute_file(Submission(file=file, path=Path(file), sha256="", mtime=0.0), roster, county)


def test_attributed_by_folder(roster: Roster, campaign: Campaign) -> None:
    """A file in a folder named after a unit belongs to that unit, whatever the file is called."""
    found = attribute("2023-06-20/清河县顺达货物运输有限公司/IMG_0001.jpg", roster, campaign.county)
    assert found.unit is not None and found.unit.code == "U001"
    assert found.basis == "文件夹名“清河县顺达货物运输有限公司”中的单位名称"


def test_attributed_by_file_name_code_and_short_name(roster: Roster, campaign: Campaign) -> None:
    """A unit code or a unit name (with or without the county prefix) in the file name attributes the file."""
    by_code = attribute("2023-06-20/U002_演练.mp4", roster, campaign.county)
    by_short_name = attribute("2023-06-20/汽车客运总站应急演练.mp4", roster, campaign.county)
    assert by_code.unit is not None and by_code.unit.code == "U002" and by_code.basis == "文件名“U002_演练”中的编码“U002”"
    assert by_short_name.unit is not None and by_short_name.unit.code == "U007"


def test_code_matches_only_as_a_token(roster: Roster, campaign: Campaign) -> None:
    """``U0012`` is not unit U001, but a code right after a date (``0630U001``) is."""
    assert attribute("U0012照片.jpg", roster, campaign.county).unit is None
    dated = attribute("20230630U001照片.jpg", roster, campaign.county).unit
    assert dated is not None and dated.code == "U001"


def test_longer_name_wins_over_a_name_inside_it(tmp_path: Path) -> None:
    """Where one unit's name lies inside another's, the longer match decides rather than an ambiguity."""
    units = [Unit("A1", "清河县汽车客运站", "客运站", ""), Unit("A2", "清河县城南汽车客运站", "客运站", "")]
    found = attribute("城南汽车客运站照片.jpg", Roster(units, tmp_path / "units.csv"), "清河县")
    assert found.unit is not None and found.unit.code == "A2"


def test_ambiguous_and_unknown_are_reported_not_guessed(tmp_path: Path, run: Callable[[], Rollup]) -> None:
    """Two units in one name, or none at all, leave the file unattributed with a 警告 in issues.csv."""
    inbox = tmp_path / "inbox"
    _put(inbox, "清河县顺达货物运输有限公司与清河县恒通物流运输有限公司联合演练.jpg", jpeg_bytes())
    _put(inbox, "2023-06-20/现场照片.png", png_bytes())
    rollup = run()
    ambiguous = _sub(rollup, "清河县顺达货物运输有限公司与清河县恒通物流运输有限公司联合演练.jpg")
    unknown = _sub(rollup, "2023-06-20/现场照片.png")
    assert ambiguous.unit is None and unknown.unit is None
    assert [f.rule for f in ambiguous.findings] == ["材料单位不明"]
    assert [f.rule for f in unknown.findings] == ["材料单位未识别"]
    issues = {(r["file"], r["severity"], r["rule"]) for r in _csv(tmp_path / "outbox" / "issues.csv")}
    assert (ambiguous.file, Severity.WARNING, "材料单位不明") in issues
    assert (unknown.file, Severity.WARNING, "材料单位未识别") in issues
    rows = {r["file"]: r for r in _csv(tmp_path / "outbox" / "materials.csv")}
    assert rows[ambiguous.file]["unit_code"] == "" and rows[unknown.file]["unit_code"] == ""


def test_ambiguous_folder_settled_by_file_name(roster: Roster, campaign: Campaign) -> None:
    """A folder naming two units is settled by a file name naming exactly one of them."""
    found = attribute("顺达货物运输有限公司+恒通物流运输有限公司/U002_照片.jpg", roster, campaign.county)
    assert found.unit is not None and found.unit.code == "U002"


# ----------------------------------------------------------------------------- kinds and summaries


def test_summary_docx_by_name_and_by_first_paragraph(tmp_path: Path, run: Callable[[], Rollup]) -> None:
    """A .docx is an 活动总结 when its name or one of its first paragraphs says 总结, not when only later text does."""
    inbox = tmp_path / "inbox"
    _put(inbox, "U001/安全生产月活动总结.docx", docx_bytes(["关于活动开展情况", "正文"]))
    _put(inbox, "U002/工作报告.docx", docx_bytes(["清河县恒通物流运输有限公司", "2023年“安全生产月”活动总结"]))
    _put(inbox, "U003/工作报告.docx", docx_bytes([f"第{i}段" for i in range(8)] + ["年度工作总结"]))
    _put(inbox, "U003/照片.jpg", jpeg_bytes())  # not its only file: a lone document would be 格式不符
    rollup = run()
    assert _sub(rollup, "U001/安全生产月活动总结.docx").material_kind == SUMMARY
    assert _sub(rollup, "U002/工作报告.docx").material_kind == SUMMARY
    assert _sub(rollup, "U003/工作报告.docx").material_kind == TEXT
    assert [u.code for u in summary_missing(rollup)][:3] == ["U003", "U004", "U005"]


def test_docx_title_attributes_when_names_do_not(tmp_path: Path, run: Callable[[], Rollup]) -> None:
    """A .docx whose folder and file name name no unit is attributed by its title line."""
    inbox = tmp_path / "inbox"
    _put(inbox, "2023-06-30/活动报告.docx", docx_bytes(["清河县公路管理站2023年“安全生产月”活动总结", "正文"]))
    sub = _sub(run(), "2023-06-30/活动报告.docx")
    assert sub.unit is not None and sub.unit.code == "U015"
    assert sub.material_kind == SUMMARY and "按文档标题确定单位" in sub.note


def test_kinds_by_content_whatever_the_extension(tmp_path: Path, run: Callable[[], Rollup]) -> None:
    """Content decides the kind: a PDF named .xlsx is a document with a “not a form” 警告, never a rejected form."""
    inbox = tmp_path / "inbox"
    files = {
        "U001/宣传册.xlsx": (b"%PDF-1.4\n%%EOF\n", TEXT),
        "U001/照片.heic": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", IMAGE),
        "U001/演练.avi": (b"RIFF\x24\x00\x00\x00AVI LIST", VIDEO),
        "U001/演练.mov": (b"\x00\x00\x00\x08wide\x00\x00\x00\x08mdat", VIDEO),
        "U001/演练.mp4": (mp4_bytes(), VIDEO),
        "U001/照片.doc": (png_bytes(), IMAGE),
        "U001/说明.txt": ("活动说明".encode(), TEXT),
        "U001/空照片.jpg": (b"", OTHER),
        "U001/材料.rar": (b"Rar!\x1a\x07\x01\x00", ARCHIVE),
        "U001/材料.7z": (b"7z\xbc\xaf\x27\x1c\x00\x04", ARCHIVE),
    }
    for rel, (data, _) in files.items():
        _put(inbox, rel, data)
    rollup = run()
    for rel, (_, kind) in files.items():
        sub = _sub(rollup, rel)
        assert (sub.outcome, sub.material_kind, sub.errors) == (Outcome.MATERIAL, kind, 0), rel
    pdf = _sub(rollup, "U001/宣传册.xlsx")
    assert "扩展名为.xlsx，实际为PDF文档" in pdf.note
    assert [f.rule for f in pdf.findings] == ["不是报表"] and "不是报表" in pdf.findings[0].message
    assert "压缩包无法打开" in _sub(rollup, "U001/材料.rar").note
    assert "压缩包无法打开" in _sub(rollup, "U001/材料.7z").note
    assert "文件是空的" in _sub(rollup, "U001/空照片.jpg").note


def test_text_and_unknown_files_with_form_extensions_stay_forms(tmp_path: Path, run: Callable[[], Rollup]) -> None:
    """A CSV or an unrecognisable .xlsx is still a failed form (错误), not material."""
    inbox = tmp_path / "inbox"
    _put(inbox, "U001/统计表.csv", "活动项目,场次\n".encode())
    _put(inbox, "U001/统计表.xlsx", b"\x00\x01garbage\xff\xfe" * 8)
    rollup = run()
    for rel in ("U001/统计表.csv", "U001/统计表.xlsx"):
        sub = _sub(rollup, rel)
        assert sub.outcome != Outcome.MATERIAL and sub.errors >= 1


# ----------------------------------------------------------------------------- archives


def test_archive_members_read_inbox_unchanged(tmp_path: Path, run: Callable[[], Rollup]) -> None:
    """A zip's members are each read (photos as material, a broken 附件1 as 格式不符); inbox/ is left unchanged."""
    inbox = tmp_path / "inbox"
    _put(inbox, "U003/活动资料.zip", _zip({"照片/1.jpg": jpeg_bytes(), "照片/2.png": png_bytes(),
                                          "附件1_统计表.xlsx": b"PK", "__MACOSX/._1.jpg": b"x"}))
    before = _snapshot(inbox)
    rollup = run()
    assert _snapshot(inbox) == before
    sub = _sub(rollup, "U003/活动资料.zip")
    assert sub.outcome == Outcome.UNPACKED and sub.unit is not None and sub.unit.code == "U003"
    assert "压缩包内有 3 个文件" in sub.note
    photo = _sub(rollup, "U003/活动资料.zip!/照片/1.jpg")
    assert photo.material_kind == IMAGE and photo.unit is not None and photo.unit.code == "U003"
    form = _sub(rollup, "U003/活动资料.zip!/附件1_统计表.xlsx")
    assert form.outcome == Outcome.UNSUPPORTED and form.form_id == "annex1" and form.unit == sub.unit
    assert rollup.status("U003", "annex1").status == "格式不符"
    assert not [s for s in rollup.submissions if "__MACOSX" in s.file]


def test_archive_names_in_gbk_are_decoded(tmp_path: Path, run: Callable[[], Rollup]) -> None:
    """Entry names a Chinese Windows zip tool wrote in GBK (no UTF-8 flag) are shown correctly."""
    gbk = "附件1报表.xlsx".encode("gbk")
    placeholder = b"abcdefghi.xlsx"
    assert len(gbk) == len(placeholder)
    raw = _zip({placeholder.decode(): b"x"}).replace(placeholder, gbk)
    _put(tmp_path / "inbox", "U003/资料.zip", raw)
    assert _sub(run(), "U003/资料.zip!/附件1报表.xlsx").container == "U003/资料.zip"


def test_archive_caps_from_campaign_limits(tmp_path: Path, forms: Forms, campaign: Campaign, roster: Roster) -> None:
    """Too many entries leave the directory unread; a high compression ratio draws a 警告."""
    inbox = tmp_path / "inbox"
    _put(inbox, "U004/很多文件.zip", _zip({f"{i}.jpg": b"x" for i in range(5)}))
    _put(inbox, "U004/炸弹.zip", _zip({"zeros.bin": bytes(4 << 20)}))
    limited = dataclasses.replace(campaign, limits=Limits(max_zip_entries=3))
    rollup = _run(inbox, tmp_path / "outbox", forms, limited, roster)
    many = _sub(rollup, "U004/很多文件.zip")
    assert "压缩包内文件过多（超过 3 个的上限）" in many.note and "5 个文件" not in many.note
    bomb = _sub(rollup, "U004/炸弹.zip")
    assert [f.rule for f in bomb.findings] == ["压缩包异常"] and "压缩比" in bomb.note


# ----------------------------------------------------------------------------- outputs


def test_status_sheet_summary_column_and_count(tmp_path: Path, run: Callable[[], Rollup]) -> None:
    """报送情况 says 已报送/未报送 on every unit's 附件1 row, and the summary line counts the missing ones."""
    _put(tmp_path / "inbox", "清河县顺达货物运输有限公司/活动总结.docx", docx_bytes(["活动总结"]))
    rollup = run()
    wb = openpyxl.load_workbook(tmp_path / "outbox" / rollup_name(rollup), read_only=True)
    try:
        rows = list(wb["报送情况"].iter_rows(values_only=True))
    finally:
        wb.close()
    heads = [[str(v or "").replace("\n", "") for v in r] for r in rows]  # headings are broken into lines
    head = next(i for i, r in enumerate(heads) if r and r[0] == "单位编码")
    col = heads[head].index("活动总结")
    cells = {(r[0], r[2]): r[col] for r in rows[head + 1:] if r and r[0]}
    assert cells[("U001", "附件1")] == "已报送"
    assert cells[("U002", "附件1")] == "未报送"
    assert cells[("U001", "附件2")] in (None, "")
    lines = summary_lines(rollup, tmp_path / "outbox" / "x.xlsx")
    assert any("活动总结：应报 20 个单位，已报送 1，未报送 19" in line for line in lines)
    assert "+ 材料 1" in lines[0]


def test_materials_sheet_links_inside_inbox(tmp_path: Path, run: Callable[[], Rollup]) -> None:
    """材料清单 links each file relative to the workbook, and never links to a target outside inbox/."""
    inbox = tmp_path / "inbox"
    _put(inbox, "U001/照片 1.jpg", jpeg_bytes())
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes())
    (inbox / "U002").mkdir()
    (inbox / "U002" / "照片.png").symlink_to(secret)
    rollup = run()
    wb = openpyxl.load_workbook(tmp_path / "outbox" / rollup_name(rollup))
    try:
        ws = wb["材料清单"]
        links = {ws.cell(r, 4).value: ws.cell(r, 4).hyperlink for r in range(2, ws.max_row + 1)}
    finally:
        wb.close()
    good = links["U001/照片 1.jpg"]
    assert good is not None
    target = good.target.replace("\\", "/").replace("%20", " ")
    assert target == "../inbox/U001/照片 1.jpg"
    assert (tmp_path / "outbox" / target).resolve() == (inbox / "U001" / "照片 1.jpg").resolve()
    assert links["U002/照片.png"] is None


def test_no_material_reported_as_a_rejected_form(tmp_path: Path, run: Callable[[], Rollup]) -> None:
    """Material never gets an 错误 in issues.csv nor a row in status.csv."""
    inbox = tmp_path / "inbox"
    for rel, data in (("U001/总结.docx", docx_bytes(["总结"])), ("U001/a.jpg", jpeg_bytes()),
                      ("U002/宣传册.xlsx", b"%PDF-1.4\n"), ("U002/b.jpg", jpeg_bytes()), ("x/空.png", b""),
                      ("U005/v.mp4", mp4_bytes()), ("U006/z.zip", _zip({"a.jpg": jpeg_bytes()}))):
        _put(inbox, rel, data)
    rollup = run()
    material = {s.file for s in rollup.submissions if s.outcome == Outcome.MATERIAL}
    assert len(material) == 7
    outbox = tmp_path / "outbox"
    assert not [r for r in _csv(outbox / "issues.csv") if r["file"] in material and r["severity"] == Severity.ERROR]
    assert not [r for r in _csv(outbox / "status.csv") if r["file"] in material]
    assert {r["file"] for r in _csv(outbox / "materials.csv")} == material


def test_every_file_accounted_for(tmp_path: Path, run: Callable[[], Rollup], template: Callable[..., Path],
                                  forms: Forms, campaign: Campaign, roster: Roster, template_dir: Path) -> None:
    """Every file under inbox/ shows up in status.csv, issues.csv or materials.csv."""
    inbox = tmp_path / "inbox"
    u1 = roster.by_code("U001")
    assert u1 is not None
    _filled(template_dir, inbox, forms["annex1"], campaign, u1, "2023-06-28/U001_附件1.xlsx")
    _put(inbox, "2023-06-28/空表.xlsx", template("annex1", roster.by_code("U002")).read_bytes())
    _put(inbox, "2023-06-28/乱码.xlsx", b"\x00garbage" * 4)
    _put(inbox, "2023-06-28/清河县顺达货物运输有限公司/总结.docx", docx_bytes(["总结"]))
    _put(inbox, "2023-06-28/现场照片.jpg", jpeg_bytes())
    _put(inbox, "2023-06-28/统计表.xlsx", b"%PDF-1.4\n")
    _put(inbox, "2023-06-28/资料.zip", _zip({"a.jpg": jpeg_bytes()}))
    rollup = run()
    assert _sub(rollup, "2023-06-28/U001_附件1.xlsx").outcome == Outcome.ACCEPTED
    outbox = tmp_path / "outbox"
    listed = ({r["file"] for r in _csv(outbox / "status.csv")} | {r["file"] for r in _csv(outbox / "issues.csv")}
              | {r["file"] for r in _csv(outbox / "materials.csv")})
    on_disk = {p.relative_to(inbox).as_posix() for p in inbox.rglob("*") if p.is_file()}
    assert on_disk - listed == set()


# ----------------------------------------------------------------------------- reminders and demo


def test_summary_reminder_after_deadline(tmp_path: Path, forms: Forms, campaign: Campaign, roster: Roster,
                                         template_dir: Path) -> None:
    """After the 附件1 deadline a unit that sent 附件1 but no 活动总结 has it in its one reminder; before it, not."""
    from pipeline.outputs.mail.drafts import draft_reminders

    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    u1, u2 = roster.by_code("U001"), roster.by_code("U002")
    assert u1 is not None and u2 is not None
    for unit in (u1, u2):
        _filled(template_dir, inbox, forms["annex1"], campaign, unit)
    _put(inbox, "U002/活动总结.docx", docx_bytes(["活动总结"]))
    rollup = rollup_of(inbox, forms, campaign, roster)
    due = campaign.deadline("annex1_due")
    before = draft_reminders(rollup, template_dir, outbox, on=due)
    assert not [d for d in before.drafts if "活动总结 未报送" in d.items]
    after = draft_reminders(rollup, template_dir, outbox, on=due + dt.timedelta(days=1))
    summary = [d for d in after.drafts if "活动总结 未报送" in d.items]
    assert [d.unit.code for d in summary] == ["U001"]
    assert summary[0].subject == "关于催报2023年“安全生产月”活动联络员表及活动总结的通知"
    assert summary[0].items == ("附件2 未报送", "活动总结 未报送")
    assert [p.name for p in summary[0].attachments] == [template_name(forms["annex2"], u1)]
    assert summary[0].path.is_file()


def test_demo_materials_attributed_as_planned(tmp_path: Path, forms: Forms, campaign: Campaign,
                                              roster: Roster) -> None:
    """The demo's sample material comes out with the unit and kind its answer key expects."""
    samples = demo_materials(roster, campaign)
    for sample in samples:
        sample.write(tmp_path / "inbox")
    rollup = rollup_of(tmp_path / "inbox", forms, campaign, roster)
    got = {s.file: (s.unit.code if s.unit else "", s.material_kind) for s in rollup.submissions}
    truth: dict[str, object] = {"files": {}}
    add_to_truth(truth, samples, roster)
    expected = truth["materials"]
    assert isinstance(expected, dict)
    assert got == {rel: (m["unit_code"], m["kind"]) for rel, m in expected.items()}


def test_sniff_recognises_avi_heic_and_quicktime(tmp_path: Path) -> None:
    """AVI (RIFF…AVI), HEIC (ftyp heic) and an ftyp-less QuickTime file are told apart by content."""
    cases = {"a.bin": (b"RIFF\x00\x00\x00\x00AVI LIST", "video"),
             "b.bin": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image"),
             "c.bin": (b"\x00\x00\x00\x08moov", "video"),
             "d.bin": (mp4_bytes(), "video")}
    for name, (data, kind) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert sniff(path).kind == kind, name


def test_docx_with_a_dtd_is_not_read(tmp_path: Path, run: Callable[[], Rollup]) -> None:
    """A .docx that fails the workbook guards (here a DOCTYPE) is listed but its paragraphs are never parsed."""
    body = docx_bytes(["活动总结"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(body)) as src, zipfile.ZipFile(buffer, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "word/document.xml":
                data = data.replace(b"<w:document", b'<!DOCTYPE d [<!ENTITY x "y">]><w:document', 1)
            dst.writestr(info, data)
    _put(tmp_path / "inbox", "U001/报告.docx", buffer.getvalue())
    _put(tmp_path / "inbox", "U001/照片.jpg", jpeg_bytes())  # not its only file: a lone document would be 格式不符
    sub = _sub(run(), "U001/报告.docx")
    assert sub.material_kind == TEXT and "未读取其内容" in sub.note and sub.errors == 0
