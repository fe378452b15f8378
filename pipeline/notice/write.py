"""Write the campaign folder: campaign.toml, forms/*.toml and campaign-review.txt, all or nothing.

Everything is written into a staging folder inside the target first and loaded back with the program's
own readers; only then do the new files replace the old ones. An existing campaign folder is replaced
only when asked (``--force``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import tomli_w

from pipeline.errors import NoticeError, PipelineError
from pipeline.forms.spec import load_forms
from pipeline.notice.build import FORMS_FOLDER, CampaignFolder
from pipeline.settings.campaign import load_campaign

CAMPAIGN_FILE = "campaign.toml"
REVIEW_FILE = "campaign-review.txt"
_CAMPAIGN_NOTE = ("# 本文件由 make init 根据上级通知生成。请先看同一文件夹中的 campaign-review.txt，\n"
                  "# 核对其中列出的每一项，再运行 make templates 查看各表。\n\n")
_FORM_NOTE = ("# 本表单定义由 make init 根据通知的附件生成：每个填空是一个填报项，（{字段编号}）标出填空的位置。\n"
              "# 字段编号由程序按通知原文生成，请勿修改，否则已下发的模板将无法读取。\n\n")


def review_text(campaign: CampaignFolder) -> str:
    """The review list as the clerk reads it (also printed on the terminal)."""
    head = "以下事项是程序根据通知原文生成活动设置和表单时不能确定的，请逐条核对（必要时修改 campaign.toml 或 forms/ 中的文件）：\n"
    if not campaign.review:
        return "程序根据通知原文生成活动设置和表单时，没有不能确定的事项。请运行 make templates 查看各表是否与通知一致。\n"
    lines = [f"{n}. {line}" for n, line in enumerate(campaign.review, start=1)]
    return head + "\n".join(lines) + "\n\n核对完毕后，请运行 make templates，打开生成的模板，与通知的附件逐项对照。\n"


def render(campaign: CampaignFolder) -> dict[str, str]:
    """The folder's files, by path relative to the folder, as text."""
    files = {CAMPAIGN_FILE: _CAMPAIGN_NOTE + tomli_w.dumps(campaign.campaign)}
    for form_id, spec in campaign.forms.items():
        files[f"{FORMS_FOLDER}/{form_id}.toml"] = _FORM_NOTE + tomli_w.dumps(spec)
    files[REVIEW_FILE] = review_text(campaign)
    return files


def _check(staging: Path) -> None:
    """Load the staged folder with the program's own readers: what they reject is never put in place."""
    forms = load_forms(staging / FORMS_FOLDER)
    settings = load_campaign(staging / CAMPAIGN_FILE)
    for spec in forms.values():
        settings.deadline(spec.deadline)


def existing(out: Path) -> list[str]:
    """The campaign files already in ``out``."""
    return [name for name in (CAMPAIGN_FILE, FORMS_FOLDER) if (out / name).exists()]


def write_folder(out: Path, campaign: CampaignFolder, *, force: bool = False) -> list[Path]:
    """Write the campaign folder into ``out``; the paths written. Nothing changes unless all of it is good."""
    present = existing(out)
    if present and not force:
        raise NoticeError(f"文件夹“{out}”中已有活动设置（{'、'.join(present)}），为免覆盖，未写入任何文件。"
                          "确认要用新通知替换时，请加 --force（make init NOTICE=通知文件 FORCE=1），"
                          "或用 --out 另选一个文件夹。")
    files = render(campaign)
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".init-", dir=out))
    except OSError as exc:
        raise NoticeError(f"无法在文件夹“{out}”中写入文件（{exc.strerror or '拒绝访问'}），请检查文件夹权限或另选文件夹。") from exc
    try:
        for name, text in files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode("utf-8"))
        try:
            _check(staging)
        except PipelineError as exc:  # what init generated must load: anything else is our bug
            raise RuntimeError(f"the generated campaign folder does not load: {exc}") from exc
        _swap(staging, out)
    except OSError as exc:
        raise NoticeError(f"无法在文件夹“{out}”中写入活动设置（{exc.strerror or '拒绝访问'}），可能有文件正被 WPS、"
                          "记事本或资源管理器打开。请关闭后重试；原有文件未改动。") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / name for name in files]


def _swap(staging: Path, out: Path) -> None:
    """Put the staged forms/ and files in place; the old forms/ come back if that fails half-way."""
    old = staging / "old-forms"
    if (out / FORMS_FOLDER).exists():
        (out / FORMS_FOLDER).rename(old)
    try:
        (staging / FORMS_FOLDER).rename(out / FORMS_FOLDER)
        (staging / CAMPAIGN_FILE).replace(out / CAMPAIGN_FILE)
    except OSError:
        if old.exists():
            if (out / FORMS_FOLDER).exists():
                (out / FORMS_FOLDER).rename(staging / "new-forms")
            old.rename(out / FORMS_FOLDER)
        raise
    (staging / REVIEW_FILE).replace(out / REVIEW_FILE)
