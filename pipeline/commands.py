"""The ingest-side commands (rollup, check, demo, mail), registered on the CLI."""

from __future__ import annotations
