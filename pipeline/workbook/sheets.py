"""Several forms in one workbook: each sheet holding a form is its own return, shown as ``file.xlsx#附件2``.

A clerk may gather two units' 附件1 sheets in one workbook, or send 附件1 and 附件2 together.
Each such sheet is read as a workbook of its own (its sheet, the defined names pointing into it,
and ``_meta`` when the template's names point there), identified, validated and counted
separately. The check is cheap for the common case: a workbook with one sheet besides ``_meta``
(every template) is never looked at twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pipeline.forms.spec import META_SHEET, PROGRAM_SHEETS, FormSpec
from pipeline.intake.members import part_digest
from pipeline.model import Outcome, Submission
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster
from pipeline.workbook.book import Book, Grid
from pipeline.workbook.locate import label_offsets, label_positions, layout_of


def _names_on(book: Book, grid: Grid, spec: FormSpec) -> int:
    ids = {f.id for f in spec.fields}
    return sum(1 for name, (title, _) in book.names.items() if title == grid.title and name in ids)


def _sheet_form(book: Book, grid: Grid, forms: Mapping[str, FormSpec], campaign: Campaign) -> FormSpec | None:
    """The form a sheet holds, by the defined names pointing into it, else by its printed labels."""
    for spec in forms.values():
        if _names_on(book, grid, spec) >= 0.5 * len(spec.fields):
            return spec
    labels = label_positions(grid)
    for spec in forms.values():
        offsets = label_offsets(layout_of(spec, campaign.year))
        if offsets and sum(text in labels for text, _, _ in offsets.values()) >= 0.5 * len(offsets):
            return spec
    return None


def form_sheets(book: Book, forms: Mapping[str, FormSpec], campaign: Campaign) -> list[tuple[Grid, FormSpec]]:
    """The sheets holding a form, when there are at least two of them; [] otherwise (the usual case)."""
    grids = [g for g in book.sheets if g.title not in PROGRAM_SHEETS]
    if len(grids) < 2:
        return []
    found = [(g, spec) for g in grids if (spec := _sheet_form(book, g, forms, campaign)) is not None]
    return found if len(found) > 1 else []


def _sheet_book(book: Book, grid: Grid, spec: FormSpec) -> Book:
    """The workbook as if it held this sheet alone (with ``_meta`` when the template's names point here)."""
    names = {n: t for n, t in book.names.items() if t[0] == grid.title}
    meta = book.sheet(META_SHEET)
    own_meta = meta is not None and book.meta.get("form_id") == spec.id and _names_on(book, grid, spec) > 0
    sheets = [grid, meta] if own_meta and meta is not None else [grid]
    return Book(book.source, sheets, names, [], book.package, book.streams)


ReadBook = Callable[[Submission, Book, Mapping[str, FormSpec], Campaign, Roster], FormSpec | None]


def split_sheets(sub: Submission, book: Book, parts: list[tuple[Grid, FormSpec]], forms: Mapping[str, FormSpec],
                 campaign: Campaign, roster: Roster, read_book: ReadBook) -> None:
    """Read every form sheet of ``book`` (with ``read_book``, the reader's own) as a member of ``sub``;
    ``sub`` itself becomes the container."""
    from pipeline.values.normalise import normalise_submission

    members: list[Submission] = []
    for grid, _spec in parts:
        member = Submission(file=f"{sub.file}#{grid.title}", path=sub.path, sha256=part_digest(sub, grid.title),
                            mtime=sub.mtime, size=sub.size, kind=sub.kind, container=sub.file, sender=sub.sender,
                            arrived=sub.arrived)
        found = read_book(member, _sheet_book(book, grid, _spec), forms, campaign, roster)
        if found is not None:
            normalise_submission(member, found, campaign.year)
        members.append(member)
    units = {m.unit.code: m.unit for m in members if m.unit is not None}
    sub.unit = next(iter(units.values())) if len(units) == 1 else None
    sub.outcome, sub.members = Outcome.UNPACKED, members
    shown = "、".join(f"“{grid.title}”" for grid, _ in parts)
    sub.note = f"工作簿中有 {len(parts)} 张报表（工作表{shown}），已分别读取（见“{sub.file}#…”各行）"
