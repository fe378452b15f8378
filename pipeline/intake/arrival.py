"""What a file's place under inbox/ says about its arrival: when it came.

``python -m pipeline fetch`` saves each attachment as ``邮件/<YYYY-MM-DD>/<U013_单位名称>/<name>``:
the date folder is the day the mailbox received the mail (IMAP INTERNALDATE) and the unit folder is the
sender's unit from the roster's 邮箱 (read by :func:`pipeline.units.attribution.mail_folder_unit`). A clerk who
files returns by hand in date-named folders gets the same reading. Pure functions of the relative path:
nothing here touches the disk.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import PurePosixPath

MAIL_FOLDER = "邮件"  # inbox/邮件/: what fetch saved
_DATE_FOLDER_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def folder_date(file: str) -> dt.date | None:
    """The date of the innermost folder of ``file`` (relative to inbox/) named ``YYYY-MM-DD``, if any."""
    for part in reversed(PurePosixPath(file).parts[:-1]):
        match = _DATE_FOLDER_RE.match(part)
        if match:
            try:
                return dt.date(*(int(g) for g in match.groups()))
            except ValueError:
                continue  # 2023-02-30 is a name, not a date
    return None


# Where the day used for on-time came from, as 报送情况 names it beside the date.
MAIL_DATE = "邮件日期"
FOLDER_DATE = "日期文件夹"
REPORT_DATE = "填报日期"
FILE_TIME = "文件修改日期"
ARRIVAL_SOURCES = (MAIL_DATE, FOLDER_DATE, REPORT_DATE, FILE_TIME)


def arrival(file: str, mtime: float, report_date: dt.date | None,
            mailed: dt.date | None = None) -> tuple[dt.date, str]:
    """The day a return arrived, for on-time, and its source: the Date of the saved mail it came in,
    else the date folder it was filed under (the mail's date when fetch saved it), else the 填报日期
    the unit gave, else the file's modification time.

    The mail's date outranks the 填报日期: the unit types the latter, the mailbox records the former.
    """
    if mailed is not None:
        return mailed, MAIL_DATE
    if (folder := folder_date(file)) is not None:
        return folder, FOLDER_DATE
    if report_date is not None:
        return report_date, REPORT_DATE
    return dt.date.fromtimestamp(mtime), FILE_TIME


def arrival_date(file: str, mtime: float, report_date: dt.date | None) -> dt.date:
    """The day of :func:`arrival` without its source."""
    return arrival(file, mtime, report_date)[0]
