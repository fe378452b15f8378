"""Where the demo writes: its own folders, apart from the real inbox/ and outbox/ (light: the CLI imports it at start-up)."""

from pathlib import Path

DEMO_INBOX = Path("demo/inbox")
DEMO_OUTBOX = Path("demo/outbox")
TRUTH_NAME = "truth.json"
