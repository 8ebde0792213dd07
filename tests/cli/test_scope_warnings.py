"""A principal's API scope that no registered resource defines is most likely a typo: the command says so."""

from __future__ import annotations

import json

import pytest

from app.cli import cli
from tests.factories import DEFAULT_PASSWORD

WARNING = "Warning: no registered resource defines the scope invoices:raed"


@pytest.fixture
def billing(make) -> None:
    make.resource("https://billing.example.com", scope="invoices:read invoices:write")
    make.user("ann@example.com")
    make.service_account("sync")


def invoke(runner, *args: str, stdin: str | None = None):
    result = runner.invoke(cli, [*args, "--json"], input=stdin)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout), result.stderr


@pytest.mark.parametrize("command", [
    ["users", "update", "ann@example.com", "--scope"],
    ["users", "create", "bob@example.com", "--password-stdin", "--scope"],
    ["service-accounts", "create", "--name", "other", "--scope"],
])
def test_an_undefined_scope_is_granted_with_a_warning(runner, billing, command):
    granted, warning = invoke(runner, *command, "invoices:read invoices:raed", stdin=DEFAULT_PASSWORD)
    assert granted["scope"] == "invoices:read invoices:raed"
    assert warning.startswith(WARNING) and "invoices:read " not in warning


def test_service_accounts_update_warns_too(runner, billing):
    [account] = invoke(runner, "service-accounts", "list")[0]
    assert invoke(runner, "service-accounts", "update", account["sub"], "--scope", "invoices:raed")[1].startswith(
        WARNING)


def test_scopes_that_resources_define_need_no_warning(runner, billing):
    assert invoke(runner, "users", "update", "ann@example.com", "--scope", "invoices:read invoices:write")[1] == ""
    assert invoke(runner, "users", "update", "ann@example.com", "--scope", "")[1] == ""
    assert invoke(runner, "users", "update", "ann@example.com", "--name", "Ann")[1] == ""
