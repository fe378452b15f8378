"""Find the form and its fields in a :class:`~pipeline.workbook.book.Book`.

Fields are located by, in order: the template's ``_meta`` plus its defined names, defined
names alone (a copied sheet keeps them), then the printed labels.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pipeline.forms.layout import Cell, FormLayout, build_layout
from pipeline.forms.spec import PROGRAM_SHEETS, FormSpec
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import normalise_name
from pipeline.workbook.book import Book, Grid, grid_pos, parse_ref

if TYPE_CHECKING:
    pass



def norm_label(text: Any) -> str:
    if text is None:
        return ""
    if isinstance(text, float) and text.is_integer():
        text = int(text)
    return _norm_text(str(text))


@functools.lru_cache(maxsize=1 << 16)
def _norm_text(text: str) -> str:
    # Every return repeats the same labels: normalise each distinct text once per run.
    return normalise_name(text).rstrip(":：")


def label_positions(grid: Grid) -> dict[str, tuple[int, int]]:
    """Normalised text of every string cell -> its (row, column), first occurrence (row by row) wins."""
    found: dict[str, tuple[int, int]] = {}
    for pos in sorted(grid.cells):
        value = grid.cells[pos]
        if isinstance(value, str):
            found.setdefault(norm_label(value), pos)
    return found


_LAYOUTS: dict[tuple[int, int, int], tuple[FormSpec, FormLayout]] = {}


def layout_of(spec: FormSpec, year: int, offset: int = 0) -> FormLayout:
    """:func:`~pipeline.forms.layout.build_layout`, memoised by the spec's identity: its own cache hashes the whole
    FormSpec (every field) on each call, once per file. The spec is kept in the value so its id cannot be reused."""
    key = (id(spec), year, offset)
    if key not in _LAYOUTS:
        _LAYOUTS[key] = (spec, build_layout(spec, year, offset))
    return _LAYOUTS[key][1]


# Per-layout facts, computed once: layouts are built once per form and read for every file.
# The layout itself is kept in the value so that its id cannot be reused while cached.
_OFFSETS: dict[int, tuple[FormLayout, dict[str, tuple[str, int, int]]]] = {}
_FIXED: dict[int, tuple[FormLayout, list[tuple[tuple[int, int], Cell, str]]]] = {}


def label_offsets(layout: FormLayout) -> dict[str, tuple[str, int, int]]:
    """For each field: its label text and where the input sits relative to that label."""
    if id(layout) not in _OFFSETS:
        _OFFSETS[id(layout)] = (layout, _compute_label_offsets(layout))
    return _OFFSETS[id(layout)][1]


def fixed_texts(layout: FormLayout) -> list[tuple[tuple[int, int], Cell, str]]:
    """The fixed texts other than field labels: grid position, layout cell and normalised text."""
    if id(layout) not in _FIXED:
        offsets = label_offsets(layout)
        field_labels = {(grid_pos(layout.input_for(fid))[0] - dr, grid_pos(layout.input_for(fid))[1] - dc)
                        for fid, (_, dr, dc) in offsets.items()}
        fixed = [(grid_pos(c), c, norm_label(c.text)) for c in layout.labels if grid_pos(c) not in field_labels]
        _FIXED[id(layout)] = (layout, fixed)
    return _FIXED[id(layout)][1]


def _compute_label_offsets(layout: FormLayout) -> dict[str, tuple[str, int, int]]:
    by_pos = {(c.row, c.col): c for c in layout.labels}
    offsets: dict[str, tuple[str, int, int]] = {}
    for cell in layout.inputs:
        assert cell.field is not None
        for dr, dc in ((0, -1), (-1, 0)):
            label = by_pos.get((cell.row + dr, cell.col + dc))
            if label and norm_label(label.text) == norm_label(cell.field.label):
                offsets[cell.field.id] = (norm_label(label.text), -dr, -dc)
                break
    return offsets


def identify_form(book: Book, meta: Mapping[str, str], forms: Mapping[str, FormSpec],
                  campaign: Campaign) -> tuple[FormSpec | None, str]:
    """Which form a workbook holds, and how that was decided (meta / names / labels)."""
    if meta.get("form_id") in forms:
        return forms[meta["form_id"]], "meta"
    names = set(book.names)
    best: tuple[float, FormSpec | None] = (0.0, None)
    for spec in forms.values():
        share = len(names & {f.id for f in spec.fields}) / len(spec.fields)
        best = max(best, (share, spec), key=lambda b: b[0])
    if best[1] is not None and best[0] >= 0.5:
        return best[1], "names"
    for grid in book.sheets:
        if grid.title in PROGRAM_SHEETS:
            continue
        labels = label_positions(grid)
        for spec in forms.values():
            offsets = label_offsets(layout_of(spec, campaign.year))
            hits = sum(text in labels for text, _, _ in offsets.values())
            if hits >= 0.5 * len(offsets):
                return spec, "labels"
    return None, ""


Located = dict[str, tuple[Grid, int, int]]


def _form_grid(book: Book, spec: FormSpec, by_name: Located) -> Grid | None:
    """The sheet holding the form: where most names point, else the spec's sheet, else the first sheet."""
    if by_name:
        title, _ = Counter(g.title for g, _, _ in by_name.values()).most_common(1)[0]
        return book.sheet(title)
    named = book.sheet(spec.sheet)
    if named is not None:
        return named
    return next((g for g in book.sheets if g.title not in PROGRAM_SHEETS), None)


def locate_fields(book: Book, spec: FormSpec, campaign: Campaign) -> tuple[Located, Located, Grid | None]:
    """Each field's cell by defined name, falling back to its printed label.

    Returns all located fields, those located by name, and the sheet holding the form.
    """
    limits = campaign.limits
    fields, names = spec.fields, book.names
    titled: dict[str, Grid] = {}
    for sheet in book.sheets:
        titled.setdefault(sheet.title, sheet)  # the first sheet of a title, as Book.sheet finds it
    by_name: Located = {}
    for f in fields:
        target = names.get(f.id)
        if target is None:
            continue
        grid, pos = titled.get(target[0]), parse_ref(target[1], limits)
        if grid is not None and pos is not None:
            by_name[f.id] = (grid, *pos)
    form = _form_grid(book, spec, by_name)
    located = dict(by_name)
    missing = [f for f in fields if f.id not in located]
    if missing and form is not None:
        offsets = label_offsets(layout_of(spec, campaign.year))
        labels = label_positions(form)
        for f in missing:
            if f.id in offsets and offsets[f.id][0] in labels:
                _, dr, dc = offsets[f.id]
                row, col = labels[offsets[f.id][0]]
                if row + dr <= limits.max_rows and col + dc <= limits.max_columns:
                    located[f.id] = (form, row + dr, col + dc)
    return located, by_name, form
