"""Test helper: write 附件1 as a unit would return it in Word, from the spec's own sentences.

Kept free of pytest so that any test module (and a one-off comparison script) can import it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import docx
from docx.oxml import OxmlElement

from pipeline.forms.spec import FormSpec

_PLACEHOLDER = re.compile(r"（\s*\{([a-z0-9_]+)\}\s*）")


@dataclass(frozen=True)
class Style:
    """How the unit typed the form."""

    layout: str = "table"  # "table": the notice's 3-column table; "paragraphs": one paragraph per sentence
    wording: str = "original"  # "original": the notice's wording; "fixed": the spec's corrected wording
    brackets: tuple[str, str] = ("（", "）")
    header: str = "line"  # "line": “填报单位：…联系人：…” on one line; "cells": label cell, value cell
    header_gap: str = "  "  # what separates one header value from the next label on the line
    # Whether a table row may break across pages. A PDF's text layer puts the two halves of the
    # 内容要求 and 进展情况 cells of a broken row on shared lines (see MERGE-NOTES.md).
    split_rows: bool = True


def filled(sentence: str, values: Mapping[str, str], brackets: tuple[str, str] = ("（", "）")) -> str:
    """A spec sentence with each blank holding ``values[id]`` ("" for a blank left empty)."""
    opening, closing = brackets
    return _PLACEHOLDER.sub(lambda m: opening + values.get(m.group(1), "") + closing, sentence)


def write_form(
    path: Path,
    spec: FormSpec,
    values: Mapping[str, str],
    header: Mapping[str, str],
    style: Style = Style(),
    omit: frozenset[str] = frozenset(),
) -> Path:
    """Write a .docx of the form with the given blank contents; sections in ``omit`` are left out."""
    document = docx.Document()
    document.add_paragraph(spec.annex)
    document.add_paragraph(spec.title)
    labels = [(f.label, header.get(f.id, "")) for f in spec.header]
    if style.header == "line":
        document.add_paragraph(style.header_gap.join(f"{label}：{value}" for label, value in labels))
    else:
        table = document.add_table(rows=1, cols=2 * len(labels))
        for i, (label, value) in enumerate(labels):
            table.rows[0].cells[2 * i].text = label
            table.rows[0].cells[2 * i + 1].text = value
    sections = [s for s in spec.sections if s.id not in omit]
    sentences = [
        filled(s.sentence_original if style.wording == "original" else s.sentence, values, style.brackets)
        for s in sections
    ]
    if style.layout == "table":
        table = document.add_table(rows=1, cols=3)
        for cell, heading in zip(table.rows[0].cells, ("活动项目", "内容要求", "进展情况"), strict=True):
            cell.text = heading
        for section, sentence in zip(sections, sentences, strict=True):
            added = table.add_row()
            if not style.split_rows:
                added._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
            row = added.cells
            row[0].text, row[1].text, row[2].text = section.title, section.requirement, sentence
    else:
        for section, sentence in zip(sections, sentences, strict=True):
            document.add_paragraph(section.title)
            document.add_paragraph(section.requirement)
            document.add_paragraph(sentence)
    document.save(str(path))
    return path
