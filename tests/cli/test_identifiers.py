"""Identifiers an operator types: every generated one can be given to a command as an argument."""

from __future__ import annotations

import json
import secrets

from app.cli import cli


def test_a_generated_client_id_never_reads_as_an_option(runner, monkeypatch):
    """token_urlsafe may start with '-', which the command line would read as an option (`clients show -x...`)."""
    real = secrets.token_urlsafe
    draws = iter(["-dashFirst0123456789ab"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda nbytes=None: next(draws, None) or real(nbytes))
    created = runner.invoke(cli, ["clients", "create", "--name", "Job", "--grant-type", "client_credentials", "--json"])
    client_id = json.loads(created.stdout)["client_id"]
    assert not client_id.startswith("-")

    shown = runner.invoke(cli, ["clients", "show", client_id, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["client_id"] == client_id
