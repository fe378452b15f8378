"""Which of a unit's several returns of one form is the newest, and what to say about a resubmission.

The newest is the one with the later 填报日期. Where the dates tie, or either is missing or invalid (a
correction dated “2023-06-31”), the returns are ordered by arrival instead: the date folder they were
filed under (the mail's date, see :mod:`pipeline.intake.arrival`), then the Date of the saved mail
they came in, then the file time (fetch sets it to the
mail's Date), then a file name saying 修改/更正/最新. When that decided, the newest gets a 警告 saying how.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from pipeline.forms.spec import FormSpec
from pipeline.intake.arrival import folder_date
from pipeline.model import Severity, Submission

# A file name that says it is the corrected one.
_CORRECTION_RE = re.compile(r"修改|更正|最新|修订|更新|改正")

BY_REPORT_DATE = "填报日期"
BY_FOLDER = "收到日期（所在的日期文件夹）"
BY_MAIL = "所附邮件的发送日期"
BY_FILE_TIME = "文件时间（收到或保存的时间）"
BY_NAME = "文件名中的“修改”“更正”“最新”等字样"
BY_PATH = "文件名顺序"


def _says_corrected(sub: Submission) -> bool:
    return bool(_CORRECTION_RE.search(PurePosixPath(sub.file).name))


def compare_newer(a: Submission, b: Submission) -> tuple[int, str]:
    """1 when ``a`` is newer than ``b``, -1 when older (0 only for the same file), and what decided it."""
    da, db = a.report_date, b.report_date
    if da is not None and db is not None and da != db:
        return (1 if da > db else -1), BY_REPORT_DATE
    fa, fb = folder_date(a.file), folder_date(b.file)
    if fa is not None and fb is not None and fa != fb:
        return (1 if fa > fb else -1), BY_FOLDER
    if a.arrived is not None and b.arrived is not None and a.arrived != b.arrived:
        return (1 if a.arrived > b.arrived else -1), BY_MAIL
    if a.mtime != b.mtime:
        return (1 if a.mtime > b.mtime else -1), BY_FILE_TIME
    ca, cb = _says_corrected(a), _says_corrected(b)
    if ca != cb:
        return (1 if ca else -1), BY_NAME
    return (a.file > b.file) - (a.file < b.file), BY_PATH


def order_warning(newest: Submission, previous: Submission) -> None:
    """A 警告 on ``newest`` when its 填报日期 did not settle that it is newer than ``previous``."""
    if not newest.date_field:
        return  # a form without 填报日期 (附件2) is always ordered by arrival: nothing to point out
    if previous.errors:
        return  # the earlier one was 退回: the newer is its correction, and only the newer can count anyway
    how = compare_newer(newest, previous)[1]
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
