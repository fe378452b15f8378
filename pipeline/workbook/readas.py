"""How a return was read (读取方式), as the 报送情况 sheet, status.csv and ``check`` show it.

- 模板: our template, read by its ``_meta``, defined names or printed labels;
- 模板（LibreOffice/WPS另存）: the same, but the .xlsx was last saved by LibreOffice or WPS (its
  ``docProps/app.xml`` names the application), which may drop the template's protection and checks;
- 模板（.xls）, 模板（.ods）, 模板（.xlsb）, 模板（WPS .et）: the template in another spreadsheet format;
- 自制表格 (and 自制表格（.ods） …): a sheet the unit made itself, read by its texts
  (:mod:`pipeline.workbook.handmade`);
- Word原文, PDF原文: the notice's own form (:mod:`pipeline.documents.extract`).
"""

from __future__ import annotations

import functools

from pipeline.documents.extract import PDF_ORIGINAL, WORD_ORIGINAL
from pipeline.safety.guards import Package
from pipeline.workbook.book import Book
from pipeline.workbook.calabook import FORMAT_NAMES

TEMPLATE = "模板"
TEMPLATE_RESAVED = "模板（LibreOffice/WPS另存）"
HANDMADE = "自制表格"
READ_AS = (TEMPLATE, TEMPLATE_RESAVED, HANDMADE, WORD_ORIGINAL, PDF_ORIGINAL)
APP_PART = "docProps/app.xml"
_EXTENDED = "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
# Words in docProps/app.xml's Application naming an office suite other than Excel (WPS writes “WPS 表格”
# or “WPS Office”, Kingsoft's older builds “Kingsoft”).
_RESAVING_APPS = ("libreoffice", "openoffice", "wps", "kingsoft", "et ")


def application(package: Package | None) -> str:
    """The Application named in the package's ``docProps/app.xml`` ("" when absent or unreadable)."""
    if package is None:
        return ""
    data = next((package.parts[n] for n in package.parts if n.lower() == APP_PART.lower()), None)
    return _application(data) if data else ""


@functools.lru_cache(maxsize=16)  # returns saved by one application mostly share this small part: keyed by its bytes
def _application(data: bytes) -> str:
    from defusedxml.ElementTree import fromstring

    try:
        # openpyxl's ExtendedProperties cannot be used: it replaces Application with its own name on loading.
        return str(fromstring(data).findtext(f"{{{_EXTENDED}}}Application") or "").strip()
    except Exception:  # a damaged properties part says nothing about the values
        return ""


def resaved(package: Package | None) -> bool:
    """Whether LibreOffice or WPS last saved this .xlsx package."""
    app = application(package).lower()
    return any(word in app for word in _RESAVING_APPS)


def workbook_read_as(book: Book, base: str) -> str:
    """The 读取方式 of a workbook read as ``base`` (:data:`TEMPLATE` or :data:`HANDMADE`), with its format."""
    fmt = FORMAT_NAMES.get(book.source)
    if fmt:
        return f"{base}（{fmt}）"
    if base == TEMPLATE and resaved(book.package):
        return TEMPLATE_RESAVED
    return base
