"""The county's 附件1 as a return in the template layout: our own template filled with the totals, or the
upper level's template (``UPPER=…``) filled in place, keeping its hidden identity (``_meta``).

Either file is read by the same program at the upper level as an ordinary return.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from pipeline.errors import ReportError
from pipeline.forms.generate import FormContent, write_form
from pipeline.forms.spec import META_SHEET, TEXT_LIMITS
from pipeline.outputs.limits import clip
from pipeline.report.figures import Figures, header_values
from pipeline.report.package import document_time, stable_zip
from pipeline.settings.roster import Unit

CASES_CUT = "……（其余见活动总结）"


def text_summary(fig: Figures, field_id: str) -> str:
    """A free-text field of the county's return: how many answers, then the first ones, within the form's limit."""
    label = fig.spec.field(field_id).label
    cases = [c for c in fig.cases if c.label == label]
    if not cases:
        return ""
    limit = TEXT_LIMITS[fig.spec.field(field_id).kind][0]
    items = "；".join(f"{i}．{c.unit}：{c.text}" for i, c in enumerate(cases, 1))
    return clip(f"共{len(cases)}个（全文见活动总结）：{items}", limit, CASES_CUT)


def return_values(fig: Figures) -> dict[str, Any]:
    """Every field of the county's return: header, totals and the free-text summaries."""
    values: dict[str, Any] = {**header_values(fig), **fig.totals}
    for f in fig.spec.body_fields:
        if f.kind == "text":
            values[f.id] = text_summary(fig, f.id) or None
    return values


def own_template(fig: Figures) -> bytes:
    """Our template for the bureau itself, filled: 填报单位 = the bureau."""
    c = fig.rollup.campaign
    bureau = Unit(code="", name=c.bureau, category="", email="")
    values = {k: v for k, v in return_values(fig).items() if k != fig.spec.roles.unit}
    with tempfile.TemporaryDirectory(prefix="report-") as folder:
        path = write_form(Path(folder) / "annex.xlsx", fig.spec, c, FormContent(unit=bureau, values=values))
        return path.read_bytes()


def _meta(wb: Any) -> dict[str, str]:
    if META_SHEET not in wb.sheetnames:
        return {}
    ws = wb[META_SHEET]
    return {str(k): str(v or "") for k, v, *_ in ws.iter_rows(values_only=True) if k}


def fill_upper(fig: Figures, upper: Path) -> bytes:
    """The upper level's template with the county's figures typed in by defined name; everything else kept."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(upper)
    except FileNotFoundError:
        raise ReportError(f"找不到上级下发的模板 {upper}，请核对 UPPER= 后面的文件名。") from None
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ReportError(f"上级下发的模板 {upper} 无法读取（不是 .xlsx 文件或已损坏）。请确认是上级下发的原始"
                          f"Excel 文件（.xlsx）。") from exc
    spec = fig.spec
    meta = _meta(wb)
    if meta.get("form_id") != spec.id:
        raise ReportError(f"上级下发的模板 {upper} 不是本程序生成的“{spec.annex}”模板（缺少模板标识或表不同），无法自动填写。"
                          f"请改用 outbox/上报/ 中的“{spec.annex}”文件报送，或请上级提供本程序生成的模板。")
    if meta.get("form_version") not in (None, "", spec.version):
        raise ReportError(f"上级下发的模板 {upper} 的版本（{meta['form_version']}）与本程序的{spec.annex}定义"
                          f"（{spec.version}）不同，填报项可能不一致，无法自动填写。请向上级索取最新模板，或更新本程序。")
    values = return_values(fig)
    names = {n for n in wb.defined_names if not n.startswith("_xlnm.")}
    missing = [spec.field(fid).label for fid in values if fid not in names]
    if missing:
        raise ReportError(f"上级下发的模板 {upper} 中找不到这些填报项：{'、'.join(missing)}。请向上级索取完整的模板。")
    for fid, value in values.items():
        (sheet, ref), = wb.defined_names[fid].destinations
        cell = wb[sheet][ref.replace("$", "")]
        if fid == spec.roles.unit and cell.value:
            continue  # the upper level prefilled the county's name: it is part of the identity
        cell.value = dt.datetime.combine(value, dt.time()) if isinstance(value, dt.date) else value
        if isinstance(value, str):
            cell.data_type = "s"  # text is text, never a formula
    when = document_time(fig.report_date)
    wb.properties.created = wb.properties.modified = when
    wb.properties.lastModifiedBy = fig.rollup.campaign.bureau
    buffer = io.BytesIO()
    wb.save(buffer)
    wb.close()
    return stable_zip(buffer.getvalue())
