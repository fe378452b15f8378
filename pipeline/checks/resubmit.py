"""Which of a unit's several returns of one form is the newest, and what to say about a resubmission.

"Newest" is a total order given by one sort key per return (:func:`newest_key`), so that the same inbox
gives the same counted return whatever order the files are read in and whatever they are called:

1. the 填报日期, or where it is missing or invalid (a correction dated “2023-06-31”) the day the return
   arrived;
2. the day it arrived: the Date of the saved mail it came in, else the ``YYYY-MM-DD`` folder it was filed
   under (``make fetch`` files each mail under its date), else its file time;
3. its file time (fetch sets it to the mail's arrival);
4. a file name saying 修改/更正/最新 (a plain rename changes nothing else);
5. its content (sha256), so that two returns never tie.

When anything but two valid 填报日期 decided, the newest gets a 警告 saying how.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import PurePosixPath
from typing import Any

from pipeline.forms.spec import FormSpec
from pipeline.model import Severity, Submission

# A file name that says it is the corrected one.
_CORRECTION_RE = re.compile(r"修改|更正|最新|修订|更新|改正")

BY_REPORT_DATE = "填报日期"
BY_FOLDER = "收到日期（所在的日期文件夹）"
BY_MAIL = "所附邮件的发送日期"
BY_FILE_TIME = "文件时间（收到或保存的时间）"
BY_ARRIVAL = "收到日期（日期文件夹、所附邮件的发送日期或文件时间）"
BY_NAME = "文件名中的“修改”“更正”“最新”等字样"
BY_CONTENT = "文件内容（日期、时间均相同时的固定顺序）"


def _says_corrected(sub: Submission) -> bool:
    return bool(_CORRECTION_RE.search(PurePosixPath(sub.file).name))


def _arrival(sub: Submission) -> tuple[dt.date, str]:
    """The day ``sub`` arrived and what says so: the saved mail's Date, its date folder, else its file time."""
    if sub.arrived is not None:
        return sub.arrived, BY_MAIL
    if sub.filed is not None:
        return sub.filed, BY_FOLDER
    return dt.date.fromtimestamp(sub.mtime), BY_FILE_TIME


def newest_key(sub: Submission) -> tuple[Any, ...]:
    """The sort key of a return: the greater key is the newer return (a total order, see the module docstring)."""
    day = _arrival(sub)[0]
    return (sub.report_date or day, day, sub.mtime, _says_corrected(sub), sub.sha256, sub.file)


def decided_by(newer: Submission, older: Submission) -> str:
    """What set ``newer`` before ``older``: the first part of :func:`newest_key` in which they differ."""
    a, b = newest_key(newer), newest_key(older)
    if a[0] != b[0]:
        if newer.report_date is not None and older.report_date is not None:
            return BY_REPORT_DATE
        undated = [s for s in (newer, older) if s.report_date is None]
        hows = {_arrival(s)[1] for s in undated}
        how = hows.pop() if len(hows) == 1 else BY_ARRIVAL
        return f"{BY_REPORT_DATE}（未填或无法识别的按{how}）" if len(undated) == 1 else how
    if a[1] != b[1]:
        hows = {_arrival(newer)[1], _arrival(older)[1]}
        return hows.pop() if len(hows) == 1 else BY_ARRIVAL
    if a[2] != b[2]:
        return BY_FILE_TIME
    if a[3] != b[3]:
        return BY_NAME
    return BY_CONTENT


def order_warning(newest: Submission, previous: Submission) -> None:
    """A 警告 on ``newest`` when its 填报日期 did not settle that it is newer than ``previous``."""
    if not newest.date_field:
        return  # a form without 填报日期 (附件2) is always ordered by arrival: nothing to point out
    if previous.errors:
        return  # the earlier one was 退回: the newer is its correction, and only the newer can count anyway
    how = decided_by(newest, previous)
    if how == BY_REPORT_DATE:
        return
    if newest.report_date is not None and newest.report_date == previous.report_date:
        why = f"与较早的“{previous.file}”填报日期相同（{newest.report_date.isoformat()}）"
    else:
        why = f"本文件或较早的“{previous.file}”的填报日期未填或无法识别"
    newest.add(Severity.WARNING, "多次报送", f"本单位多次报送了这张表，{why}，已按{how}认定本文件为最新一份。"
               "如有误，请告知局安全股应以哪一份为准。")


def _filled(sub: Submission, spec: FormSpec) -> int:
    return sum(sub.values.get(f.id) is not None for f in spec.body_fields)


def fewer_filled_warning(counted: Submission, replaced: Submission, spec: FormSpec) -> None:
    """A 警告 on ``counted`` when it fills fewer than half the items the return it replaces filled."""
    now, before = _filled(counted, spec), _filled(replaced, spec)
    if now * 2 >= before:
        return
    counted.add(Severity.WARNING, "比上次少填", f"本次报送比上次少填了 {before - now} 项（上次“{replaced.file}”填了 {before} 项，"
                f"本次只填了 {now} 项）。汇总以本次为准，未填的项目按空白计；如本次只是补充部分内容，"
                "请在完整的表上补充后重新报送全部内容。")
