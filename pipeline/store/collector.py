"""Keep Python's cyclic garbage collector off the batch's data while a rollup builds and writes it.

Reading and validating 10,000 returns builds millions of small objects that all live until the
run ends. With the collector on, every full collection walks all of them again; at province
scale that was a third of a warm rollup's time. So the collector is paused while they are built,
then they are frozen (:func:`gc.freeze`) so that later collections skip them, and the collector
runs as usual for whatever the outputs allocate. Both are undone when the block ends, so an
in-process caller (a test, ``demo``) gets its collector back as it was, with what the block built in
the oldest generation; :func:`gc.unfreeze` releases every frozen object, so nothing else in the
program may rely on :func:`gc.freeze`.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def long_lived_batch() -> Iterator[Callable[[], None]]:
    """Pause the collector; the yielded ``settle()`` freezes what was built so far and resumes it."""
    enabled = gc.isenabled()
    gc.disable()

    def settle() -> None:
        gc.freeze()
        if enabled:
            gc.enable()

    try:
        yield settle
    finally:
        # What the block built goes to the oldest generation, settled or not: left in the youngest, all of it
        # (the modules of pandas and pandera among it) would be walked by the collector's first pass after the
        # block, 50 ms of a 0.6 s ``check``.
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()
