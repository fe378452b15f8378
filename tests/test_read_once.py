"""Reading one return cheaply without reading it differently (issue #24).

The sniffer keeps a small package's bytes and the guards, the fast reader and calamine read those
instead of the file; small parts are judged whole; what returns of one template share is memoised on
the bytes (or the object) it depends on. Each test here fails if a shortcut changes what is read or said.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
from containers import zip_bytes
from returns import clean_values, make_return, settings

import pipeline.safety.sniff as sniffing
import pipeline.workbook.fastread as fastread
import pipeline.workbook.readas as readas
from pipeline.forms.layout import build_layout
from pipeline.intake.scan import new_submission
from pipeline.safety.guards import GuardError, Package, check_package
from pipeline.settings.campaign import Limits
from pipeline.workbook.locate import layout_of
from pipeline.workbook.read import read_return
from pipeline.workbook.sheetxml import MAIN, sheet_facts

COUNT_FIELD = "s1_center_study_times"


def test_sniffer_keeps_a_small_package_and_the_guard_reads_the_same_bytes(tmp_path: Path) -> None:
    """A return's sniffed content is its bytes; the guard over them finds what it finds over the file."""
    path = make_return(tmp_path, "annex1", "U001", clean_values("annex1"), name="U001_附件1.xlsx")
    sniffed = sniffing.sniff(path)
    assert sniffed.kind == sniffing.WORKBOOK and sniffed.content == path.read_bytes()
    limits = settings()[1].limits
    from_bytes, from_path = check_package(sniffed.content, limits), check_package(path, limits)
    assert (from_bytes.names, from_bytes.parts) == (from_path.names, from_path.parts)
    assert from_bytes.content is sniffed.content and from_path.content is None


def test_sniffer_keeps_no_bytes_of_a_large_or_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above KEEP_FILE_BYTES, or for a zip that is not a form, nothing is kept, and the return still reads the same."""
    forms, campaign, roster = settings()
    path = make_return(tmp_path / "inbox", "annex1", "U001", clean_values("annex1", **{COUNT_FIELD: 7}),
                       name="U001_附件1.xlsx")
    kept = new_submission(path, path.parent)
    read_return(kept, sniffing.sniff(path), forms, campaign, roster)
    monkeypatch.setattr(sniffing, "KEEP_FILE_BYTES", path.stat().st_size - 1)
    large = sniffing.sniff(path)
    assert large.kind == sniffing.WORKBOOK and large.content is None
    unkept = new_submission(path, path.parent)
    read_return(unkept, large, forms, campaign, roster)
    assert unkept.values == kept.values and unkept.values[COUNT_FIELD] == 7
    assert [f.message for f in unkept.findings] == [f.message for f in kept.findings]
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("notes.txt", "hello")
    assert sniffing.sniff(archive).content is None


def test_return_is_read_from_the_sniffed_bytes(tmp_path: Path) -> None:
    """Once sniffed, a plain return is guarded and read from the bytes the sniffer kept, not from the file again."""
    forms, campaign, roster = settings()
    path = make_return(tmp_path / "inbox", "annex1", "U001", clean_values("annex1", **{COUNT_FIELD: 11}),
                       name="U001_附件1.xlsx")
    other = make_return(tmp_path / "other", "annex1", "U001", clean_values("annex1", **{COUNT_FIELD: 22}),
                        name="U001_附件1.xlsx")
    sub = new_submission(path, path.parent)
    sniffed = sniffing.sniff(path)
    path.write_bytes(other.read_bytes())  # were the file read again, it would say 22
    read_return(sub, sniffed, forms, campaign, roster)
    assert sub.values[COUNT_FIELD] == 11


def test_small_part_findings_are_those_of_the_chunked_scan() -> None:
    """Tags past the cap in an early chunk are 内容过多 even with a DOCTYPE further on; a DOCTYPE first is 不安全内容."""
    limits = Limits(max_rows=1, max_columns=1)  # at most 50,006 tags per part
    tags = b"<b/>" * 70_000  # 280 KB, kept whole: past the cap in the fourth 64 KB chunk, the end in the fifth
    late = zip_bytes({"customXml/item1.xml": b"<a>" + tags + b"<!DOCTYPE a></a>"})
    early = zip_bytes({"customXml/item1.xml": b"<!DOCTYPE a><a>" + tags + b"</a>"})
    for data, rule in ((late, "内容过多"), (early, "不安全内容")):
        with pytest.raises(GuardError) as refused:
            check_package(data, limits)
        assert refused.value.rule == rule and "customXml/item1.xml" in refused.value.message


def test_damaged_small_part_is_reported_as_damaged(tmp_path: Path) -> None:
    """A part whose inflated bytes fail their CRC is 文件损坏, read from the file or from its bytes."""
    data = bytearray(zip_bytes({"xl/workbook.xml": b"<workbook>" + b"<x/>" * 200 + b"</workbook>"}))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("xl/workbook.xml")
    data[info.header_offset + 14] ^= 0xFF  # the CRC in the local header is not checked; flip the directory's
    directory = bytes(data).rindex(b"PK\x01\x02")
    data[directory + 16] ^= 0xFF
    path = tmp_path / "bad.xlsx"
    path.write_bytes(bytes(data))
    for source in (bytes(data), path):
        with pytest.raises(GuardError) as refused:
            check_package(source, Limits())
        assert refused.value.rule == "文件损坏" and "xl/workbook.xml" in refused.value.message


def _app(name: str) -> Package:
    xml = ('<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
           f"<Application>{name}</Application></Properties>").encode()
    return Package(("docProps/app.xml",), {"docProps/app.xml": xml})


def test_application_memo_answers_for_each_distinct_part() -> None:
    """The memoised Application follows the part's bytes: parts differing in one byte give each their own answer."""
    assert readas.application(_app("WPS Office")) == "WPS Office" and readas.resaved(_app("WPS Office"))
    assert readas.application(_app("WPS Officf")) == "WPS Officf"
    assert not readas.resaved(_app("Microsoft Excel"))
    assert readas.resaved(_app("LibreOffice/7.5"))


def test_layout_memo_is_per_spec_object() -> None:
    """layout_of gives build_layout's layout, and a changed spec (another object) its own layout, not the first one's."""
    forms, campaign, _ = settings()
    spec = forms["annex1"]
    assert layout_of(spec, campaign.year) == build_layout(spec, campaign.year)
    assert layout_of(spec, campaign.year, 3) == build_layout(spec, campaign.year, 3)
    shorter = dataclasses.replace(spec, sections=spec.sections[:2])
    assert layout_of(shorter, campaign.year) == build_layout(shorter, campaign.year)
    assert layout_of(shorter, campaign.year) != layout_of(spec, campaign.year)


def _worksheet(text: str, preserve: bool) -> bytes:
    space = ' xml:space="preserve"' if preserve else ""
    return (f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t{space}>{text}</t></is>'
            '</c><c r="B1" t="inlineStr"><is><t>plain</t></is></c></row></sheetData></worksheet>').encode()


@pytest.mark.parametrize("text", [" lead", "trail\t", "both\n", "x"])
def test_trim_check_reads_each_text_flag(text: str) -> None:
    """Text with whitespace at an end is plain only under xml:space="preserve"; other text is plain either way."""
    limits = Limits()
    edged = text != text.strip()
    assert sheet_facts(_worksheet(text, preserve=True), limits) is not None
    assert (sheet_facts(_worksheet(text, preserve=False), limits) is None) is edged


def test_grid_holds_what_the_full_reader_holds_and_declines_the_rest() -> None:
    """Plain values are kept (a date as a midnight datetime, booleans as booleans); empties are skipped."""
    facts = fastread.SheetFacts(protected=True)
    rows = [[True, dt.date(2023, 6, 1), "", None, 3, 2.5, "x", False, 0],
            [dt.datetime(2023, 6, 1, 8, 30), "", 0.0]]
    grid = fastread._grid("表", "visible", facts, rows)
    assert grid is not None and grid.protected is True
    assert grid.cells == {(1, 1): True, (1, 2): dt.datetime(2023, 6, 1), (1, 5): 3, (1, 6): 2.5, (1, 7): "x",
                          (1, 8): False, (1, 9): 0, (2, 1): dt.datetime(2023, 6, 1, 8, 30), (2, 3): 0.0}
    assert type(grid.cells[(1, 1)]) is bool and type(grid.cells[(1, 2)]) is dt.datetime
    for odd in (-1, 2958465, float("nan"), dt.time(1), dt.timedelta(hours=1), object()):
        assert fastread._grid("表", "visible", facts, [["a", odd]]) is None, odd
