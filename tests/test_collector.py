"""The garbage-collector policy of a rollup: paused while the batch is built, frozen after, restored at the end."""

from __future__ import annotations

import gc
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.forms.spec import FormSpec
from pipeline.intake.workers import parse_killable
from pipeline.model import Submission
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster
from pipeline.store.collector import long_lived_batch


@pytest.fixture
def collector_state() -> Iterator[None]:
    """Whatever a test does to the collector is undone afterwards."""
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_batch_pauses_then_freezes_then_restores(collector_state: None) -> None:
    """Inside the block the collector is off; settle() freezes the data built so far and turns it back on; the end undoes both."""
    gc.enable()
    before = gc.get_freeze_count()
    with long_lived_batch() as settle:
        assert not gc.isenabled()
        built = [[i] for i in range(1000)]  # containers the collector tracks
        settle()
        assert gc.isenabled()
        assert gc.get_freeze_count() >= before + len(built)
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_batch_restores_the_collector_after_an_error(collector_state: None) -> None:
    """An exception inside the block still gives the collector back, unfrozen."""
    gc.enable()
    with pytest.raises(RuntimeError), long_lived_batch() as settle:
        settle()
        raise RuntimeError("a failing run")
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_batch_leaves_a_disabled_collector_disabled(collector_state: None) -> None:
    """A caller that had switched the collector off finds it off afterwards, settle() included."""
    gc.disable()
    with long_lived_batch() as settle:
        settle()
        assert not gc.isenabled()
    assert not gc.isenabled()


def _report_collector(sub: Submission, *settings: object) -> bytes:
    """A stand-in parse that records whether the worker's collector is on."""
    sub.note = "on" if gc.isenabled() else "off"
    return pickle.dumps(sub)


def test_parse_workers_collect_even_when_the_parent_paused(collector_state: None, forms: dict[str, FormSpec],
                                                           campaign: Campaign, roster: Roster) -> None:
    """A parse worker forked during the paused read turns the collector on: openpyxl workbooks are reference cycles."""
    gc.disable()
    sub = Submission(file="a.xlsx", path=Path("a.xlsx"), sha256="", mtime=0.0)
    ((_, payload),) = parse_killable([sub], _report_collector, (forms, campaign, roster), 30, 1)
    assert isinstance(payload, bytes) and pickle.loads(payload).note == "on"
    assert not gc.isenabled()
