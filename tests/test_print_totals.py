"""The 汇总表 prints every county total however long the units' 典型案例 are (issue #13, item 7)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from office import convert, pdf_text
from returns import clean_values, make_return, rollup, settings

from pipeline.outputs.report import rollup_name

LONG_CASE = "某运输企业驾驶员在{n}号隧道内违规超车、疲劳驾驶，被执法人员当场查处并依法处以罚款，企业主要负责人被约谈，已在全县交通运输系统通报整改情况。"


@pytest.mark.soffice
def test_every_total_prints_with_twenty_long_cases(tmp_path: Path, soffice: str, office_profile: Path) -> None:
    """Twenty units with a ~65-character 典型案例 each: the PDF of the rollup shows all 74 totals of the 汇总表."""
    forms, _, roster = settings()
    counts = [f.id for f in forms["annex1"].fields if f.kind == "count"]
    assert len(counts) == 74
    values = {fid: 10 + i for i, fid in enumerate(counts)}  # distinct per field, so each total is recognisable
    inbox = tmp_path / "inbox"
    units = list(roster)[:20]
    assert len(units) == 20
    for n, unit in enumerate(units):
        case = LONG_CASE.format(n=n)
        assert 60 <= len(case) <= 70
        make_return(inbox, "annex1", unit.code, clean_values("annex1", **values, s4_case_details=case))
    result = rollup(inbox, tmp_path / "outbox")
    assert len(result.counted("annex1")) == 20
    workbook = tmp_path / "outbox" / rollup_name(result)
    pdf, = convert(soffice, [workbook], tmp_path / "pdf", "pdf", office_profile)
    text = pdf_text(pdf)
    missing = [fid for fid, value in values.items() if f"（{20 * value}）" not in text]
    assert missing == []
    assert "典型案例具体为（见“典型案例”表，共20件）" in text
    for n in range(20):  # the full texts print on the 典型案例 sheet
        assert LONG_CASE.format(n=n) in text
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "2", str(pdf), str(tmp_path / "page")],
                   check=True, timeout=120)
