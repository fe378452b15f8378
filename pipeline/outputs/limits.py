"""Excel's hard limits, and the one way every writer cuts text to fit them.

Every output a person opens in Excel or WPS (the rollup workbook, the feedback workbooks, the
材料清单 sheet, the CSV files and the mail drafts' attachments) goes through :func:`clip` for
unit-supplied text, so that one unit's 40,000-character note can never make a writer refuse a cell.
A cut is always visible: the text ends with :data:`CUT_NOTE`.
"""

from __future__ import annotations

import re
from typing import Any

MAX_CELL_CHARS = 32_767  # characters in one cell
MAX_ROW_POINTS = 409.0  # height of one row
MAX_LINK_CHARS = 255  # characters in a hyperlink target
MAX_SHEET_NAME = 31  # characters in a sheet name
MAX_ROWS = 1_048_576  # rows in one worksheet
MAX_COMMENT_CHARS = 32_767  # characters in a cell comment (note)

CUT_NOTE = "……（已截断，全文见原报送文件）"

# Characters XML 1.0 cannot carry (C0 controls other than tab, LF, CR; lone surrogates; U+FFFE/U+FFFF).
# xlsxwriter escapes the C0 controls itself; surrogates would make the UTF-8 encoder fail.
_UNWRITABLE = re.compile("[\ud800-\udfff\ufffe\uffff]")


def clip(text: str, limit: int = MAX_CELL_CHARS, note: str = CUT_NOTE) -> str:
    """``text`` made writable and at most ``limit`` characters long, ending with ``note`` when it was cut.

    Lone surrogates (which no file format can store) become U+FFFD. Length is counted in UTF-16
    code units, as Excel counts, so that text full of emoji is cut in time too.
    """
    if _UNWRITABLE.search(text):
        text = _UNWRITABLE.sub("\ufffd", text)
    if len(text) <= limit // 2 or _utf16_len(text) <= limit:
        return text
    room = limit - _utf16_len(note)
    cut = text[:room]
    while _utf16_len(cut) > room:
        cut = cut[: len(cut) - max(1, (_utf16_len(cut) - room) // 2)]
    return cut + note


def clip_value(value: Any, limit: int = MAX_CELL_CHARS) -> Any:
    """:func:`clip` for a string, anything else unchanged (for table rows)."""
    return clip(value, limit) if isinstance(value, str) else value


def row_points(points: float) -> float:
    """A row height within Excel's maximum."""
    return min(points, MAX_ROW_POINTS)


def sheet_name(name: str) -> str:
    """A sheet name within Excel's length limit."""
    return name[:MAX_SHEET_NAME]


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2
