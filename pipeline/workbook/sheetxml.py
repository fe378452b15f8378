"""What the fast reader verifies in a package's XML parts before it answers for them.

python-calamine gives cell values but not what the openpyxl reader also reports: formulas,
error values, sheet protection, cells beyond the window. So before the fast reader answers,
each worksheet part it reads is parsed with a real, namespace-aware XML parser (lxml) and
must be in the plain shape that xlsxwriter, Excel, WPS and LibreOffice write, whatever
namespace prefix it uses:

- every element is in the SpreadsheetML main namespace, except inside ``extLst``;
- every cell sits at ``worksheet/sheetData/row/c``, once, with an ``r`` inside the window;
- no formula, and no cell type other than number, shared or inline string, boolean or
  formula string (an error value ``t="e"`` or an ISO date ``t="d"`` is left to openpyxl);
- no text with whitespace at either end unless it is marked ``xml:space="preserve"``;
- at most one ``sheetProtection``, a child of ``worksheet``, which openpyxl itself reads.

The shared strings and styles parts, which calamine reads by their fixed names, must be
plain in the same sense. Anything else gets None, and the caller uses the full reader.

The parser loads no DTD and resolves no entity, on or off the network; the guards have
already refused DOCTYPE/ENTITY and bounded every part's size and tag count.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from defusedxml.ElementTree import fromstring
from lxml import etree
from openpyxl.utils.cell import column_index_from_string
from openpyxl.worksheet.protection import SheetProtection

from pipeline.settings.campaign import Limits

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHARED_STRINGS = "xl/sharedStrings.xml"
STYLES = "xl/styles.xml"
# No xml:id table either (collect_ids): no check here looks elements up by id, and building it costs each parse.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, collect_ids=False)
_CELL_TYPES = frozenset({"n", "s", "b", "inlineStr", "str"})
_REF = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")


def _xpath(expression: str) -> etree.XPath:
    return etree.XPath(expression, namespaces={"m": MAIN}, smart_strings=False)


# Elements outside the main namespace, not counting those inside an extLst (extensions of any kind).
_FOREIGN = f"count(//*) - count(//m:*) - count(//m:extLst//*[namespace-uri() != '{MAIN}'])"
_PLAIN = _xpath(f"{_FOREIGN} = 0")
# One pass over the tree per test, all in libxml2. openpyxl takes rows, cells and sheetProtection wherever they
# are, calamine only where they belong: each must be where it belongs (and every cell carry an ``r``, which
# $refs counts; $protections counts those under worksheet, at most one). A formula anywhere, or a second sheetData,
# sends the file to the full reader too.
_SHEET_SHAPE = _xpath(f"""{_FOREIGN} = 0 and not(//m:f) and count(//m:sheetData) <= 1
    and count(//m:row) = count(/m:worksheet/m:sheetData/m:row) and count(//m:c) = $refs
    and count(//m:sheetProtection) = $protections""")
# calamine trims XML whitespace at either end of a text unless its <t> says xml:space="preserve"; openpyxl
# keeps it. Every writer sets preserve where it matters; a text that would be trimmed goes to the full reader.
_UNPRESERVED = _xpath("//m:t[not(@xml:space = 'preserve')]/text()")
_TEXTS = _xpath("//m:t/text()")  # a superset of _UNPRESERVED, found without testing each t's attribute
_TRIMMED = tuple(f"\0{ws}" for ws in " \t\n\r") + tuple(f"{ws}\0" for ws in " \t\n\r")
_REFS_AT = _xpath("/m:worksheet/m:sheetData/m:row/m:c/@r")
_TYPES = _xpath("//m:c/@t")
_PROTECTION = _xpath("/m:worksheet/m:sheetProtection")


@dataclass(frozen=True)
class SheetFacts:
    """What the openpyxl reader would report beside the values, for a worksheet part found plain."""

    protected: bool


def _parse(data: bytes) -> etree._Element | None:
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError:  # the full reader diagnoses it
        return None


def sheet_facts(data: bytes, limits: Limits) -> SheetFacts | None:
    """The facts of a plain worksheet part whose cells all lie in the window; None for anything else."""
    root = _parse(data)
    if root is None or root.tag != f"{{{MAIN}}}worksheet":
        return None
    refs: list[str] = _REFS_AT(root)
    protection = _PROTECTION(root)
    if len(protection) > 1 or not _SHEET_SHAPE(root, refs=len(refs), protections=len(protection)):
        return None
    if not set(_TYPES(root)) <= _CELL_TYPES or _trimmed(root):
        return None
    if not _within(tuple(refs), limits.max_rows, limits.max_columns):
        return None
    if not protection:
        return SheetFacts(protected=False)
    protected = _protects(etree.tostring(protection[0]))
    return None if protected is None else SheetFacts(protected)


def _trimmed(root: etree._Element) -> bool:
    """Whether some text, not marked xml:space="preserve", starts or ends with XML whitespace."""
    # Most parts have no text with whitespace at either end, preserved or not: then no t need be looked at.
    return _edged(_TEXTS(root)) and _edged(_UNPRESERVED(root))


def _edged(texts: list[str]) -> bool:
    """Whether one of ``texts`` starts or ends with XML whitespace."""
    joined = "\0" + "\0".join(texts) + "\0"  # NUL cannot occur in XML text
    return any(edge in joined for edge in _TRIMMED)


@functools.lru_cache(maxsize=64)  # returns made from one template mostly fill the same cells
def _within(refs: tuple[str, ...], max_rows: int, max_columns: int) -> bool:
    """Every reference is a plain A1 address inside the max_rows x max_columns window, each one once."""
    found = [_REF.fullmatch(ref) for ref in refs]
    if len(set(refs)) != len(refs) or not all(found):
        return False
    if not refs:
        return True
    columns, rows = zip(*(m.groups() for m in found if m), strict=True)
    if max(map(int, rows)) > max_rows:
        return False
    # Ordered by (length, letters), column names sort like the columns they name: AA comes after Z.
    _, last = max(zip(map(len, columns), columns, strict=True))
    return column_index_from_string(last) <= max_columns


@functools.lru_cache(maxsize=64)
def _protects(element: bytes) -> bool | None:
    """Whether openpyxl reads this sheetProtection element as protecting the sheet; None if it would fail."""
    try:
        protection = SheetProtection.from_tree(fromstring(element))
        return bool(protection is not None and protection.sheet)
    except Exception:  # openpyxl would stop on it too: the full reader reports it
        return None


@functools.lru_cache(maxsize=8)  # returns made from one template share their styles part
def plain_styles(data: bytes) -> bool:
    """Whether a styles part is plain SpreadsheetML (calamine decides which numbers are dates from it)."""
    root = _parse(data)
    return root is not None and root.tag == f"{{{MAIN}}}styleSheet" and bool(_PLAIN(root))


def plain_shared_strings(data: bytes) -> bool:
    """Whether a shared strings part is plain SpreadsheetML."""
    root = _parse(data)
    return root is not None and root.tag == f"{{{MAIN}}}sst" and bool(_PLAIN(root)) and not _trimmed(root)
