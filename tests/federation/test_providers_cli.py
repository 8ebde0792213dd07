"""`ostiary providers create|list|show|update|delete`: configuration in the database, the secret sealed."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.cli import cli
from app.extensions import db
from app.models import AuditEvent, UpstreamProvider
from app.security.sealed import unseal
from app.services.providers import SECRET_PURPOSE

SECRET = "upstream-client-secret-0123456789"


def run(runner, *args: str, stdin: str | None = None):
    result = runner.invoke(cli, [*args, "--json"], input=stdin)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def refused(runner, *args: str, stdin: str | None = None) -> dict:
    result = runner.invoke(cli, [*args, "--json"], input=stdin)
    assert result.exit_code != 0, result.stdout
    return json.loads(result.stderr)


def test_create_prints_the_redirect_uri_and_never_the_secret(runner, app):
    created = run(runner, "providers", "create", "--name", "corp", "--issuer", "https://idp.example.com",
                  "--client-id", "ostiary", "--client-secret-stdin", stdin=SECRET + "\n")
    assert created["redirect_uri"] == f"{app.config['ISSUER']}/federation/corp/callback"
    assert created["kind"] == "oidc" and created["scope"] == "openid email profile"
    assert SECRET not in json.dumps(created)
    listed = run(runner, "providers", "list")
    assert [p["name"] for p in listed] == ["corp"] and SECRET not in json.dumps(listed)
    with app.app_context():
        stored = db.session.query(UpstreamProvider).one()
        assert SECRET not in stored.client_secret_sealed
        assert unseal(SECRET_PURPOSE, stored.client_secret_sealed) == SECRET.encode()


@pytest.mark.parametrize(("preset", "extra", "expected"), [
    ("google", [], {"kind": "oidc", "issuer": "https://accounts.google.com", "display_name": "Google"}),
    ("microsoft", ["--tenant", "contoso.onmicrosoft.com"],
     {"kind": "oidc", "issuer": "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
      "claim_mapping": {"email_verified": "xms_edov"}}),
    ("microsoft", [], {"issuer": "https://login.microsoftonline.com/common/v2.0"}),
    ("github", [], {"kind": "oauth2", "issuer": None, "token_endpoint_auth_method": "client_secret_post",
                    "userinfo_endpoint": "https://api.github.com/user", "claim_mapping": {"sub": "id",
                                                                                          "picture": "avatar_url"}}),
])
def test_presets(runner, preset, extra, expected):
    created = run(runner, "providers", "create", "--name", preset, "--preset", preset, "--client-id", "x",
                  "--client-secret-stdin", *extra, stdin=SECRET + "\n")
    assert {key: created[key] for key in expected} == expected


def test_update_and_delete(runner, app):
    run(runner, "providers", "create", "--name", "corp", "--issuer", "https://idp.example.com", "--client-id", "a",
        "--client-secret-stdin", stdin=SECRET + "\n")
    updated = run(runner, "providers", "update", "corp", "--display-name", "Corp SSO", "--trusted-domain",
                  "Corp.Example", "--disable", "--no-sign-up", "--role", "admins=admin", "--client-secret-stdin",
                  stdin="new-secret\n")
    assert (updated["display_name"], updated["trusted_domains"], updated["enabled"], updated["allow_sign_up"],
            updated["role_mapping"]) == ("Corp SSO", ["corp.example"], False, False, {"admins": "admin"})
    with app.app_context():
        stored = db.session.query(UpstreamProvider).one()
        assert unseal(SECRET_PURPOSE, stored.client_secret_sealed) == b"new-secret"
    assert run(runner, "providers", "delete", "corp", "--yes") == {"name": "corp", "deleted": True}
    assert run(runner, "providers", "list") == []
    with app.app_context():
        audited = [(e.event, e.details) for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.event.startswith("provider.")).order_by(AuditEvent.id))]
    assert audited == [
        ("provider.created", {"actor": "cli", "provider": "corp", "kind": "oidc", "preset": None}),
        ("provider.updated", {"actor": "cli", "provider": "corp", "fields": [
            "allow_sign_up", "client_secret", "display_name", "enabled", "role_mapping", "trusted_domains"]}),
        ("provider.deleted", {"actor": "cli", "provider": "corp"}),
    ]
    assert SECRET not in str(audited) and "new-secret" not in str(audited)


@pytest.mark.parametrize(("args", "description"), [
    (["--name", "Bad Name", "--issuer", "https://idp.example.com"], "name may use lower-case letters"),
    (["--name", "corp"], "needs its issuer"),
    (["--name", "corp", "--issuer", "http://idp.example.com"], "issuer must be an https URL"),
    (["--name", "corp", "--issuer", "https://idp.example.com#x"], "issuer must be an https URL"),
    (["--name", "corp", "--issuer", "https://idp.example.com", "--scope", "email"], "scope must include openid"),
    (["--name", "corp", "--kind", "oauth2", "--authorization-endpoint", "https://a.example/authorize"],
     "needs its authorization, token and user-info endpoints"),
    (["--name", "corp", "--issuer", "https://idp.example.com", "--claim", "roles=x"], "claim_mapping may map"),
    (["--name", "corp", "--issuer", "https://idp.example.com", "--trusted-domain", "not a domain"],
     "is not a domain name"),
    (["--name", "corp", "--preset", "google", "--tenant", "x"], "tenant belongs to the microsoft preset"),
    (["--name", "corp", "--issuer", "https://idp.example.com", "--role", "g=no such role!"], "role"),
])
def test_bad_configuration_is_refused(runner, args, description):
    error = refused(runner, "providers", "create", "--client-id", "x", "--client-secret-stdin", *args,
                    stdin=SECRET + "\n")
    assert error["error"] == "invalid_request" and description in error["error_description"], error
    assert run(runner, "providers", "list") == []


def test_a_second_provider_of_the_same_name_is_a_conflict(runner):
    args = ["providers", "create", "--name", "corp", "--issuer", "https://idp.example.com", "--client-id", "x",
            "--client-secret-stdin"]
    run(runner, *args, stdin=SECRET + "\n")
    assert refused(runner, *args, stdin=SECRET + "\n")["error"] == "conflict"


def test_an_unknown_provider_is_not_found(runner):
    assert refused(runner, "providers", "show", "nope")["error"] == "not_found"
