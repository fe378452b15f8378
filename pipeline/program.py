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
    """A digest of every .py and .toml file below ``package``: their paths and bytes."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".toml") and path.is_file():
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.cache
def program_digest() -> str:
    """The digest of this package's own code and form specs: a new program version redoes what it made."""
    return package_digest(_PACKAGE)


READER_ENV = "PIPELINE_READER"


def fast_reader_enabled() -> bool:
    """False when ``PIPELINE_READER=full`` asks for the openpyxl reader only."""
    return os.environ.get(READER_ENV, "fast") != "full"
