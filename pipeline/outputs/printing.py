"""Printing wide tables: which columns go on which page, planned so that every page fits.

A sheet wider than a page is printed as pages of columns, the key columns (unit code and name)
repeated on each. The pages are decided here and written as manual page breaks, so that the
sheet can also repeat each section's heading over its part of every page (a merged heading
that a page break cuts in two is printed only on its first page, and its fill runs past the
table on the last).

Column widths are in Excel's units: the width of a digit of the workbook's default font. Excel
draws a unit as 7 pixels (Calibri, 5.25 pt); LibreOffice, where Calibri is missing, substitutes a
wider font (about 7 pt a unit). Pages are planned for the wider rendering, so they fit in both,
and text that must stay on one line is sized for the narrower one.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence

A4_LANDSCAPE = (842.0, 595.0)  # points
WIDE_PT_PER_UNIT = 7.05  # LibreOffice without Calibri
NARROW_PT_PER_UNIT = 5.25  # Excel with Calibri
WIDTH_PADDING = 0.71  # xlsxwriter adds this to every width it writes
SAFETY = 0.96  # room kept free on each page for rounding in the office program


def printed_points(units: float) -> float:
    """The printed width of a column ``units`` wide, at 100%, in the wider rendering."""
    return WIDE_PT_PER_UNIT * (units + WIDTH_PADDING)


def page_room(scale: int, left: float, right: float, paper: tuple[float, float] = A4_LANDSCAPE) -> float:
    """Points of columns that fit across one page at ``scale`` percent, margins in inches."""
    return (paper[0] - 72 * (left + right)) * 100 / scale * SAFETY


MIN_SCALE = 90  # percent: the tables' 10 pt text never prints below 9 pt
MIN_WRAPPED = 6.0  # units: a wrapped column is never narrowed below this


def fitted_widths(widths: Sequence[float], flexible: Sequence[int], scale: int, left: float, right: float,
                  paper: tuple[float, float] = A4_LANDSCAPE) -> list[float]:
    """Column widths that fit one page across at ``scale`` percent (margins in inches), in the wider rendering.

    Only the ``flexible`` columns (wrapped text) give way, in proportion to their widths and never below
    :data:`MIN_WRAPPED`; the others keep theirs. A table that still does not fit prints its last columns on
    a page of their own rather than at a smaller scale.
    """
    fitted = list(widths)
    over = sum(printed_points(w) for w in widths) - page_room(scale, left, right, paper)
    share = sum(widths[i] for i in flexible)
    if over <= 0 or share <= 0:
        return fitted
    for i in flexible:
        fitted[i] = max(MIN_WRAPPED, widths[i] - over / WIDE_PT_PER_UNIT * widths[i] / share)
    return fitted


def plan_pages(widths: Sequence[float], repeated: float, room: float, groups: Sequence[int] = (),
               tail: float = 0.35) -> list[tuple[int, int]]:
    """Split columns into pages: (first, last) column indexes into ``widths`` per page.

    ``widths`` are the printed points of the columns that are not repeated, ``repeated`` the points
    of those printed on every page. ``groups`` are the indexes where a group (a section) starts: a
    group that does not fit the rest of a page starts a new page when less than ``tail`` of the
    page is left, so that no page ends with a stub of a section under a heading squeezed into a
    column or two. A column wider than a page gets a page of its own.
    """
    starts = set(groups)
    ends = sorted(starts | {len(widths)})
    usable = max(room - repeated, 1.0)
    pages: list[tuple[int, int]] = []
    first, used = 0, 0.0
    for col, width in enumerate(widths):
        if col > first:
            full = used + width > usable
            if not full and col in starts:
                end = next(e for e in ends if e > col)
                group = sum(widths[col:end])
                full = used + group > usable and usable - used < tail * usable
            if full:
                pages.append((first, col - 1))
                first, used = col, 0.0
        used += width
    if widths:
        pages.append((first, len(widths) - 1))
    return pages


def number_units(value: int, digit_units: float = 1.0) -> float:
    """Width in units that shows ``value`` with thousands separators, plus the cell's padding."""
    return len(f"{value:,}") * digit_units + 2


def wrapped_lines(text: str, units: float, font_pt: float) -> int:
    """Lines ``text`` wraps to in a column ``units`` wide in Excel (the narrower rendering), at ``font_pt``."""
    from pipeline.forms.layout import display_width

    room = max(units * NARROW_PT_PER_UNIT + 3.75 - 5.0, font_pt)  # the cell's own padding left and right
    return max(1, math.ceil(display_width(text) * font_pt / 2 / room))


def cjk_width(text: str) -> int:
    """Display width as a CJK font prints ``text``: wide, full-width and ambiguous characters (“”‘’·…—) count two."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WFA" else 1 for ch in text)


# Marks that never start a line (closing brackets, quotes and punctuation) and never end one (opening brackets).
NO_LINE_START = "）》」』】〉”’，。、；：！？·…—%)]}"
NO_LINE_END = "（《「『【〈“‘([{"


def break_lines(text: str, units: float, font_pt: float) -> list[str]:
    """``text`` broken into the lines it takes in a column ``units`` wide at ``font_pt`` in the narrower rendering,
    never starting a line with a closing mark nor ending one with an opening mark: “场次（场” / “）” cannot happen.

    The lines are written joined by line breaks, so that every office program shows these same lines.
    """
    room = max(units * NARROW_PT_PER_UNIT + 3.75 - 5.0, font_pt) * 2 / font_pt  # in display-width units
    lines: list[str] = []
    line = ""
    for ch in text:
        if line and cjk_width(line + ch) > room:
            carry = ""
            while len(line) > 1 and (carry or ch)[0] in NO_LINE_START:  # a closing mark takes what it closes along
                line, carry = line[:-1], line[-1] + carry
            if ch.isdigit() or carry[:1].isdigit():  # a number stays whole, with its opening bracket
                while len(line) > 1 and line[-1].isdigit() and len(carry) < 8:
                    line, carry = line[:-1], line[-1] + carry
            while len(line) > 1 and line[-1] in NO_LINE_END:
                line, carry = line[:-1], line[-1] + carry
            if (carry or ch)[0] in NO_LINE_START or line[-1] in NO_LINE_END:
                line += carry  # a column too narrow to move the marks: this line runs one character long
            else:
                lines.append(line)
                line = carry
        line += ch
    if line:
        lines.append(line)
    return lines


def row_points(lines: int, font_pt: float) -> float:
    """The height of a row of ``lines`` lines of text at ``font_pt``."""
    return round(lines * font_pt * 1.3 + 4, 1)
