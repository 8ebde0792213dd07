"""What an operator sees: results on stdout, nothing of the server's log on the terminal."""

from __future__ import annotations

import pytest

from tests.cli.installation import PASSWORD, ok_json, run


@pytest.fixture
def fresh(env: dict[str, str], tmp_path) -> dict[str, str]:
    """An installation whose database is not initialised yet."""
    return env | {"OSTIARY_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}


def test_log_lines_stay_off_the_terminal(fresh):
    """The migrations' and the audit trail's JSON log lines are for the server's log collector."""
    initialised = run(fresh, "init")
    assert (initialised.returncode, initialised.stderr) == (0, "")
    created = run(fresh, "users", "create", "ann@example.com", "--password-stdin", stdin=PASSWORD + "\n")
    assert (created.returncode, created.stderr) == (0, ""), created.stderr
    # The command is still audited: its row is in the trail.
    assert [e["event"] for e in ok_json(run(fresh, "audit", "list", "--json"))] == ["user.created"]
