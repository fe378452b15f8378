"""Tests for what a re-run reuses: shared objects in read parses, the one-query read of the parse cache."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from returns import clean_values, make_return

from pipeline.forms.spec import FormSpec
from pipeline.intake import batch
from pipeline.intake.scan import stamp_inbox
from pipeline.model import RawCell, Submission
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster
from pipeline.store.ledger import LEDGER_NAME, Ledger


@pytest.fixture()
def inbox(tmp_path: Path) -> Path:
    """Three returns of 附件1 (one with a slip) and one of 附件2."""
    folder = tmp_path / "inbox"
    make_return(folder, "annex1", "U001", clean_values("annex1"))
    make_return(folder, "annex1", "U002", clean_values("annex1", s1_center_study_people="12次"))
    make_return(folder, "annex1", "U003", clean_values("annex1"))
    make_return(folder, "annex2", "U004", clean_values("annex2"))
    return folder


def _read(inbox: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
          ledger: Ledger | None) -> list[Submission]:
    return batch.read_all([s.submission() for s in stamp_inbox(inbox)], forms, campaign, roster, cache=ledger)


def _plain(subs: list[Submission]) -> list[Submission]:
    """The same parses through a plain pickle round trip: nothing shared between them."""
    return [pickle.loads(pickle.dumps(s)) for s in subs]


def test_parses_share_field_ids_addresses_and_units_and_equal_plain_ones(
        inbox: Path, tmp_path: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster) -> None:
    """Fresh and cached parses equal plain unpickled ones, hold RawCells, and share ids, addresses and the roster's units."""
    with Ledger(tmp_path / LEDGER_NAME) as ledger:
        fresh = _read(inbox, forms, campaign, roster, ledger)
        cached = _read(inbox, forms, campaign, roster, ledger)
    uncached = _read(inbox, forms, campaign, roster, None)
    assert fresh == _plain(fresh) == cached == uncached
    for subs in (fresh, cached, uncached):
        annex1 = [s for s in subs if s.form_id == "annex1"]
        assert len(annex1) == 3
        first, *others = annex1
        for other in others:
            for key, cell in other.raw.items():
                assert type(cell) is RawCell
                shared_key = next(k for k in first.raw if k == key)
                assert shared_key is key and first.raw[key].address is cell.address
            assert all(a is b for a, b in zip(other.values, other.raw, strict=True))
        for sub in subs:
            assert sub.unit is not None and sub.unit is roster.by_code(sub.unit.code)


def test_cache_is_read_in_one_query_and_a_broken_entry_is_parsed_again(
        inbox: Path, tmp_path: Path, forms: dict[str, FormSpec], campaign: Campaign, roster: Roster,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached read asks the ledger once for every parse; an entry that does not load is a miss, parsed again."""
    calls: list[list[str]] = []
    with Ledger(tmp_path / LEDGER_NAME) as ledger:
        first = _read(inbox, forms, campaign, roster, ledger)
        real = ledger.cache_items

        def spy(keys: list[str]) -> object:
            calls.append(list(keys))
            return real(keys)

        monkeypatch.setattr(ledger, "cache_items", spy)
        keys = batch.cache_keys(forms, campaign, roster, first)
        ledger.cache_put(keys[1], pickle.dumps(["not", "a", "submission"]))
        parsed: list[str] = []
        real_parse = batch.parse_killable

        def count(subs: list[Submission], *args: object) -> object:
            parsed.extend(s.file for s in subs)
            return real_parse(subs, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(batch, "parse_killable", count)
        again = _read(inbox, forms, campaign, roster, ledger)
    assert len(calls) == 1 and sorted(calls[0]) == sorted(keys)
    assert parsed == [first[1].file]
    assert again == first
