"""A fresh installation for the subprocess tests of the `ostiary` command."""

from __future__ import annotations

import pytest

from tests.processes import ostiary_json
from tests.settings import TEST_SETTINGS, as_env


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A fresh installation: its own SQLite file and keys directory, initialised once; its secret key is the one
    `ostiary init` generates, as an operator's is."""
    home = tmp_path_factory.mktemp("cli")
    settings = {name: value for name, value in TEST_SETTINGS.items() if name != "SECRET_KEY"}
    environment = as_env(settings | {"DATABASE_URL": f"sqlite:///{home / 'x.db'}", "KEYS_DIR": str(home / "keys")})
    first = ostiary_json(environment, "init")
    assert first["database"] == "migrated" and first["kid"]
    return environment
