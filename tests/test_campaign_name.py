"""The campaign's name ([campaign] name) in everything users see: file names, workbooks, mail and the report upward."""

from __future__ import annotations

import email
import email.policy
import shutil
import warnings
from email.message import EmailMessage
from pathlib import Path

import docx
import openpyxl
from returns import CAMPAIGN_TOML, UNITS_CSV, clean_values, count_ids, fill, pairs

from pipeline.cli import main
from pipeline.forms.spec import FORMS_DIR

FIRE = "消防宣传月"
SAFETY = "安全生产月"


def campaign_folder(tmp: Path, name: str | None) -> Path:
    """A campaign folder in ``tmp``: for ``name``, campaign.toml and forms as ``make init`` writes them from its notice.

    With no name, the repository's campaign.toml as it is (the 2023 default) and the built-in forms.
    """
    folder = tmp / "campaign"
    folder.mkdir()
    text = CAMPAIGN_TOML.read_text(encoding="utf-8")
    if name is not None:
        text = text.replace(SAFETY, name).replace("[campaign]\n", f'[campaign]\nname = "{name}"\n', 1)
        (folder / "forms").mkdir()
        for spec in FORMS_DIR.glob("*.toml"):  # the notice's own annexes name its own campaign
            (folder / "forms" / spec.name).write_text(spec.read_text(encoding="utf-8").replace(SAFETY, name),
                                                      encoding="utf-8")
    (folder / "campaign.toml").write_text(text, encoding="utf-8")
    return folder / "campaign.toml"


def run_all(tmp: Path, campaign: Path) -> tuple[Path, Path]:
    """templates → three returns (clean, with an error, with a warning) → rollup → mail drafts → report.

    Returns the templates and outbox folders.
    """
    templates, inbox, outbox = tmp / "templates", tmp / "inbox", tmp / "outbox"
    paths = ["--campaign", str(campaign), "--roster", str(UNITS_CSV)]
    assert main(["templates", *paths, "--templates", str(templates)]) == 0
    inbox.mkdir()
    people = next(iter(pairs()))  # fewer participants than sessions: a warning
    returns = (("U001", clean_values("annex1")), ("U002", clean_values("annex1", **{count_ids()[0]: "abc"})),
               ("U003", clean_values("annex1", **{people: 1})))
    for code, values in returns:
        made = next(templates.glob(f"附件1_*_{code}_*.xlsx"))
        fill(Path(shutil.copy(made, inbox / made.name)), values)
    io = [*paths, "--inbox", str(inbox), "--outbox", str(outbox)]
    assert main(["rollup", *io]) == 0
    for kind in ("templates", "reminders", "feedback"):
        assert main(["mail", kind, *io, "--templates", str(templates)]) == 0
    assert main(["report", *io, "--date", "2023-06-30"]) == 0
    return templates, outbox


def files(*folders: Path) -> list[Path]:
    """Every file the run wrote, below ``folders`` (the program's hidden bookkeeping left out)."""
    return sorted(p for f in folders for p in f.rglob("*") if p.is_file() and not p.name.startswith("."))


def workbook_texts(path: Path) -> list[str]:
    """The sheet names, every text cell and the title property of a workbook."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(path)
    try:
        texts = [*wb.sheetnames, wb.properties.title or ""]
        for ws in wb.worksheets:
            texts += [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
        return texts
    finally:
        wb.close()


def docx_text(path: Path) -> str:
    """A Word file's paragraphs, table cells and title property."""
    document = docx.Document(str(path))
    texts = [p.text for p in document.paragraphs]
    texts += [c.text for t in document.tables for row in t.rows for c in row.cells]
    return "\n".join([*texts, document.core_properties.title or ""])


def message(path: Path) -> EmailMessage:
    """A mail draft as a message."""
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body(msg: EmailMessage) -> str:
    """The plain-text body of a draft."""
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_another_campaign_says_its_own_name_everywhere(tmp_path: Path) -> None:
    """A 消防宣传月 campaign's file names, workbooks, mail and report say 消防宣传月, never 安全生产月."""
    templates, outbox = run_all(tmp_path, campaign_folder(tmp_path, FIRE))
    written = files(templates, outbox)
    assert not [p for p in written if SAFETY in str(p.relative_to(tmp_path))]
    names = {p.name for p in written}
    assert "清河县2023年消防宣传月活动情况汇总.xlsx" in names
    assert "清河县2023年“消防宣传月”活动总结（草稿）.docx" in names
    assert "清河县2023年“安全生产月”活动总结（草稿）.docx" not in names
    rollup = outbox / "清河县2023年消防宣传月活动情况汇总.xlsx"
    rollup_texts = workbook_texts(rollup)
    assert any(FIRE in t for t in rollup_texts)
    for path in [p for p in written if p.suffix == ".xlsx"]:
        assert not [t for t in workbook_texts(path) if SAFETY in t], path.name
    for path in [p for p in written if p.suffix == ".csv"]:
        assert SAFETY not in path.read_text(encoding="utf-8-sig"), path.name
    drafts = [p for p in written if p.suffix == ".eml"]
    kinds = {p.parent.name for p in drafts}
    assert len(kinds) == 3, kinds  # templates, reminders and feedback each gave drafts
    subjects = set()
    for path in drafts:
        msg = message(path)
        subjects.add(str(msg["Subject"]))
        assert FIRE in str(msg["Subject"]) and SAFETY not in str(msg["Subject"]), path.name
        assert FIRE in body(msg) and SAFETY not in body(msg), path.name
        for attachment in msg.iter_attachments():
            assert SAFETY not in (attachment.get_filename() or ""), path.name
    assert "关于催报及退回修改2023年“消防宣传月”有关报送事项的通知" in subjects
    reports = [p for p in written if p.suffix == ".docx"]
    assert len(reports) >= 2, reports  # the 总结 draft and the filled 附件1
    for path in reports:
        text = docx_text(path)
        assert FIRE in text and SAFETY not in text, path.name
    summary = docx_text(next(outbox.rglob("清河县2023年“消防宣传月”活动总结（草稿）.docx")))
    assert "清河县交通运输局2023年“消防宣传月”活动总结" in summary
    assert "为主题的消防宣传月活动" in summary


def test_the_default_campaign_keeps_the_2023_names(tmp_path: Path) -> None:
    """The 2023 campaign (no [campaign] name) keeps its file names, subjects and wording as before."""
    templates, outbox = run_all(tmp_path, campaign_folder(tmp_path, None))
    written = files(templates, outbox)
    names = {p.name for p in written}
    assert "清河县2023年安全生产月活动情况汇总.xlsx" in names
    assert "清河县2023年“安全生产月”活动总结（草稿）.docx" in names
    assert "附件1_活动情况统计表_U001_清河县顺达货物运输有限公司.xlsx" in names
    subjects = {str(message(p)["Subject"]) for p in written if p.suffix == ".eml"}
    assert "关于催报及退回修改2023年“安全生产月”有关报送事项的通知" in subjects
    bodies = "\n".join(body(message(p)) for p in written if p.suffix == ".eml")
    assert "《全县交通运输系统2023年“安全生产月”活动方案》" in bodies
    summary = docx_text(next(outbox.rglob("清河县2023年“安全生产月”活动总结（草稿）.docx")))
    assert "清河县交通运输局2023年“安全生产月”活动总结" in summary
    assert "为主题的安全生产月活动" in summary
    texts = workbook_texts(outbox / "清河县2023年安全生产月活动情况汇总.xlsx")
    assert "清河县2023年安全生产月活动情况汇总" in texts  # the workbook's title property
    assert "附件2\u30002023年“安全生产月”活动联络员表（汇总）" in texts

