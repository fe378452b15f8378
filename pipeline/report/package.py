"""Reproducible Office files: fixed document times and zip member dates, written atomically.

Run twice on the same day (or with the same ``SOURCE_DATE_EPOCH``), the report writes the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile
from pathlib import Path

from docx.document import Document

from pipeline.store.atomic import write_bytes_atomic

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip member can carry, as xlsxwriter writes it


def document_time(report_date: dt.date) -> dt.datetime:
    """The time written into a file's properties: ``SOURCE_DATE_EPOCH`` when set, else the report date's midnight."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC).replace(tzinfo=None)
    return dt.datetime.combine(report_date, dt.time())


def stamp_docx(document: Document, when: dt.datetime, author: str, title: str) -> None:
    """Core properties that depend only on the report, not on when or where it was made."""
    props = document.core_properties
    props.author = props.last_modified_by = author
    props.title = title
    props.created = props.modified = when
    props.last_printed = when
    props.revision = 1
    props.comments = ""


def stable_zip(data: bytes) -> bytes:
    """The same package with every member dated :data:`ZIP_EPOCH`, in the same order, deflated."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            member = zipfile.ZipInfo(info.filename, ZIP_EPOCH)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o600 << 16
            target.writestr(member, source.read(info))
    return out.getvalue()


def docx_bytes(document: Document) -> bytes:
    """A python-docx document saved to reproducible bytes."""
    buffer = io.BytesIO()
    document.save(buffer)
    return stable_zip(buffer.getvalue())


def write_all(files: dict[Path, bytes]) -> list[Path]:
    """Write every file atomically, only once all of them are made (so a failure leaves none half-written)."""
    for path, data in files.items():
        write_bytes_atomic(path, data)
    return list(files)
