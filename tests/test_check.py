"""`python -m pipeline check FILE…`: list a return's problems, exit 1 on a 错误, write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from returns import CAMPAIGN_TOML, UNITS_CSV, address, clean_values, make_return, roster_unit

from pipeline.cli import main
from pipeline.model import Status, Submission

U001 = roster_unit("U001").name
PATHS = ("--campaign", str(CAMPAIGN_TOML), "--roster", str(UNITS_CSV))


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*")}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory, so that any stray output of the command would show up."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def _check(capsys: pytest.CaptureFixture[str], *files: Path) -> tuple[int, list[str], str]:
    code = main(["check", *PATHS, *(str(f) for f in files)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_clean_file_passes_with_exit_0(tmp_path: Path, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A clean return prints one 通过 line and exits 0."""
    path = make_return(tmp_path / "in", "annex1", "U001", clean_values("annex1"), name="a.xlsx")
    before = _snapshot(tmp_path)

    code, lines, err = _check(capsys, path)

    assert code == 0
    assert lines == [f"a.xlsx：通过（{U001}，读取方式：模板，错误 0 个，警告 0 个）"]
    assert err == ""
    assert _snapshot(tmp_path) == before
    assert list(workdir.iterdir()) == []


def test_bad_file_lists_errors_with_exit_1(tmp_path: Path, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A return with a negative count prints 不通过 and one “[错误]” line naming the cell, and exits 1."""
    path = make_return(tmp_path / "in", "annex1", "U001", clean_values("annex1", s1_center_study_times=-3),
                       name="b.xlsx")
    before = _snapshot(tmp_path)

    code, lines, _ = _check(capsys, path)

    cell = address("annex1", "s1_center_study_times")
    assert code == 1
    assert lines == [
        f"b.xlsx：不通过（{U001}，读取方式：模板，错误 1 个，警告 0 个）",
        f"  [错误] 文件“b.xlsx”，工作表“附件1”，单元格 {cell}（理论学习中心组学习·次数），"
        "所填内容“-3”：数量不能为负数，请更正。",
    ]
    assert _snapshot(tmp_path) == before
    assert list(workdir.iterdir()) == []


def test_warnings_alone_still_exit_0(tmp_path: Path, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A return with only 警告 prints 通过（有警告） with its “[警告]” lines and exits 0."""
    path = make_return(tmp_path / "in", "annex1", "U001", clean_values("annex1", s1_center_study_times="3次"),
                       name="c.xlsx")

    code, lines, _ = _check(capsys, path)

    cell = address("annex1", "s1_center_study_times")
    assert code == 0
    assert lines == [
        f"c.xlsx：通过（有警告）（{U001}，读取方式：模板，错误 0 个，警告 1 个）",
        f"  [警告] 文件“c.xlsx”，工作表“附件1”，单元格 {cell}（理论学习中心组学习·次数），"
        "所填内容“3次”：已按数字 3 计。请今后只填阿拉伯数字。",
    ]
    assert list(workdir.iterdir()) == []


def test_one_bad_file_among_several_exits_1(tmp_path: Path, workdir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Several files are checked in the order given; one with an error makes the exit code 1."""
    good = make_return(tmp_path / "in", "annex2", "U002", clean_values("annex2"), name="good.xlsx")
    bad = make_return(tmp_path / "in", "annex2", "U003", clean_values("annex2", mobile="1381234567"), name="bad.xlsx")

    code, lines, _ = _check(capsys, good, bad)

    assert code == 1
    assert lines[0] == f"good.xlsx：通过（{roster_unit('U002').name}，读取方式：模板，错误 0 个，警告 0 个）"
    assert lines[1] == f"bad.xlsx：不通过（{roster_unit('U003').name}，读取方式：模板，错误 1 个，警告 0 个）"
    assert lines[2].startswith(f"  [错误] 文件“bad.xlsx”，工作表“附件2”，单元格 {address('annex2', 'mobile')}（手机）")
    assert len(lines) == 3
    assert list(workdir.iterdir()) == []


def test_missing_file_is_exit_2(tmp_path: Path, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file that does not exist stops the command with a Chinese message and exit code 2."""
    missing = tmp_path / "nope.xlsx"

    code, lines, err = _check(capsys, missing)

    assert code == 2
    assert lines == []
    assert err == f"错误：找不到文件 {missing}。\n"
    assert list(workdir.iterdir()) == []


def test_unreadable_file_is_an_error_not_a_crash(tmp_path: Path, workdir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A file that is not a workbook is reported as a 错误 (exit 1), never a traceback."""
    junk = tmp_path / "报表.xlsx"
    junk.write_bytes(b"PK\x03\x04 not really a zip")

    code, lines, _ = _check(capsys, junk)

    assert code == 1
    assert lines[0] == "报表.xlsx：格式不符（看起来是报表，但无法读取）（单位未识别，错误 1 个，警告 0 个）"
    assert lines[1].startswith("  [错误] 文件“报表.xlsx”：")


def test_check_prints_how_a_hand_made_sheet_was_read(tmp_path: Path, workdir: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """check on a hand-made sheet says it was read as 自制表格."""
    from handmade_sheets import header_values, label_sheet
    from returns import spec

    annex1 = spec("annex1")
    values = {f.id: 5 for f in annex1.body_fields if f.kind == "count"}
    path = label_sheet(tmp_path / "in" / "自制.xlsx", annex1, values, header_values(roster_unit("U002").name))

    code, lines, _ = _check(capsys, path)

    assert code == 0
    assert lines[0].startswith(f"自制.xlsx：通过（有警告）（{roster_unit('U002').name}，读取方式：自制表格，")
    assert list(workdir.iterdir()) == []


def test_check_gives_each_file_its_rollup_verdict(tmp_path: Path, workdir: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Files checked where they lie in the inbox get the unit and the findings the rollup gives them (issue #20)."""
    from returns import outcomes
    from returns import rollup as roll

    from pipeline.demo.samples import docx_bytes

    inbox = tmp_path / "inbox"
    files = [
        make_return(inbox / "报表" / "U016", "annex1", None, clean_values("annex1", unit_name=None), name="附件1.xlsx"),
        make_return(inbox / "清河县公路管理站", "annex1", None, clean_values("annex1", unit_name=None), name="附件1.xlsx"),
        make_return(inbox / "2023-06-26", "annex1", "U001", clean_values("annex1"), name="附件1.xlsx"),
        make_return(inbox / "2023-06-28", "annex1", "U001", clean_values("annex1", report_date="2023-06-31"),
                    name="附件1.xlsx"),
        make_return(inbox, "annex1", "U002", clean_values("annex1", unit_name=roster_unit("U003").name),
                    name="U002附件1.xlsx"),
    ]
    lone = inbox / "U004" / "情况说明.docx"
    lone.parent.mkdir(parents=True)
    lone.write_bytes(docx_bytes(["情况说明", "我单位开展了活动。"]))
    result = roll(inbox, tmp_path / "outbox")
    assert outcomes(result)["U004/情况说明.docx"] == "无法识别"  # the lone document is 格式不符 in the rollup
    by_file = {s.file: s for s in result.submissions}

    code = main(["check", *PATHS, "--inbox", str(inbox), *(str(f) for f in [*files, lone])])
    lines = capsys.readouterr()[0].splitlines()

    assert code == 1
    heads = [i for i, line in enumerate(lines) if not line.startswith("  ")]
    assert len(heads) == len(files) + 1
    for start, end in zip(heads, [*heads[1:], len(lines)], strict=True):
        name = lines[start].split("：", 1)[0]
        sub = by_file[name]
        unit = sub.unit.name if sub.unit else "单位未识别"
        assert f"（{unit}" in lines[start], lines[start]
        assert lines[start + 1:end] == [f"  [{f.severity}] {f.text}" for f in sub.findings]


# What reads a scan or photo: never loaded for a workbook. pipeline.scans.marks (names only) is not among them.
OCR_MODULES = ("cv2", "rapidocr", "onnxruntime", "pypdfium2", *(f"pipeline.scans.{m}" for m in
                                                                 ("engine", "lines", "page", "pages", "layout", "read")))


def test_check_of_a_workbook_imports_no_ocr_module(tmp_path: Path) -> None:
    """``check`` of an .xlsx, in a fresh interpreter, imports no OCR module (nor openpyxl in the main process),
    and reading that file as its worker process does imports no OCR module either."""
    import json
    import os
    import subprocess
    import sys

    path = make_return(tmp_path / "in", "annex1", "U001", clean_values("annex1"), name="附件1_U001.xlsx")
    script = (
        "import json, sys; from pathlib import Path; from pipeline.cli import main\n"
        "code = main(sys.argv[2:])\n"
        f"watched = {(*OCR_MODULES, 'openpyxl')!r}\n"
        "main_process = sorted(m for m in watched if m in sys.modules)\n"
        "from pipeline.forms.spec import load_forms; from pipeline.settings.campaign import load_campaign\n"
        "from pipeline.settings.roster import load_roster; from pipeline.intake.batch import read_file\n"
        "path = Path(sys.argv[1])\n"
        f"sub = read_file(path, path.parent, load_forms(), load_campaign(Path({str(CAMPAIGN_TOML)!r})), "
        f"load_roster(Path({str(UNITS_CSV)!r})))\n"
        "reader = sorted(m for m in watched if m in sys.modules)\n"
        "print(json.dumps([code, sub.read_as, main_process, reader]))\n"
    )
    run = subprocess.run([sys.executable, "-c", script, str(path), "check", *PATHS, str(path)], capture_output=True,
                         text=True, check=False, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert run.returncode == 0, run.stderr
    code, read_as, main_process, reader = json.loads(run.stdout.splitlines()[-1])
    assert (code, read_as) == (0, "模板")
    assert main_process == []
    assert [m for m in reader if m != "openpyxl"] == []  # the reader may need openpyxl, never OCR


def test_check_refuses_when_the_readers_would_not_parse_through_defusedxml(
        tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The worker processes check openpyxl's XML parser before their first file: without defusedxml, ``check``
    stops with the Chinese guard message and exit code 2, and no verdict on the file."""
    import openpyxl.xml

    path = make_return(tmp_path / "in", "annex1", "U001", clean_values("annex1"), name="a.xlsx")
    monkeypatch.setattr(openpyxl.xml, "DEFUSEDXML", False)  # the forked workers inherit it

    code, lines, err = _check(capsys, path)

    assert code == 2
    assert lines == []
    assert err.startswith("错误：openpyxl 没有启用 defusedxml 安全解析")


def test_python_m_pipeline_validates_without_importing_hypothesis(tmp_path: Path) -> None:
    """``python -m pipeline check`` validates with pandera and never imports hypothesis (installed for the tests
    only; pandera would load it to offer data synthesis): the verdict is the same, the start-up shorter."""
    import os
    import subprocess
    import sys

    path = make_return(tmp_path / "in", "annex1", "U001", clean_values("annex1", s1_reflection_articles=-1),
                       name="a.xlsx")
    # python -m pipeline ends its process in end_process; here it raises SystemExit instead, so that the modules
    # it imported can be listed after it.
    script = ("import runpy, sys\nimport pipeline.cli\n"
              "def stop(code):\n    raise SystemExit(code)\n"
              "pipeline.cli.end_process = stop\nsys.argv[0] = 'pipeline'\ntry:\n"
              "    runpy.run_module('pipeline', run_name='__main__', alter_sys=True)\n"
              "except SystemExit as done:\n    code = done.code\n"
              "print('CODE', code, 'pandera' in sys.modules, sys.modules.get('hypothesis') is not None)\n")
    run = subprocess.run([sys.executable, "-c", script, "check", *PATHS, str(path)], capture_output=True, text=True,
                         check=False, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    lines = run.stdout.splitlines()
    assert lines[-1] == "CODE 1 True False", run.stderr
    assert lines[0].startswith("a.xlsx：不通过") and "负数" in run.stdout


def test_checking_every_demo_file_gives_each_its_rollup_outcome(tmp_path: Path) -> None:
    """With statuses for the files' own units only, check gives every file of the demo inbox the rollup's outcome,
    note, unit and findings (duplicates, superseded, late, 格式不符 and archives among them)."""
    from returns import settings

    from pipeline.checks.rollup import Rollup
    from pipeline.demo.samples import docx_bytes
    from pipeline.job import collect, collect_files

    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    assert main(["demo", *PATHS, "--inbox", str(inbox), "--outbox", str(outbox)]) == 0
    forms, campaign, roster = settings()
    # And a unit that sent nothing else: one unreadable document in its folder, which makes it 格式不符.
    sent = {s.unit.code for s in collect(inbox, tmp_path / "first", forms, campaign, roster).submissions if s.unit}
    silent = next(u for u in roster if u.code not in sent)
    (inbox / silent.code).mkdir()
    (inbox / silent.code / "情况说明.docx").write_bytes(docx_bytes(["情况说明", "我单位开展了活动。"]))
    full = collect(inbox, tmp_path / "again", forms, campaign, roster)
    files = sorted(p for p in inbox.rglob("*") if p.is_file())
    checked = collect_files(files, inbox, forms, campaign, roster)

    def view(subs: list[Submission]) -> dict[str, tuple[object, ...]]:
        return {s.file: (s.outcome, s.note, s.unit.code if s.unit else None, [(f.severity, f.text) for f in s.findings])
                for s in subs}

    assert view(checked.submissions) == view(full.submissions)
    assert len(full.submissions) >= 40
    named = {s.unit.code for s in full.submissions if s.unit is not None}
    assert {st.unit.code for st in checked.statuses} == named != {u.code for u in roster}
    assert {st.status for st in full.statuses if st.unit == silent} == {Status.MISMATCH}

    def statuses(rollup: Rollup) -> list[tuple[object, ...]]:
        return [(st.unit.code, st.form_id, st.status, st.counted and st.counted.file, st.latest and st.latest.file,
                 st.note, st.arrival, st.on_time) for st in rollup.statuses if st.unit.code in named]

    assert statuses(checked) == statuses(full)


def test_what_check_built_is_in_the_oldest_generation_when_it_returns(tmp_path: Path) -> None:
    """collect_files freezes what it built before the collector resumes, so no young pass walks the batch (50 ms)."""
    import gc

    from returns import settings

    from pipeline.job import collect_files

    forms, campaign, roster = settings()
    path = make_return(tmp_path / "inbox", "annex1", "U001", clean_values("annex1"))
    was = gc.isenabled()
    gc.enable()
    try:
        rollup = collect_files([path], tmp_path / "inbox", forms, campaign, roster)
        assert gc.isenabled()
        assert any(found is rollup for found in gc.get_objects(generation=2))
    finally:
        if not was:
            gc.disable()


def test_check_does_not_need_the_contact_address(tmp_path: Path, workdir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """check sends no mail, so a campaign whose contact address is not a mailbox still checks a file (rollup refuses)."""
    import re

    campaign = tmp_path / "campaign.toml"
    text = CAMPAIGN_TOML.read_text(encoding="utf-8")
    campaign.write_text(re.sub(r"(?m)^email = .*$", 'email = "yqjt6623055-163.com"', text), encoding="utf-8")
    path = make_return(tmp_path / "in", "annex1", "U001", clean_values("annex1"))
    code = main(["check", "--campaign", str(campaign), "--roster", str(UNITS_CSV), str(path)])
    out = capsys.readouterr().out
    assert code == 0 and "：通过（" in out, out
