"""A real spreadsheet client: LibreOffice prints the templates and re-saves a filled one.

Each group of files goes through ONE soffice call (module-scoped fixtures), with a profile
private to the session. When CI is "true" these tests are mandatory (see conftest.soffice).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from office import (
    convert,
    defined_cells,
    fill,
    is_true,
    meta_rows,
    named_values,
    pdf_page_sizes,
    pdf_text,
    sample_values,
    sheet_protection,
    sheet_states,
    squeeze,
    unlocked_cells,
    unlocked_defaults,
    validations_by_cell,
)

from pipeline.forms.layout import build_layout, display_width
from pipeline.forms.spec import FormSpec
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster, Unit

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent
A4 = (595.3, 841.9)  # points
MAX_PAGES = {"annex1": 2, "annex2": 1}
Template = Callable[[str, Unit | None], Path]


@dataclass(frozen=True)
class Filled:
    """A template filled with openpyxl, and what was typed into it."""

    spec: FormSpec
    unit: Unit
    path: Path
    values: dict[str, Any]


def _longest_named(roster: Roster) -> Unit:
    return max(roster, key=lambda u: display_width(u.name))


@pytest.fixture(scope="module")
def filled(
    tmp_path_factory: pytest.TempPathFactory, template: Template, forms: dict[str, FormSpec],
    campaign: Campaign, roster: Roster,
) -> dict[str, Filled]:
    """Both forms of the unit with the longest name, every input filled, keyed by form id."""
    out = tmp_path_factory.mktemp("filled")
    unit = _longest_named(roster)
    result = {}
    for spec in forms.values():
        values = sample_values(spec, campaign, unit)
        path = out / f"filled_{spec.id}.xlsx"
        fill(template(spec.id, unit), path, values)
        result[spec.id] = Filled(spec, unit, path, values)
    return result


@pytest.fixture(scope="module")
def pdfs(
    tmp_path_factory: pytest.TempPathFactory, soffice: str, office_profile: Path, template: Template,
    forms: dict[str, FormSpec], roster: Roster, filled: dict[str, Filled],
) -> dict[tuple[str, str], Path]:
    """PDFs of each form blank for a unit, blank generic, and filled: {(form id, variant): pdf}."""
    unit = _longest_named(roster)
    sources = {}
    for spec in forms.values():
        sources[(spec.id, "unit")] = template(spec.id, unit)
        sources[(spec.id, "generic")] = template(spec.id, None)
        sources[(spec.id, "filled")] = filled[spec.id].path
    outputs = convert(soffice, list(sources.values()), tmp_path_factory.mktemp("pdf"), "pdf", office_profile)
    return dict(zip(sources, outputs, strict=True))


@pytest.fixture(scope="module")
def resaved(
    tmp_path_factory: pytest.TempPathFactory, soffice: str, office_profile: Path, filled: dict[str, Filled]
) -> dict[str, Path]:
    """The filled workbooks opened and saved again as .xlsx by LibreOffice, keyed by form id."""
    outputs = convert(
        soffice, [f.path for f in filled.values()], tmp_path_factory.mktemp("lo-xlsx"), "xlsx", office_profile
    )
    return dict(zip(filled, outputs, strict=True))


PDF_CASES = [(form_id, variant) for form_id in MAX_PAGES for variant in ("unit", "generic", "filled")]
PDF_IDS = [f"{form_id}-{variant}" for form_id, variant in PDF_CASES]


@pytest.mark.soffice
@pytest.mark.parametrize(("form_id", "variant"), PDF_CASES, ids=PDF_IDS)
def test_form_prints_on_a4_within_its_page_limit(
    pdfs: dict[tuple[str, str], Path], form_id: str, variant: str
) -> None:
    """附件1 prints on at most two A4 pages and 附件2 on one."""
    sizes = pdf_page_sizes(pdfs[(form_id, variant)])
    assert 1 <= len(sizes) <= MAX_PAGES[form_id]
    for width, height in sizes:
        assert sorted((width, height)) == pytest.approx(A4, abs=1.0)


@pytest.mark.soffice
@pytest.mark.parametrize(("form_id", "variant"), PDF_CASES, ids=PDF_IDS)
def test_printed_form_shows_every_label_in_full(
    pdfs: dict[tuple[str, str], Path], forms: dict[str, FormSpec], campaign: Campaign,
    form_id: str, variant: str,
) -> None:
    """Every field label, section title, 内容要求 and fixed text of the layout appears whole in the PDF text."""
    # LibreOffice leaves clipped text out of the PDF, so a label cut off by a narrow column or
    # a short row goes missing here (a too-narrow 填报数 column shows up as ### instead).
    text = pdf_text(pdfs[(form_id, variant)])
    spec = forms[form_id]
    expected = [f.label for f in spec.fields] + [s.title for s in spec.sections]
    expected += [s.requirement for s in spec.sections if s.requirement]
    expected += [c.text for c in build_layout(spec, campaign.year).labels]
    missing = [t for t in expected if not appears_whole(squeeze(t), text)]
    assert missing == []


def appears_whole(needle: str, text: str) -> bool:
    """Whether ``needle`` starts somewhere in ``text`` and all its characters follow in order nearby.

    pdftotext interleaves the lines of side-by-side cells (a wrapped 内容要求 beside the field
    labels), so a long text is matched as an ordered subsequence within a window three times its
    length; a clipped text still fails because its tail is missing from that window.
    """
    head = needle[:6]
    start = text.find(head)
    while start != -1:
        window = iter(text[start:start + 3 * len(needle) + 20])
        if all(ch in window for ch in needle):
            return True
        start = text.find(head, start + 1)
    return False


@pytest.mark.soffice
@pytest.mark.parametrize("form_id", list(MAX_PAGES))
def test_printed_filled_form_shows_every_answer(
    pdfs: dict[tuple[str, str], Path], filled: dict[str, Filled], form_id: str
) -> None:
    """The unit name, every number, text and the date print in full; no number is shown as ###."""
    text = pdf_text(pdfs[(form_id, "filled")])
    sheet = filled[form_id]
    shown = [sheet.unit.name]
    for value in sheet.values.values():
        shown.append(value.isoformat() if isinstance(value, dt.date) else str(value))
    missing = [s for s in shown if squeeze(s) not in text]
    assert missing == []
    assert "###" not in text


@pytest.mark.soffice
def test_unit_name_prints_on_blank_unit_templates(
    pdfs: dict[tuple[str, str], Path], roster: Roster
) -> None:
    """The longest unit name on the roster prints whole in both of its blank templates."""
    name = _longest_named(roster).name
    for form_id in MAX_PAGES:
        assert name in pdf_text(pdfs[(form_id, "unit")]), form_id


# ----------------------------------------------------------------------------- re-saved by LibreOffice


@pytest.mark.soffice
@pytest.mark.parametrize("form_id", list(MAX_PAGES))
def test_resaved_copy_keeps_sheet_protection(
    resaved: dict[str, Path], forms: dict[str, FormSpec], form_id: str
) -> None:
    """After LibreOffice saves the filled form, the form sheet and _meta are still protected."""
    protection = sheet_protection(resaved[form_id])
    assert set(protection) == {forms[form_id].sheet, "_meta"}
    for sheet, attributes in protection.items():
        assert attributes is not None, sheet
        assert is_true(attributes.get("sheet")), sheet
        assert attributes.get("password"), sheet


@pytest.mark.soffice
@pytest.mark.parametrize("form_id", list(MAX_PAGES))
def test_resaved_copy_keeps_exactly_the_same_unlocked_cells(
    resaved: dict[str, Path], filled: dict[str, Filled], form_id: str
) -> None:
    """The cells a user may type into are the same before and after LibreOffice saves the file."""
    sheet = filled[form_id].spec.sheet
    before = openpyxl.load_workbook(filled[form_id].path)
    after = openpyxl.load_workbook(resaved[form_id])
    assert unlocked_cells(after[sheet]) == unlocked_cells(before[sheet])
    assert unlocked_cells(after[sheet])  # not vacuously equal
    assert unlocked_defaults(after[sheet]) == []
    assert unlocked_cells(after["_meta"]) == set()
    before.close()
    after.close()


@pytest.mark.soffice
@pytest.mark.parametrize("form_id", list(MAX_PAGES))
def test_resaved_copy_keeps_the_defined_names(
    resaved: dict[str, Path], filled: dict[str, Filled], form_id: str
) -> None:
    """Every field's defined name survives and still points at the same cell."""
    before = openpyxl.load_workbook(filled[form_id].path)
    after = openpyxl.load_workbook(resaved[form_id])
    assert defined_cells(after) == defined_cells(before)
    assert set(defined_cells(after)) == {f.id for f in filled[form_id].spec.fields}
    before.close()
    after.close()


def _rule(dv: Any) -> tuple[Any, ...]:
    """What a validation enforces and says, with the defaults LibreOffice writes out made explicit."""
    operator = dv.operator or "between"
    second = dv.formula2 if operator in ("between", "notBetween") else None
    return (dv.type, operator, dv.formula1, second, dv.errorStyle or "stop", bool(dv.showInputMessage),
            bool(dv.showErrorMessage), dv.promptTitle, dv.prompt, dv.errorTitle, dv.error)


@pytest.mark.soffice
@pytest.mark.parametrize("form_id", list(MAX_PAGES))
def test_resaved_copy_keeps_the_data_validations(
    resaved: dict[str, Path], filled: dict[str, Filled], form_id: str
) -> None:
    """Each input keeps its validation (counts still whole numbers 0..1000000) and no new one appears."""
    spec = filled[form_id].spec
    before = openpyxl.load_workbook(filled[form_id].path)
    after = openpyxl.load_workbook(resaved[form_id])
    old = {cell: [_rule(dv) for dv in dvs] for cell, dvs in validations_by_cell(before[spec.sheet]).items()}
    new = {cell: [_rule(dv) for dv in dvs] for cell, dvs in validations_by_cell(after[spec.sheet]).items()}
    assert new == old
    cells = defined_cells(after)
    for f in spec.fields:
        if f.kind == "count":
            ((kind, operator, low, high, *_),) = new[cells[f.id][1]]
            assert (kind, operator, low, high) == ("whole", "between", "0", "1000000"), f.id
    before.close()
    after.close()


@pytest.mark.soffice
@pytest.mark.parametrize("form_id", list(MAX_PAGES))
def test_resaved_copy_keeps_the_meta_sheet(
    resaved: dict[str, Path], filled: dict[str, Filled], form_id: str
) -> None:
    """_meta keeps its rows and stays hidden (LibreOffice turns veryHidden into hidden)."""
    # LibreOffice cannot keep "veryHidden": a Calc sheet is only visible or hidden, and its
    # xlsx export writes state="hidden" for every hidden sheet (sc/source/filter/excel/
    # xcl97rec.cxx, ExcBundlesheet8::SaveXml: `nGrbit == 0x0000 ? "visible" : "hidden"`).
    # So in a file a unit re-saved with LibreOffice, _meta can be shown again via
    # Format > Sheet > Show. Only for that re-saved copy is "hidden" accepted; the
    # templates themselves must be veryHidden (test_templates).
    before, after = filled[form_id].path, resaved[form_id]
    assert sheet_states(before)["_meta"] == "veryHidden"
    states = sheet_states(after)
    assert states[filled[form_id].spec.sheet] == "visible"
    assert states["_meta"] in ("hidden", "veryHidden")  # LibreOffice limitation, see the docstring
    assert meta_rows(after) == meta_rows(before)


@pytest.mark.soffice
@pytest.mark.parametrize("form_id", list(MAX_PAGES))
def test_resaved_copy_keeps_the_values(resaved: dict[str, Path], filled: dict[str, Filled], form_id: str) -> None:
    """Read back by defined name, the LibreOffice copy holds exactly what was typed, with the same types."""
    sheet = filled[form_id]
    back = named_values(resaved[form_id])
    assert back == named_values(sheet.path)
    for f in sheet.spec.fields:
        typed = sheet.values.get(f.id, sheet.unit.name)
        if f.kind == "date":
            assert back[f.id] == dt.datetime.combine(typed, dt.time()), f.id
        else:
            assert back[f.id] == typed, f.id
            assert type(back[f.id]) is type(typed), f.id


# ----------------------------------------------------------------------------- the soffice fixture itself


PROBE = '''
def test_probe(soffice):
    """Needs LibreOffice."""
    assert soffice
'''


def _probe_session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None) -> pytest.RunResult:
    """Run a one-test session using our conftest with nothing on PATH."""
    pytester.makeconftest((TESTS / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(program_errors=(TESTS / "program_errors.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_probe=PROBE)
    empty = pytester.mkdir("empty-bin")
    monkeypatch.setenv("PATH", str(empty))
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")


def test_soffice_missing_in_ci_fails_instead_of_skipping(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With CI=true and no soffice on PATH, a test needing LibreOffice fails; it is never skipped."""
    result = _probe_session(pytester, monkeypatch, "true")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*CI=true, so the LibreOffice tests must run*soffice*"])
    assert result.ret != 0


@pytest.mark.parametrize("ci", [None, "1"])
def test_soffice_missing_outside_ci_skips(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    """Unless CI is exactly "true", a missing soffice skips the test with the reason."""
    result = _probe_session(pytester, monkeypatch, ci)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*soffice*not found on PATH*"])
