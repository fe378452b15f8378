"""The job behind ``make report``: the rollup as ``rollup`` reads it, then the documents upward in ``outbox/上报/``.

Every file is made in memory first and written (atomically) only when all of them could be made,
so a broken template or a run without returns leaves no half-written report behind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from pipeline.checks.rollup import Rollup
from pipeline.errors import PipelineError, ReportError
from pipeline.faults import LOG_NAME, PROGRAM_ERROR_NOTE, log_error, log_to
from pipeline.forms.spec import FormSpec
from pipeline.job import Progress, collect
from pipeline.report.annex_docx import annex_docx, annex_name
from pipeline.report.annex_xlsx import fill_upper, own_template
from pipeline.report.compare import with_previous
from pipeline.report.figures import figures, statistics_forms
from pipeline.report.package import write_all
from pipeline.report.summary import render_summary, summary_name, template_for
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster
from pipeline.store.atomic import sweep_stale

FOLDER = "上报"


def report_date(given: dt.date | None) -> dt.date:
    """The report's date: ``--date``, else ``SOURCE_DATE_EPOCH``'s day, else today."""
    from pipeline.forms.generate import generated_at

    return given or dt.date.fromisoformat(generated_at())


def report_to_outbox(inbox: Path, outbox: Path, forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster,
                     day: dt.date, upper: Path | None = None, progress: Progress | None = None) -> list[str]:
    """Read the inbox, write the 总结 draft and the county's filled forms to ``outbox/上报/``; the summary lines."""
    rollup = collect(inbox, outbox, forms, campaign, roster, "report", progress)
    stats = statistics_forms(rollup)
    if not stats:
        raise ReportError("表单定义中没有带“进展情况”语句的统计表，没有可以上报的汇总数字。")
    folder = outbox / FOLDER
    with log_to(outbox):
        try:
            files, lines = _documents(rollup, stats, campaign, folder, day, upper)
        except PipelineError:
            raise
        except Exception as exc:  # our bug, not the clerk's: logged whole, reported in Chinese
            log_error("生成上报材料时程序出错", exc)
            raise ReportError(f"生成上报材料时发生{PROGRAM_ERROR_NOTE}（日志：{outbox / LOG_NAME}）；"
                              "没有写出任何文件，原有的上报材料不受影响。") from None
    sweep_stale(folder)
    write_all(files)
    lines.append(f"上报材料已生成（{FOLDER}/）：")
    lines += [f"  {p.name}" for p in files]
    own = "" if template_for(campaign).parent != campaign.path.parent else "（使用活动设置文件夹中的模板）"
    lines.append(f"活动总结为草稿{own}：请核对数字，补写“四、下一步工作打算”中【请填写】的内容后再上报。")
    return lines


def _documents(rollup: Rollup, stats: list[FormSpec], campaign: Campaign, folder: Path, day: dt.date,
               upper: Path | None) -> tuple[dict[Path, bytes], list[str]]:
    """Every file of the report, made in memory, and the summary lines about them."""
    settings = campaign.report
    files: dict[Path, bytes] = {}
    summary_spec = next((s for s in stats if s.roles.summary), stats[0])
    template = template_for(campaign)
    lines: list[str] = []
    for spec in stats:
        fig = with_previous(figures(rollup, spec, day), settings.previous)
        if spec is summary_spec:
            files[folder / summary_name(campaign)] = render_summary(fig, template, settings.photos)
        files[folder / annex_name(spec, campaign, ".docx")] = annex_docx(fig)
        if upper is not None:
            files[folder / upper.name] = fill_upper(fig, upper)
        else:
            files[folder / annex_name(spec, campaign, ".xlsx")] = own_template(fig)
        r = fig.rates
        lines.append(f"{spec.annex}：应报 {r.due} 个单位，已报送 {r.sent} 个，计入汇总 {r.accepted} 个，按时 {r.on_time} 个；"
                     f"汇总数字取自这 {r.accepted} 个单位的合格来件。")
        if fig.missing:
            lines.append(f"  尚未报送：{'、'.join(fig.missing)}（总结“存在的问题”中已列出）")
    return files, lines
