"""Moved to tests/processes.py (one launcher, one runner, one free_port); these names stay importable from here
for tests written before the move."""

from tests.processes import OSTIARY, free_port, ostiary, ostiary_env, ostiary_json  # noqa: F401
