"""`ostiary clients disable/enable`: a disabled client is refused everywhere as if it were not registered."""

from __future__ import annotations

import json

from app.cli import cli
from tests.factories import RegisteredClient
from tests.flows import (
    assert_oauth_error,
    authorization_params,
    client_credentials,
    introspect,
    pkce_pair,
    refresh,
    signed_in,
    tokens_for,
)
from tests.protocol.test_authorize import assert_error_page


def run(runner, *args: str):
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_a_disabled_client_is_refused_like_an_unknown_one(runner, live_server, make):
    make.user("ann@example.com")
    app = make.client()
    tokens = tokens_for(live_server, app, "ann@example.com")
    machine = make.machine()
    machine_token = client_credentials(live_server, machine).json()["access_token"]
    auditor = make.machine(introspect_all=True)
    assert introspect(live_server, auditor, machine_token)["active"] is True

    for client in (app, machine):
        assert run(runner, "clients", "disable", client.client_id)["is_active"] is False

    # The token endpoint: the same answer as for a client_id nobody registered.
    unknown = client_credentials(live_server, RegisteredClient("no-such-client", machine.client_secret, ""))
    refused = client_credentials(live_server, machine)
    assert (refused.status_code, refused.json()) == (unknown.status_code, unknown.json()) == (
        401, {"error": "invalid_client", "error_description": "client authentication failed"})
    # Its refresh tokens stop working, and its access tokens are no longer active.
    assert refresh(live_server, app, tokens["refresh_token"]).status_code == 401
    assert introspect(live_server, auditor, machine_token)["active"] is False
    assert introspect(live_server, auditor, tokens["access_token"])["active"] is False
    # The authorization endpoint: the unknown-client page, never a redirect to the client.
    browser = signed_in(live_server, "ann@example.com")
    assert_error_page(browser.authorize(authorization_params(app, pkce_pair()[1])), "invalid_client")

    listed = {c["client_id"]: c["is_active"] for c in run(runner, "clients", "list")}
    assert listed == {app.client_id: False, machine.client_id: False, auditor.client_id: True}
    rows = {line.split()[0]: line.split() for line in runner.invoke(cli, ["clients", "list"]).stdout.splitlines()}
    assert "disabled" in rows[app.client_id] and "active" in rows[auditor.client_id]

    # Enabled again, it gets tokens again; what disabling revoked stays revoked.
    assert run(runner, "clients", "enable", machine.client_id)["is_active"] is True
    assert client_credentials(live_server, machine).status_code == 200
    run(runner, "clients", "enable", app.client_id)
    again = refresh(live_server, app, tokens["refresh_token"])
    assert_oauth_error(again, "invalid_grant")
    assert tokens_for(live_server, app, "ann@example.com")["refresh_token"]


def test_disabling_and_enabling_are_audited(runner, make):
    machine = make.machine()
    run(runner, "clients", "disable", machine.client_id)
    run(runner, "clients", "enable", machine.client_id)
    events = [(e["event"], e["client_id"], e["details"].get("actor")) for e in run(runner, "audit", "list")]
    assert events[:2] == [("client.enabled", machine.client_id, "cli"), ("client.disabled", machine.client_id, "cli")]
