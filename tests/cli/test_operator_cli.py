"""`ostiary` is a command line of its own: Ostiary's version, Ostiary's commands, nothing of Flask's."""

from __future__ import annotations

import os
from importlib.metadata import version

import pytest
from click.testing import CliRunner

from app.cli import cli
from tests.processes import ostiary


@pytest.mark.slow
def test_version_is_the_installed_packages():
    """From the package metadata: no settings, no database, no app needed."""
    result = ostiary({**os.environ, "OSTIARY_ISSUER": "not even valid"}, "--version")
    assert (result.returncode, result.stdout) == (0, f"ostiary {version('ostiary')}\n")


def test_help_offers_no_flask_options_and_no_developer_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for flask_only in ("--app", "--debug", "--env-file", " db ", " run ", " shell ", " routes "):
        assert flask_only not in result.output
    assert {"init", "serve", "users", "clients", "keys", "audit"} <= set(cli.commands)


@pytest.mark.parametrize("args", [["db", "upgrade"], ["db", "migrate"], ["shell"],
                                  ["--app", "wsgi", "routes"], ["--debug", "init"]])
def test_developer_commands_are_not_there(args):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "No such command" in result.output or "No such option" in result.output
