"""Scanned and photographed returns (issue #25), read from a corpus built from our own filled forms.

The heavy tests share one corpus built once per session (LibreOffice → PDF → pypdfium2 raster →
seal, rotation, skew, perspective, JPEG, noise → images and an image-only PDF) and one rollup of it;
OCR runs once per page there. The light tests check the parts that need no OCR.
"""

from __future__ import annotations

import csv
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import scans
from returns import count_ids, make_return, read_csv, rollup, roster_unit, spec, statuses

from pipeline.checks.rollup import Rollup
from pipeline.model import Outcome, Submission
from pipeline.scans import engine
from pipeline.scans.layout import PageLines, lay_out, skipped_spans
from pipeline.scans.lines import Line
from pipeline.scans.read import CHECK_RULE, CHECK_TEXT, MISSING_ON_SCAN, SCANNED, UNSURE_RULE, part_of

FORM = "annex1"
BLANK, SMUDGED = count_ids()[4], count_ids()[6]  # 发表心得体会·篇数 (no pair) and a second box of U005's scan


@dataclass
class Corpus:
    """The scanned inbox, what was typed into each unit's form, and the rollup of it."""

    inbox: Path
    outbox: Path
    truth: dict[str, dict[str, Any]]
    result: Rollup

    def sub(self, name: str) -> Submission:
        """The submission of one file of the corpus."""
        return next(s for s in self.result.submissions if s.file == name)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory, soffice: str, office_profile: Path) -> Corpus:
    """Seven scanned pages of three units' returns, and their rollup (OCR of each page happens here, once)."""
    root = tmp_path_factory.mktemp("scans")
    inbox, outbox = root / "inbox", root / "outbox"
    inbox.mkdir()
    truth = {code: scans.answers(seed) for code, seed in (("U005", 5), ("U006", 6), ("U007", 7))}
    truth["U005"][BLANK] = truth["U005"][SMUDGED] = None  # two boxes left empty; a blot is put in the second
    template5 = scans.template_pdf(root, soffice, office_profile, "U005", truth["U005"])
    template6 = scans.template_pdf(root, soffice, office_profile, "U006", truth["U006"])
    word7 = scans.word_pdf(root, soffice, office_profile, roster_unit("U007").name, truth["U007"])
    # U005: a stamped scan at 200 dpi, seal over the 填报单位 line, first page skewed by 3°, no text layer.
    pages = scans.render(template5, 200)
    page, label = scans.box_of(template5, 200, "填报单位")
    _, heading = scans.box_of(template5, 200, "填报数")
    blot, smudged = scans.box_of(template5, 200, spec(FORM).field(SMUDGED).label)
    scans.cv2.circle(pages[blot], (int((heading[0] + heading[2]) / 2), int((smudged[1] + smudged[3]) / 2)), 5,
                     (120, 120, 120), -1)
    pages[page] = scans.rotated(scans.seal(pages[page], (label[2] + 120, (label[1] + label[3]) / 2), 90), -3)
    (inbox / "附件1_U005_盖章扫描件.pdf").write_bytes(scans.image_pdf(pages, 200))
    # U006: two phone photos at 150 dpi, JPEG quality 60: upside down with a seal over a number and noise;
    # on its side with perspective.
    pages = scans.render(template6, 150)
    page, label = scans.box_of(template6, 150, "发表心得体会")
    right = pages[page].shape[1] * 0.83
    pages[page] = scans.seal(pages[page], (right, (label[1] + label[3]) / 2), 60)
    (inbox / "附件1_U006(1).jpg").write_bytes(scans.jpeg(scans.noisy(scans.rotated(pages[0], 180))))
    (inbox / "附件1_U006(2).jpg").write_bytes(scans.jpeg(scans.photographed(scans.rotated(pages[1], 90))))
    # U007: the notice's Word form, scanned at 150 dpi, skewed by 3°, with noise, as an image-only PDF.
    pages = [scans.noisy(scans.rotated(p, 3)) for p in scans.render(word7, 150)]
    (inbox / "附件1_U007_扫描.pdf").write_bytes(scans.image_pdf(pages, 150))
    return Corpus(inbox, outbox, truth, rollup(inbox, outbox))


def _expected(corpus: Corpus, sub: Submission, field_id: str) -> str:
    value = corpus.truth[sub.unit.code if sub.unit else ""].get(field_id)
    if field_id == "unit_name":
        return sub.unit.name if sub.unit else ""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return "" if value is None else str(value)


def _scanned(corpus: Corpus) -> list[tuple[Submission, Any]]:
    return [(s, v) for s in corpus.result.submissions for v in s.scanned]


@pytest.mark.slow
@pytest.mark.soffice
def test_values_are_read_exactly_and_none_is_wrong_above_the_threshold(corpus: Corpus) -> None:
    """At least 95% of the values on the scans are read exactly, and every value read wrong is an 错误, never counted."""
    read = _scanned(corpus)
    counts = [(s, v) for s, v in read if spec(FORM).field(v.field_id).kind == "count"]
    assert len(counts) >= 3 * len(count_ids()) * 95 // 100
    exact = [(s, v) for s, v in counts if v.value == _expected(corpus, s, v.field_id)]
    assert len(exact) >= 0.95 * len(counts)
    wrong = [(s.file, v.field_id, v.value, v.confidence) for s, v in counts
             if v.value != _expected(corpus, s, v.field_id) and not v.problem]
    assert wrong == []


@pytest.mark.slow
@pytest.mark.soffice
def test_every_scanned_return_is_counted_with_the_warning_or_returned_naming_its_items(corpus: Corpus) -> None:
    """Each unit's scan is read as 扫描识别: counted with “扫描件识别，请核对”, or 退回 with the unsure items named."""
    table = statuses(corpus.outbox)
    for code in corpus.truth:
        row = table[(code, FORM)]
        assert row["read_as"] == SCANNED
        sub = corpus.sub(row["file"])
        if row["status"] == "有警告":
            assert any(f.rule == CHECK_RULE and CHECK_TEXT in f.message for f in sub.findings)
        else:
            assert row["status"] == "退回"
            unsure = [v for v in sub.scanned if v.problem]
            named = " ".join(f.message for f in sub.findings if f.rule in (UNSURE_RULE, MISSING_ON_SCAN))
            assert unsure and all(v.label in named for v in unsure)


@pytest.mark.slow
@pytest.mark.soffice
def test_a_seal_over_the_unit_line_keeps_the_unit_and_a_seal_over_a_number_is_an_error(corpus: Corpus) -> None:
    """The seal over 填报单位 does not move the return; the number under the other seal is not trusted."""
    assert corpus.sub("附件1_U005_盖章扫描件.pdf").unit == roster_unit("U005")
    sealed = corpus.sub("附件1_U006(1).jpg")
    assert any("公章" in v.problem for v in sealed.scanned)
    assert sealed.outcome == Outcome.REJECTED


@pytest.mark.slow
@pytest.mark.soffice
def test_two_photos_of_one_form_are_one_return_and_a_printed_zero_is_a_value(corpus: Corpus) -> None:
    """附件1(1).jpg and 附件1(2).jpg make one return with every item; the second is filed as its 续页; 0 stays 0."""
    first, second = corpus.sub("附件1_U006(1).jpg"), corpus.sub("附件1_U006(2).jpg")
    assert second.outcome == Outcome.MATERIAL and second.form_id is None
    assert all(fid in first.raw for fid in count_ids())
    zeros = [fid for fid in count_ids() if corpus.truth["U005"][fid] == 0]
    scan = corpus.sub("附件1_U005_盖章扫描件.pdf")
    assert zeros and all(scan.values.get(fid) == 0 for fid in zeros)


@pytest.mark.slow
@pytest.mark.soffice
def test_an_empty_box_is_blank_and_a_blot_is_never_taken_for_a_number(corpus: Corpus) -> None:
    """An empty box is read as blank (not 0); a box holding only a blot is an 错误 naming its item, never a value."""
    scan = corpus.sub("附件1_U005_盖章扫描件.pdf")
    assert scan.values.get(BLANK) is None
    assert [v.problem for v in scan.scanned if v.field_id == BLANK] in ([], [""])
    label = spec(FORM).field(SMUDGED).label
    assert scan.values.get(SMUDGED) in (None, "") or scan.errors
    assert any(f.severity == "错误" and (label in f.message or f.label == label) for f in scan.findings)
    assert scan.outcome == Outcome.REJECTED


@pytest.mark.slow
@pytest.mark.soffice
def test_the_confirm_sheet_shows_each_crop(corpus: Corpus) -> None:
    """The rollup workbook's 核对 sheet has one row and one cropped image per value read from a scan."""
    book = next(corpus.outbox.glob("*.xlsx"))
    with zipfile.ZipFile(book) as zf:
        images = [n for n in zf.namelist() if n.startswith("xl/media/")]
        drawings = b"".join(zf.read(n) for n in zf.namelist() if n.startswith("xl/drawings/drawing"))
    rows = read_csv(corpus.outbox / "核对.csv")
    assert len(rows) == len(_scanned(corpus)) > 0
    assert len(images) == len(rows)
    assert drawings.count(b"<xdr:pic>") == len(rows)


@pytest.mark.slow
@pytest.mark.soffice
def test_values_confirmed_in_the_csv_drop_the_warning(corpus: Corpus, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Marking every value 核对=是 removes the 扫描件识别 警告 on the next rollup, which runs no OCR (parse cache)."""
    outbox = tmp_path / "outbox"
    shutil.copytree(corpus.outbox, outbox)
    path = outbox / "核对.csv"
    rows = read_csv(path)
    for row in rows:
        row["核对"] = "是"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    def refuse() -> None:
        raise AssertionError("a page already read must not be read again")

    monkeypatch.setattr(engine, "_engine", refuse)
    again = rollup(corpus.inbox, outbox)
    assert all(f.rule != CHECK_RULE for s in again.submissions for f in s.findings)
    assert all(row["核对"] == "是" for row in read_csv(path))


@pytest.fixture
def no_ocr(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The OCR engine replaced by one that records every call and fails the test if used."""
    calls: list[str] = []

    def refuse() -> None:
        calls.append("engine")
        raise AssertionError("OCR must not run here")

    monkeypatch.setattr(engine, "_engine", refuse)
    yield calls


def test_an_activity_photo_stays_material_without_ocr(tmp_path: Path, no_ocr: list[str]) -> None:
    """“活动照片1.jpg” (people and a banner) is listed as material, and no OCR runs for it."""
    inbox = tmp_path / "inbox" / "U003_清河县安泰危险货物运输有限公司"
    inbox.mkdir(parents=True)
    (inbox / "活动照片1.jpg").write_bytes(scans.jpeg(scans.activity_photo()))
    result = rollup(tmp_path / "inbox", tmp_path / "outbox")
    (sub,) = result.submissions
    assert sub.outcome == Outcome.MATERIAL and sub.material_kind == "图片"
    assert no_ocr == []


@pytest.mark.soffice
@pytest.mark.parametrize("name", ["附件1_U009.pdf", "U009_回执.pdf"])
def test_a_pdf_printed_from_the_template_is_read_from_its_text_layer(tmp_path: Path, soffice: str, name: str,
                                                                     office_profile: Path, no_ocr: list[str]) -> None:
    """A PDF printed from our template (text layer, no Excel beside it; named as a form or titled as one on its
    first page) is read by the label matcher, without OCR."""
    values = scans.answers(11)
    pdf = scans.template_pdf(tmp_path, soffice, office_profile, "U009", values)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(pdf, inbox / name)
    rollup(inbox, tmp_path / "outbox")
    row = statuses(tmp_path / "outbox")[("U009", FORM)]
    assert row["status"] in ("已通过", "有警告") and row["read_as"] == "PDF原文"
    records = {r["field_id"]: r["value"] for r in read_csv(tmp_path / "outbox" / "records.csv") if r["unit_code"] == "U009"}
    assert all(records.get(fid, "") == str(values[fid]) for fid in count_ids())
    assert no_ocr == []


@pytest.mark.soffice
def test_an_excel_return_wins_over_its_printed_copy_and_differences_are_listed(
        tmp_path: Path, soffice: str, office_profile: Path, no_ocr: list[str]) -> None:
    """Excel + a PDF of the same unit: one counted Excel return, the PDF filed as 盖章件, a 警告 naming the difference."""
    values = scans.answers(12)
    inbox = tmp_path / "inbox"
    make_return(inbox, FORM, "U010", values, name="附件1_U010.xlsx")
    changed = dict(values)
    first = count_ids()[2]
    changed[first] = values[first] + 5
    pdf = scans.template_pdf(tmp_path / "print", soffice, office_profile, "U010", changed)
    shutil.copy(pdf, inbox / "附件1_U010_盖章.pdf")
    result = rollup(inbox, tmp_path / "outbox")
    excel, copy = next(s for s in result.submissions if s.file.endswith(".xlsx")), \
        next(s for s in result.submissions if s.file.endswith(".pdf"))
    assert excel.outcome == Outcome.ACCEPTED
    assert copy.outcome == Outcome.MATERIAL and copy.material_kind == "盖章件" and not copy.errors
    warning = next(f for f in excel.findings if f.rule == "盖章件与Excel不一致")
    assert spec(FORM).field(first).label in warning.message
    assert statuses(tmp_path / "outbox")[("U010", FORM)]["status"] == "有警告"


@pytest.mark.parametrize(("name", "part"), [
    ("附件1(1).jpg", ("附件1", 1)), ("邮件/U003/附件1（2）.png", ("邮件/U003/附件1", 2)),
    ("附件1.jpg", None), ("活动照片1.jpg", None),
])
def test_parts_of_a_form_are_told_by_their_name(name: str, part: tuple[str, int] | None) -> None:
    """“附件1(1).jpg” and “附件1（2）.png” are numbered photos of one form; other names are not."""
    assert part_of(name) == part


def _line(text: str, left: float, top: float, width: float = 60, height: float = 20) -> Line:
    return Line(text, 1.0, (left, top, left + width, top + height))


def test_lines_are_placed_in_the_columns_their_headings_set() -> None:
    """A value printed under 填报数 lands in that column's cell, beside its label, on the label's row."""
    lines = [_line("活动项目", 50, 100), _line("内容要求", 250, 100), _line("进展情况（填报项）", 520, 100, 160),
             _line("填报数", 800, 100), _line("单位", 900, 100),
             _line("学习·次数", 520, 150, 120), _line("12", 815, 152, 20, 18), _line("次", 905, 150, 20)]
    table = lay_out([PageLines(lines, 1000, 1400)])
    label_cell = next(k for k, v in table.grid.cells.items() if v == "学习·次数")
    assert table.grid.cells[(label_cell[0], label_cell[1] + 1)] == "12"
    spans = skipped_spans({"活动项目": 80, "内容要求": 280, "进展情况": 600, "填报数": 830, "单位": 920})
    assert any(low <= 830 <= high for low, high in spans) is False
    assert all(any(low <= x <= high for low, high in spans) for x in (80, 280, 920))


def test_red_ink_is_removed_and_kept_as_a_mask() -> None:
    """A red seal over black print is made white for OCR; the black print stays, and the mask covers the seal."""
    from pipeline.scans.page import remove_red

    image = scans.seal(scans.np.full((200, 200, 3), 255, dtype=scans.np.uint8), (100, 100), 60)
    image[95:105, 20:180] = 0  # a black stroke under the seal
    grey, mask = remove_red(image)
    assert mask[40, 100] > 0 and grey[40, 100] == 255
    assert grey[100, 100] < 60 and grey[100, 30] < 60


def test_the_engine_reads_with_its_bundled_models_and_never_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The models come from the installed wheel: with every download refused, “696” is still read as 696."""
    from rapidocr.utils.download_file import DownloadFile

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("no download may happen at run time")

    monkeypatch.setattr(DownloadFile, "run", refuse)
    engine._engine.cache_clear()
    image = scans.np.full((48, 160, 3), 255, dtype=scans.np.uint8)
    scans.cv2.putText(image, "696", (20, 38), scans.cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 3)
    (read,) = engine.recognise([image])
    assert read.text == "696" and read.score > 0.9
    assert all((engine.model_dir() / name).is_file() for name in (engine.DET_MODEL, engine.REC_MODEL, engine.CLS_MODEL))


def test_unsure_values_are_an_error_naming_them_and_the_rest_a_warning() -> None:
    """A value with a problem makes an 错误 naming its item and what was read; the others are listed in the 警告."""
    from pipeline.model import ScanValue, Severity
    from pipeline.scans.read import ScanRead, scan_findings

    form = spec(FORM)
    first, second = (form.field(fid) for fid in count_ids()[:2])
    read = ScanRead(form, "labels", True, scanned=[
        ScanValue(first.id, first.label, "696", 0.999, b"", 1),
        ScanValue(second.id, second.label, "9", 0.61, b"", 1, "识别可信度0.61，低于0.93")])
    issues = scan_findings(read)
    warning = next(i for i in issues if i.severity == Severity.WARNING)
    error = next(i for i in issues if i.severity == Severity.ERROR)
    assert CHECK_TEXT in warning.message and f"{first.label}“696”" in warning.message
    assert second.label in error.message and "0.61" in error.message and second.label not in warning.message


def test_confirmed_values_leave_the_warning_and_it_goes_when_all_are_confirmed() -> None:
    """核对=是 for one value drops it from the 警告; with every value confirmed the 警告 is gone."""
    from pipeline.checks.confirm import apply_confirmed, key_of
    from pipeline.model import ScanValue, Severity
    from pipeline.scans.read import check_message

    form = spec(FORM)
    first, second = (form.field(fid) for fid in count_ids()[:2])
    values = [ScanValue(first.id, first.label, "12", 0.99, b"", 1), ScanValue(second.id, second.label, "30", 0.98, b"", 1)]
    sub = Submission(file="附件1_U005.jpg", path=Path("附件1_U005.jpg"), sha256="ab" * 32, mtime=0.0, scanned=values)
    sub.add(Severity.WARNING, CHECK_RULE, check_message(values))
    apply_confirmed([sub], frozenset({key_of(sub, first.id, "12")}))
    (left,) = [f for f in sub.findings if f.rule == CHECK_RULE]
    assert first.label not in left.message and second.label in left.message
    apply_confirmed([sub], frozenset({key_of(sub, first.id, "12"), key_of(sub, second.id, "30")}))
    assert not [f for f in sub.findings if f.rule == CHECK_RULE]
