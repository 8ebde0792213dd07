"""What the subprocess tests of the `ostiary` command share; the runner itself is tests/processes.py's ostiary()."""

from __future__ import annotations

from tests.processes import OSTIARY, ok_json  # noqa: F401  (their earlier home)
from tests.processes import ostiary as run  # noqa: F401

PASSWORD = "a long enough password"
