"""A fresh installation for the subprocess tests of the `ostiary` command."""

from __future__ import annotations

import os

import pytest

from tests.cli.installation import ok_json, run
from tests.security.conftest import build_app  # noqa: F401  (apps with their own settings, for tests/cli)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A fresh installation: its own SQLite file and keys directory, initialised once."""
    home = tmp_path_factory.mktemp("cli")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    environment = clean | {
        "OSTIARY_DATABASE_URL": f"sqlite:///{home / 'x.db'}",
        "OSTIARY_KEYS_DIR": str(home / "keys"),
        "OSTIARY_ARGON2_TIME_COST": "1",
        "OSTIARY_ARGON2_MEMORY_KIB": "1024",
        "OSTIARY_ARGON2_PARALLELISM": "1",
    }
    first = ok_json(run(environment, "init", "--json"))
    assert first["database"] == "migrated" and first["kid"]
    return environment
