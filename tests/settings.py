"""The one table of test settings: for the apps built in this process, and (as_env) for the processes served."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"

TEST_SETTINGS: dict[str, Any] = {
    "SECRET_KEY": SECRET_KEY,
    # Cheap argon2 in tests only; production defaults follow RFC 9106.
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_KIB": 1024,
    "ARGON2_PARALLELISM": 1,
}

# `pytest -n N` (pytest-xdist) runs the tests in worker processes gw0, gw1, ...: each has a database (and Redis
# databases) of its own, named after it.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def worker_index() -> int:
    """0 in a plain run and in the first xdist worker, then 1, 2, ..."""
    return int(XDIST_WORKER.removeprefix("gw") or 0)


# Redis databases of the tests' own, emptied or counted in by them, one per worker: never 0, an operator's default.
REDIS_DATABASES = {"brute_force": (13, 14, 15), "two_nodes": (12, 11, 10)}


def redis_url(purpose: str) -> str | None:
    """This worker's Redis database for `purpose`; None past the third worker (its Redis tests are skipped)."""
    databases = REDIS_DATABASES[purpose]
    return f"redis://127.0.0.1:6379/{databases[worker_index()]}" if worker_index() < len(databases) else None


# What a served process adds: its log is read only when it fails, and INFO lines of every request drown that.
SERVED_SETTINGS: dict[str, Any] = {"LOG_LEVEL": "WARNING"}


def installation(database_url: str, keys_dir: Path | str, issuer: str | None = None, **overrides: Any) -> dict[str, Any]:
    """The settings of one installation: TEST_SETTINGS on this database and keys directory, then the overrides."""
    settings = {**TEST_SETTINGS, "DATABASE_URL": database_url, "KEYS_DIR": str(keys_dir)}
    if issuer is not None:
        settings["ISSUER"] = issuer
    return settings | overrides


def as_env(settings: Mapping[str, Any]) -> dict[str, str]:
    """This process's environment without its OSTIARY_* (the caller's shell never leaks in), plus OSTIARY_<NAME>
    for each setting, written the way an operator writes it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    return clean | {f"OSTIARY_{name}": _env_value(value) for name, value in settings.items()}


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float, Path)):
        return str(value)
    raise TypeError(f"no environment form for {value!r}: pass the string an operator would write")
