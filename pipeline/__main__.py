"""``python -m pipeline``: the command line."""

import sys

# pandera imports hypothesis whenever it is installed (``make setup`` installs the developer tools), only to
# offer data synthesis, which this program never uses: 0.1–0.2 s of every command that validates. The command
# line is a process of its own, so it declines that import (pandera then goes without, as it is meant to);
# tests that call pipeline.cli.main in their own process are not affected.
sys.modules.setdefault("hypothesis", None)  # type: ignore[arg-type]

from pipeline.cli import end_process, main  # noqa: E402  (after the line above, which must come first)

end_process(main())
