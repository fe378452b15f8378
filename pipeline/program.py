"""The program's own identity: a digest of its code and form specs.

Anything computed by the program and kept between runs (the parse cache, the last run's
state, the feedback workbooks) is keyed on it, so that any change to the code invalidates it
without anyone having to remember to bump a version. Imports nothing from the pipeline.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

_PACKAGE = Path(__file__).parent


def package_digest(package: Path) -> str:
    """A digest of every .py and .toml file below ``package``: their paths and bytes.

    Walked with ``os.walk``, compiled bytecode folders left out: every run computes it, an unchanged re-run too.
    """
    found: list[tuple[str, str]] = []
    root = os.fspath(package)
    for folder, folders, names in os.walk(root):
        folders[:] = [f for f in folders if f != "__pycache__"]
        prefix = os.path.relpath(folder, root).replace(os.sep, "/")
        found += [(name if prefix == "." else f"{prefix}/{name}", os.path.join(folder, name))  # noqa: PTH118
                  for name in names if name.endswith((".py", ".toml"))]
    digest = hashlib.sha256()
    for relative, path in sorted(found):
        if os.path.isfile(path):  # noqa: PTH113  (plain strings, as above)
            digest.update(relative.encode())
            with open(path, "rb") as handle:  # noqa: PTH123  (no Path per file: see the docstring)
                digest.update(handle.read())
    return digest.hexdigest()


@functools.cache
def program_digest() -> str:
    """The digest of this package's own code and form specs: a new program version redoes what it made."""
    return package_digest(_PACKAGE)


READER_ENV = "PIPELINE_READER"


def fast_reader_enabled() -> bool:
    """False when ``PIPELINE_READER=full`` asks for the openpyxl reader only."""
    return os.environ.get(READER_ENV, "fast") != "full"
