"""One unit's text can never abort the batch: extreme text in every free-text field still gives every output (issue #13, item 1)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from returns import clean_values, make_return, read_csv
from returns import settings as repo_settings

import pipeline.workbook.read as reader
from pipeline.job import collect, rollup_to_outbox
from pipeline.model import RawCell, Submission
from pipeline.outputs.feedback import FEEDBACK_DIR
from pipeline.outputs.limits import MAX_CELL_CHARS
from pipeline.outputs.mail.drafts import batch_lines, draft_feedback, draft_reminders

FREE_TEXT_KINDS = ("text", "person", "phone", "mobile", "email")
MAX_LENGTH = 40_000
PIECES = ["\x00", "\x01", "\x07", "\x0b", "\x1f", "\t", "\r\n", "=", "+", "-", "@", "=HYPERLINK(\"http://x\")",
          "😀", "👨‍👩‍👧", "\u202e", "\u200f", "\u061c", "\ud800", "\udfff", "\ufffe", "字", "，（兼）", " ", "a"]


@st.composite
def extreme_text(draw: st.DrawFn) -> str:
    """Text up to 40,000 characters: a start (often a formula trigger) and a piece repeated, or plain random text."""
    if draw(st.booleans()):
        return draw(st.text(max_size=200))
    start = draw(st.sampled_from(["", "=", "+", "-", "@", "\u202e", "\x00"]))
    piece = draw(st.sampled_from(PIECES)) + draw(st.sampled_from(PIECES))
    count = draw(st.integers(min_value=1, max_value=MAX_LENGTH // len(piece)))
    return start + piece * count


@pytest.fixture(scope="module")
def returns_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One unit's two returns (to be given extreme text as they are read) and a templates folder kept between examples."""
    root = tmp_path_factory.mktemp("fuzz")
    inbox = root / "inbox"
    make_return(inbox, "annex1", "U001", clean_values("annex1"))
    make_return(inbox, "annex2", "U001", clean_values("annex2", note="备注"))
    return inbox, root / "templates"


def _free_text_ids(form_id: str) -> list[str]:
    forms, _, _ = repo_settings()
    return [f.id for f in forms[form_id].fields if f.kind in FREE_TEXT_KINDS]


@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # a failing example is 40,000 characters
# No shrinking: shrinking 40,000-character texts takes minutes; a failure prints its example whole.
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(texts=st.fixed_dictionaries({fid: extreme_text() for form in ("annex1", "annex2") for fid in _free_text_ids(form)}))
def test_extreme_text_never_stops_rollup_feedback_or_mail(returns_dir: tuple[Path, Path], texts: dict[str, str]) -> None:
    """Every free-text field of both forms holds extreme text: rollup, feedback and mail drafts are all written."""
    inbox, templates = returns_dir
    forms, campaign, roster = repo_settings()
    real = reader.read_book

    def typed(sub: Submission, *args: Any) -> Any:  # the unit typed the extreme text into each field
        spec = real(sub, *args)
        for fid, cell in list(sub.raw.items()):
            if fid in texts:
                sub.raw[fid] = RawCell(texts[fid], cell.address)
        return spec

    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as folder:
        patch.setenv("PIPELINE_READER", "full")
        patch.setattr(reader, "read_book", typed)
        outbox = Path(folder)
        lines = rollup_to_outbox(inbox, outbox, forms, campaign, roster)
        assert not any("未能生成" in line or "程序内部错误" in line for line in lines), lines
        for name in ("records.csv", "issues.csv", "files.csv"):  # Excel opens them: no cell over its limit
            rows = read_csv(outbox / name)
            assert all(len(v) <= MAX_CELL_CHARS for r in rows for v in r.values()), name
        assert len(read_csv(outbox / "files.csv")) == 2
        assert len(list(outbox.glob("*.xlsx"))) == 1
        rollup = collect(inbox, outbox, forms, campaign, roster, "test")
        u001 = [s for s in rollup.statuses if s.unit.code == "U001"]
        assert len(u001) == 2
        expected = {s.form_id for s in u001 if s.status in ("退回", "有警告")}
        assert len(list((outbox / FEEDBACK_DIR).glob("*.xlsx"))) == len(expected)
        for batch in (draft_reminders(rollup, templates, outbox), draft_feedback(rollup, outbox)):
            assert batch.failed == [], batch_lines(batch)
            for draft in batch.drafts:
                assert draft.path.is_file()
