"""Moved to tests/processes.py (one launcher, one runner, one free_port); these names stay importable from here
for tests written before the move."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.processes import OSTIARY, free_port, ostiary, ostiary_env, ostiary_json, serve  # noqa: F401
from tests.settings import SECRET_KEY  # noqa: F401


@contextmanager
def serving(env: dict[str, str], log_path: Path, workers: int = 2) -> Iterator[str]:
    """serve() on the issuer's port, yielding the issuer (its base URL as clients know it)."""
    with serve(env, log_path, workers=workers) as node:
        yield env.get("OSTIARY_ISSUER", node.url)
