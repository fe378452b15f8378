"""Edit a workbook the way a unit does in LibreOffice Calc: unprotect, delete a row, insert a column, merge cells.

LibreOffice runs headless with a private profile whose Basic library ``Standard`` holds one macro, ``Edit``;
each edit is one ``soffice macro:///Standard.Module1.Edit(...)`` call that loads the file hidden, changes it
through the Calc API and stores it as .xlsx (“Calc MS Excel 2007 XML”). Kept free of pytest.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from xml.sax.saxutils import escape

from office import SOFFICE_TIMEOUT, convert

TEMPLATE_PASSWORD = "aqscy"  # the templates' sheet protection password (see README)

_BASIC = f'''Sub Edit(src As String, dst As String, action As String, arg As String)
  Dim props(0) As New com.sun.star.beans.PropertyValue
  props(0).Name = "Hidden"
  props(0).Value = True
  doc = StarDesktop.loadComponentFromURL(ConvertToURL(src), "_blank", 0, props())
  sheet = doc.Sheets.getByIndex(0)
  sheet.unprotect("{TEMPLATE_PASSWORD}")
  Select Case action
  Case "delete_row"
    sheet.Rows.removeByIndex(CLng(arg), 1)
  Case "insert_column"
    sheet.Columns.insertByIndex(CLng(arg), 1)
  Case "merge"
    sheet.getCellRangeByName(arg).merge(True)
  End Select
  Dim out(1) As New com.sun.star.beans.PropertyValue
  out(0).Name = "FilterName"
  out(0).Value = "Calc MS Excel 2007 XML"
  out(1).Name = "Overwrite"
  out(1).Value = True
  doc.storeToURL(ConvertToURL(dst), out())
  doc.close(True)
End Sub
'''


def macro_profile(soffice: str, folder: Path) -> Path:
    """A fresh LibreOffice profile in ``folder`` whose Standard library holds the ``Edit`` macro."""
    profile = folder / "profile"
    seed = folder / "seed.csv"
    seed.write_text("a\n", encoding="utf-8")
    convert(soffice, [seed], folder / "seeded", "xlsx", profile)  # first start: LibreOffice lays out the profile
    module = profile / "user" / "basic" / "Standard" / "Module1.xba"
    if not module.is_file():
        raise AssertionError(f"LibreOffice did not create its Basic library in {profile}")
    module.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">\n'
        '<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1" '
        f'script:language="StarBasic">{escape(_BASIC)}</script:module>\n', encoding="utf-8")
    return profile


def edit(soffice: str, profile: Path, src: Path, dst: Path, action: str, arg: str) -> Path:
    """Apply one edit (``delete_row`` 0-based index, ``insert_column`` 0-based index, ``merge`` A1 range) to
    ``src`` in LibreOffice and save the result as ``dst``."""
    for text in (str(src), str(dst), action, arg):
        if '"' in text:
            raise ValueError(f"no double quotes in macro arguments: {text}")
    dst.unlink(missing_ok=True)
    call = f'macro:///Standard.Module1.Edit("{src.resolve()}","{dst.resolve()}","{action}","{arg}")'
    proc = subprocess.run([soffice, f"-env:UserInstallation={profile.resolve().as_uri()}", "--headless",
                           "--norestore", "--nologo", call], capture_output=True, text=True,
                          timeout=SOFFICE_TIMEOUT, check=False)
    if proc.returncode != 0 or not dst.is_file():
        raise AssertionError(f"LibreOffice edit {action} {arg} failed (exit {proc.returncode})\n"
                             f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    return dst
