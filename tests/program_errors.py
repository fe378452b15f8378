"""pytest plugin: a test during which the pipeline logged a program error fails, unless it expects one.

Program errors (:mod:`pipeline.faults`) are never the unit's fault and never expected in a run; a
test that provokes one on purpose says so with ``@pytest.mark.program_error``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from pipeline.faults import LOG


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def _no_program_errors(request: pytest.FixtureRequest) -> Iterator[list[logging.LogRecord]]:
    """Collect program errors logged during the test; fail the test on any it did not declare."""
    handler = _Collect()
    LOG.addHandler(handler)
    try:
        yield handler.records
    finally:
        LOG.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("program_error") is None:
        first = handler.records[0]
        detail = handler.format(first) if first.exc_info is None else logging.Formatter().format(first)
        pytest.fail(f"{len(handler.records)} program error(s) logged during the test:\n{detail}", pytrace=False)
