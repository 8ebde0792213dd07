"""Consent people control (and operators, for them): Deny withdraws, and revoking a consent from the admin API or
`ostiary consents` deletes it and revokes that client's tokens for that person, no one else's. Audited."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.cli import cli
from app.extensions import db
from app.models import AuditEvent
from tests.admin.conftest import ok, refused
from tests.flows import Browser, authorization_params, introspect, is_consent_page, pkce_pair, refresh, tokens_for


@pytest.fixture
def apps(site, make):
    """Alice and Bob, each connected to two apps: the apps, and the tokens by (person, client_id)."""
    make.user("alice@example.com")
    make.user("bob@example.com")
    first, second = make.client(), make.client()
    tokens = {(who, app.client_id): tokens_for(site, app, f"{who}@example.com")
              for who in ("alice", "bob") for app in (first, second)}
    return first, second, tokens


def live(site, app, tokens) -> tuple[bool, bool]:
    """(the refresh token still works, the access token is still active)."""
    return (refresh(site, app, tokens["refresh_token"]).status_code == 200,
            introspect(site, app, tokens["access_token"])["active"])


def test_deny_withdraws_the_consent_and_revokes_the_apps_tokens(site, make, apps):
    first, second, tokens = apps
    browser = Browser(site)
    browser.login("alice@example.com")
    _, challenge = pkce_pair()
    denied = browser.authorize(authorization_params(first, challenge, prompt="consent"), decision="deny")
    assert "error=access_denied" in denied.headers["Location"]

    asked = browser.authorize(authorization_params(first, challenge), decision=None)
    assert asked.status_code == 200 and is_consent_page(asked.text)  # no remembered consent answers for her
    assert live(site, first, tokens[("alice", first.client_id)]) == (False, False)
    assert live(site, second, tokens[("alice", second.client_id)]) == (True, True)
    assert live(site, first, tokens[("bob", first.client_id)]) == (True, True)


def test_the_admin_api_lists_and_revokes_consents(site, api, make, apps, app):
    first, second, tokens = apps
    alice = ok(api.get("/users", params={"q": "alice@example.com"}))["items"][0]

    listed = ok(api.get("/consents", params={"user": alice["sub"]}))["items"]
    assert {c["client_id"] for c in listed} == {first.client_id, second.client_id}
    assert listed[0]["user_sub"] == alice["sub"] and "openid" in listed[0]["scope"].split()
    assert listed[0]["created_at"] <= listed[0]["granted_at"]
    assert len(ok(api.get("/consents", params={"client_id": first.client_id}))["items"]) == 2  # Alice's and Bob's
    assert ok(api.get("/consents", params={"user": "00000000-0000-4000-8000-000000000000"}))["items"] == []

    assert ok(api.delete(f"/users/{alice['sub']}/consents/{first.client_id}"), 204) is None
    assert live(site, first, tokens[("alice", first.client_id)]) == (False, False)
    assert live(site, second, tokens[("alice", second.client_id)]) == (True, True)
    assert live(site, first, tokens[("bob", first.client_id)]) == (True, True)
    assert [c["client_id"] for c in ok(api.get("/consents", params={"user": alice["sub"]}))["items"]] == [
        second.client_id]
    with app.app_context():
        revoked = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "consent.revoked")).one()
        assert (revoked.user_sub, revoked.client_id) == (alice["sub"], first.client_id)
        assert revoked.details["actor"] != alice["sub"]  # the administrator


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/users/{alice}/consents/{first}", 404, "not_found"),  # already revoked
        ("/users/00000000-0000-4000-8000-000000000000/consents/{first}", 404, "not_found"),
        ("/users/{alice}/consents/no-such-client", 404, "not_found"),
    ],
)
def test_revoking_what_does_not_exist(site, api, apps, path, status, error):
    first, _, _ = apps
    alice = ok(api.get("/users", params={"q": "alice@example.com"}))["items"][0]["sub"]
    api.delete(f"/users/{alice}/consents/{first.client_id}")
    refused(api.delete(path.format(alice=alice, first=first.client_id)), status, error)


def test_the_cli_lists_and_revokes_consents(site, runner, apps):
    first, second, tokens = apps
    listed = runner.invoke(cli, ["consents", "list", "--user", "alice@example.com"])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[0].split()[:3] == ["USER", "CLIENT", "SCOPE"]
    assert first.client_id in listed.stdout and second.client_id in listed.stdout

    revoked = runner.invoke(cli, ["consents", "revoke", "alice@example.com", first.client_id, "--json"])
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(revoked.stdout)["revoked"] is True
    assert live(site, first, tokens[("alice", first.client_id)]) == (False, False)
    assert live(site, first, tokens[("bob", first.client_id)]) == (True, True)

    remaining = json.loads(runner.invoke(cli, ["consents", "list", "--client", first.client_id, "--json"]).stdout)
    assert [c["client_id"] for c in remaining] == [first.client_id] and len(remaining) == 1  # Bob's

    again = runner.invoke(cli, ["consents", "revoke", "alice@example.com", first.client_id])
    assert again.exit_code == 1 and again.stderr.startswith("Error: no such consent")
