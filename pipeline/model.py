"""The records that flow from read to rollup: one returned file and what was found in it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from pipeline.settings.roster import Unit


class Severity(StrEnum):
    """How bad a finding is: an 错误 sends the return back, a 警告 only asks the unit to check."""

    ERROR = "错误"
    WARNING = "警告"


class Outcome(StrEnum):
    """What became of one file under inbox/: every file gets exactly one (files.csv shows the value)."""

    ACCEPTED = "采用"
    SUPERSEDED = "已被替代"
    REJECTED = "退回"
    UNSUPPORTED = "无法识别"
    DUPLICATE = "重复"
    IGNORED = "忽略"
    MATERIAL = "材料"  # supporting material (活动总结, photos, videos...): see pipeline.intake.materials
    UNPACKED = "已拆分"  # a container (archive, saved mail, workbook of several forms) whose members were read


class Status(StrEnum):
    """One unit's standing for one form, as 报送情况 shows it."""

    PASSED = "已通过"
    WARNED = "有警告"
    RETURNED = "退回"
    MISSING = "未报送"
    MISMATCH = "格式不符"  # a return was received but cannot be read (a photo, a scan, a broken file)


# The kinds of mail drafted to the units, and what each is called in their subjects and summaries.
MAIL_KINDS = {"templates": "下发模板", "reminders": "催报", "feedback": "审核反馈"}


@dataclass(frozen=True)
class Finding:
    """One validation issue, located down to the cell; ``message`` says what to fix."""

    file: str
    severity: Severity
    rule: str
    message: str
    unit_code: str = ""
    form: str = ""
    sheet: str = ""
    cell: str = ""
    field_id: str = ""
    label: str = ""
    value: str = ""

    @property
    def text(self) -> str:
        """The message with its location and raw value, as a unit or a staff member reads it."""
        where = [f"文件“{self.file}”"]
        if self.sheet:
            where.append(f"工作表“{self.sheet}”")
        if self.cell:
            where.append(f"单元格 {self.cell}")
        head = "，".join(where)
        if self.label:
            head += f"（{self.label}）"
        if self.value:
            head += f"，所填内容“{self.value}”"
        return f"{head}：{self.message}"


class RawCell(NamedTuple):
    """A value as it stood in the returned workbook (a tuple: one per field of every cached return is reloaded)."""

    value: Any
    address: str
    formula: str | None = None  # the formula text when the cell held one


MISMATCH_NAMED = "named"  # Submission.mismatch: its name or text says it is a return (pipeline.units.mismatch)
MISMATCH_ALONE = "alone"  # Submission.mismatch: a document that is 格式不符 if it is all its unit sent
STAMPED = "盖章件"  # Submission.material_kind: a scan or print of a form also sent as Excel (pipeline.checks.copies)
CONTINUED = "报表续页"  # Submission.material_kind: a further photo of a form sent as several photos


class ScanValue(NamedTuple):
    """One value read by OCR from a scan or photo, shown to the clerk for confirmation (the 核对 sheet)."""

    field_id: str
    label: str
    value: str  # the text as read ("" for an empty box)
    confidence: float  # the lowest character score, 0-1
    crop: bytes  # PNG of the value's place on the page
    page: int
    problem: str = ""  # why it cannot be trusted (an 错误), "" when it counts with the 警告


@dataclass
class Submission:
    """One file from inbox/ and everything learnt about it."""

    file: str  # path relative to inbox/, with forward slashes
    path: Path
    sha256: str
    mtime: float
    size: int = 0
    form_id: str | None = None
    unit: Unit | None = None
    sheet: str = ""
    located_by: str = ""  # meta / names / labels
    read_as: str = ""  # how the return was read (读取方式): 模板, Word原文, PDF原文, ...
    meta: dict[str, str] = field(default_factory=dict)
    raw: dict[str, RawCell] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    outcome: Outcome | None = None
    note: str = ""
    first_seen: str = ""  # when the ledger first saw these bytes under this name
    material_kind: str = ""  # 活动总结/文字/图片/视频/压缩包/其他 when outcome is MATERIAL
    date_field: str = ""  # the form's 填报日期 field id (its spec's roles.report_date), once the form is known
    kind: str = ""  # what the content is (pipeline.safety.sniff kind: workbook, xls, pdf, image, ...)
    program_error: str = ""  # traceback text when this program (not the file) failed on it; see pipeline.faults
    machine_fault: str = ""  # 本机问题: the rule (处理超时, 读取中止, 缺少组件, 磁盘空间不足) when this computer could not read it
    details: list[str] = field(default_factory=list)  # technical detail for pipeline.log only, never shown to users
    # Containers (pipeline.intake.members): an archive, a saved mail or a workbook holding several forms.
    members: list[Submission] = field(default_factory=list)  # what was read inside this file, each with its outcome
    container: str = ""  # for a member: the ``file`` of the inbox file it came from
    sender: str = ""  # for a saved mail's attachment: the unit code the sender's address names
    arrived: dt.date | None = None  # for a saved mail's attachment: the mail's Date (the arrival day)
    mismatch: str = ""  # an unreadable file that looks like a return: MISMATCH_NAMED or MISMATCH_ALONE
    # Settled by pipeline.intake.settle before the checks: the date of the YYYY-MM-DD folder it lies in, and the day
    # it arrived for on-time with where that day came from (pipeline.intake.arrival.arrival).
    filed: dt.date | None = None
    arrival: dt.date | None = None
    arrival_source: str = ""
    # A sheet read by its labels (pipeline.workbook.handmade): (cell, the text found there, the items read from it),
    # shown one row each on the 读取对应 sheet of the rollup and of the feedback workbook.
    read_map: list[tuple[str, str, str]] = field(default_factory=list)
    scanned: list[ScanValue] = field(default_factory=list)  # values read by OCR (pipeline.scans), for 核对

    def flattened(self) -> list[Submission]:
        """This file and, after it, every member (depth first)."""
        found = [self]
        for member in self.members:
            found.extend(member.flattened())
        return found

    @property
    def errors(self) -> int:
        """Number of 错误 findings."""
        return sum(f.severity == Severity.ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        """Number of 警告 findings."""
        return sum(f.severity == Severity.WARNING for f in self.findings)

    @property
    def report_date(self) -> dt.date | None:
        """The 填报日期 the unit gave, when it is a valid date."""
        value = self.values.get(self.date_field) if self.date_field else None
        return value if isinstance(value, dt.date) else None

    def add(self, severity: Severity, rule: str, message: str, field_id: str = "", label: str = "",
            cell: str = "", value: str = "") -> None:
        """Record a finding on this file."""
        self.findings.append(Finding(
            file=self.file, severity=severity, rule=rule, message=message,
            unit_code=self.unit.code if self.unit else "", form=self.form_id or "",
            sheet=self.sheet, cell=cell, field_id=field_id, label=label, value=value,
        ))
