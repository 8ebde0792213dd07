"""The same operations from `ostiary`: users, clients, resources, api-keys and service-accounts, each with --json."""

from __future__ import annotations

import json

import pytest

from app.cli import cli
from app.extensions import db
from app.models import ApiKey
from tests.factories import RegisteredClient
from tests.flows import Browser, client_credentials

PASSWORD = "a long enough password"


def run(runner, *args: str, stdin: str | None = None):
    result = runner.invoke(cli, list(args), input=stdin)
    assert result.exit_code == 0, (result.output, result.stderr)
    return json.loads(result.stdout) if "--json" in args else result.stdout


def fails(runner, *args: str, message: str, stdin: str | None = None) -> None:
    result = runner.invoke(cli, list(args), input=stdin)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert message in result.stderr and result.stderr.startswith("Error: ")


def test_an_operators_session(runner, live_server):
    """A user, a resource, a client, a service account and API keys, all from the command line."""
    admin = run(runner, "users", "create", "ops@example.com", "--admin", "--password-stdin", "--json", stdin=PASSWORD)
    assert admin["roles"] == ["admin"] and admin["is_admin"] is True

    resource = run(runner, "resources", "create", "--identifier", "https://billing.example.com", "--name", "Billing",
                   "--scope", "invoices:read invoices:write", "--json")
    client = run(runner, "clients", "create", "--name", "Billing worker", "--grant-type", "client_credentials",
                 "--scope", "invoices:read", "--resource", resource["identifier"], "--json")
    assert client["resources"] == ["https://billing.example.com"] and client["client_secret"]
    worker = RegisteredClient(client["client_id"], client["client_secret"], "")
    assert client_credentials(live_server, worker, resource=resource["identifier"]).status_code == 200

    account = run(runner, "service-accounts", "create", "--name", "billing-sync", "--scope", "invoices:read", "--json")
    key = run(runner, "api-keys", "create", "--owner", account["sub"], "--name", "sync", "--scope", "invoices:read",
              "--expires-in-days", "90", "--json")
    assert key["key"].startswith(f"ost_{key['key_id']}_") and key["owner"] == account["sub"]
    token = client_credentials(live_server, RegisteredClient(key["key_id"], key["key"], ""),
                               resource=resource["identifier"])
    assert token.status_code == 200, token.text

    listed = run(runner, "api-keys", "list", "--owner", account["sub"], "--json")
    assert [k["key_id"] for k in listed] == [key["key_id"]] and "key" not in listed[0]
    assert run(runner, "api-keys", "revoke", key["key_id"], "--json")["revoked_at"] is not None
    assert client_credentials(live_server, RegisteredClient(key["key_id"], key["key"], "")).status_code == 401

    admin_key = run(runner, "api-keys", "create", "--owner", "ops@example.com", "--name", "admin",
                    "--scope", "ostiary:admin", "--json")
    assert admin_key["scope"] == "ostiary:admin"


def test_users_commands(runner, live_server):
    created = run(runner, "users", "create", "pat@example.com", "--role", "support", "--scope", "api:read",
                  "--password-stdin", "--json", stdin=PASSWORD)
    assert (created["roles"], created["scope"]) == (["support"], "api:read")
    assert run(runner, "users", "show", "pat@example.com", "--json")["sub"] == created["sub"]
    updated = run(runner, "users", "update", created["sub"], "--name", "Pat", "--role", "admin", "--role", "billing",
                  "--json")
    assert (updated["name"], updated["roles"]) == ("Pat", ["admin", "billing"])
    assert run(runner, "users", "update", "pat@example.com", "--no-roles", "--json")["roles"] == []
    assert [u["email"] for u in run(runner, "users", "list", "--search", "PAT@", "--json")] == ["pat@example.com"]

    assert Browser(live_server).login("pat@example.com", PASSWORD).status_code == 302
    assert run(runner, "users", "disable", "pat@example.com", "--json")["is_active"] is False
    assert Browser(live_server).login("pat@example.com", PASSWORD).status_code == 401
    assert run(runner, "users", "enable", "pat@example.com", "--json")["is_active"] is True
    set_password = run(runner, "users", "set-password", "pat@example.com", "--password-stdin", "--json",
                       stdin="another password 1")
    assert set_password == {"sub": created["sub"], "password": "set", "api_keys_revoked": 0}
    assert Browser(live_server).login("pat@example.com", "another password 1").status_code == 302
    key = run(runner, "api-keys", "create", "--owner", "pat@example.com", "--name", "k", "--scope", "api:read", "--json")
    assert run(runner, "users", "set-password", "pat@example.com", "--password-stdin", "--revoke-api-keys", "--json",
               stdin="a third password 1")["api_keys_revoked"] == 1  # as revoke_api_keys in the admin API
    assert run(runner, "api-keys", "list", "--owner", created["sub"], "--json")[0]["key_id"] == key["key_id"]
    assert run(runner, "api-keys", "list", "--owner", created["sub"], "--json")[0]["revoked_at"] is not None
    assert run(runner, "users", "delete", "pat@example.com", "--yes", "--json") == {"sub": created["sub"],
                                                                                    "deleted": True}
    fails(runner, "users", "show", "pat@example.com", message="no user")


def test_clients_commands(runner, live_server):
    created = run(runner, "clients", "create", "--name", "Job", "--grant-type", "client_credentials",
                  "--scope", "jobs:run", "--json")
    old = RegisteredClient(created["client_id"], created["client_secret"], "")
    assert run(runner, "clients", "show", old.client_id, "--json")["name"] == "Job"
    assert run(runner, "clients", "update", old.client_id, "--name", "Job runner", "--scope", "jobs:run jobs:read",
               "--json")["scope"] == "jobs:run jobs:read"
    rotated = run(runner, "clients", "rotate-secret", old.client_id, "--json")
    assert client_credentials(live_server, old).status_code == 401
    new = RegisteredClient(old.client_id, rotated["client_secret"], "")
    assert client_credentials(live_server, new).status_code == 200
    run(runner, "clients", "delete", old.client_id, "--yes", "--json")
    assert client_credentials(live_server, new).status_code == 401


def test_introspection_permissions_from_the_command_line_and_the_api(runner, api):
    """RFC 7662 §4: the same two permissions, the same JSON shape, from `ostiary clients` and /admin/api/clients."""
    run(runner, "resources", "create", "--identifier", "https://billing.example.com", "--name", "Billing", "--json")
    from_cli = run(runner, "clients", "create", "--name", "Billing API", "--grant-type", "client_credentials",
                   "--introspect-resource", "https://billing.example.com", "--json")
    assert (from_cli["introspect_resources"], from_cli["introspect_all"]) == (["https://billing.example.com"], False)
    from_api = api.post("/clients", json={"name": "Billing API", "grant_types": ["client_credentials"],
                                          "introspect_resources": ["https://billing.example.com"]}).json()
    assert {k: v for k, v in from_api.items() if k not in {"client_id", "client_secret", "created_at"}} == {
        k: v for k, v in from_cli.items() if k not in {"client_id", "client_secret", "created_at"}}

    client_id = from_cli["client_id"]
    assert run(runner, "clients", "update", client_id, "--introspect-all", "--json")["introspect_all"] is True
    updated = run(runner, "clients", "update", client_id, "--no-introspect-all", "--no-introspect-resources", "--json")
    assert (updated["introspect_resources"], updated["introspect_all"]) == ([], False)
    patched = api.patch(f"/clients/{from_api['client_id']}", json={"introspect_all": True,
                                                                    "introspect_resources": []}).json()
    assert (patched["introspect_resources"], patched["introspect_all"]) == ([], True)
    assert api.get(f"/clients/{client_id}").json() == run(runner, "clients", "show", client_id, "--json")

    # Deleting the resource takes the permission with it.
    run(runner, "resources", "delete", "https://billing.example.com", "--yes", "--json")
    assert api.get(f"/clients/{from_api['client_id']}").json()["introspect_resources"] == []


def test_resources_and_service_accounts_commands(runner):
    created = run(runner, "resources", "create", "--identifier", "urn:example:api", "--name", "API", "--json")
    assert run(runner, "resources", "show", "urn:example:api", "--json")["id"] == created["id"]
    assert run(runner, "resources", "update", str(created["id"]), "--scope", "a:b", "--json")["scope"] == "a:b"
    assert [r["identifier"] for r in run(runner, "resources", "list", "--json")] == ["urn:example:api"]
    run(runner, "resources", "delete", "urn:example:api", "--yes", "--json")
    assert run(runner, "resources", "list", "--json") == []

    account = run(runner, "service-accounts", "create", "--name", "robot", "--role", "admin", "--json")
    assert account["allowed_scope"] == "ostiary:admin"
    assert [a["sub"] for a in run(runner, "service-accounts", "list", "--json")] == [account["sub"]]
    run(runner, "service-accounts", "delete", account["sub"], "--yes", "--json")
    assert run(runner, "service-accounts", "list", "--json") == []


def test_plain_text_output_never_hides_the_one_time_secrets(runner):
    run(runner, "users", "create", "t@example.com", "--scope", "x:y", "--password-stdin", stdin=PASSWORD)
    text = run(runner, "api-keys", "create", "--owner", "t@example.com", "--name", "t", "--scope", "x:y")
    assert "key:    ost_" in text and "shown once" in text


@pytest.mark.parametrize(("args", "message"), [
    (["api-keys", "create", "--owner", "nobody@example.com", "--name", "x"], "no user or service account"),
    (["api-keys", "create", "--owner", "k@example.com", "--name", "x", "--scope", "more:scope"], "may not hold"),
    (["api-keys", "revoke", "0123456789abcdef"], "no such API key"),
    (["resources", "create", "--identifier", "not a uri", "--name", "x"], "absolute URI"),
    (["resources", "show", "https://nowhere.example.com"], "no resource"),
    (["clients", "create", "--name", "x", "--grant-type", "client_credentials", "--resource",
      "https://nowhere.example.com"], "not a registered resource"),
    (["clients", "rotate-secret", "nope"], "no client"),
    (["clients", "create", "--name", "x", "--grant-type", "client_credentials", "--introspect-resource",
      "https://nowhere.example.com"], "not a registered resource"),
    (["clients", "create", "--name", "x", "--public", "--redirect-uri", "https://spa.example.com/cb",
      "--introspect-all"], "a public client cannot introspect"),
    (["service-accounts", "create", "--name", "x", "--scope", "openid"], "cannot be granted"),
    (["service-accounts", "delete", "nope", "--yes"], "no such service account"),
    (["users", "update", "k@example.com", "--role", "Bad Role"], "role"),
])
def test_refusals_are_one_clean_line(runner, args, message):
    run(runner, "users", "create", "k@example.com", "--scope", "x:y", "--password-stdin", stdin=PASSWORD)
    fails(runner, *args, message=message)


def test_deleting_asks_first(runner, app):
    run(runner, "service-accounts", "create", "--name", "keep-me")
    account = run(runner, "service-accounts", "list", "--json")[0]
    result = runner.invoke(cli, ["service-accounts", "delete", account["sub"]], input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    assert len(run(runner, "service-accounts", "list", "--json")) == 1
    with app.app_context():
        assert db.session.query(ApiKey).count() == 0


def test_an_unknown_client_is_refused_alike(runner, api):
    """One look-up in the services: the same 404 body from /admin/api/clients/{id} and `ostiary clients`."""
    from_api = api.get("/clients/nope")
    assert from_api.status_code == 404
    for command in (["show"], ["update", "--name", "x"], ["rotate-secret"], ["delete", "--yes"]):
        result = runner.invoke(cli, ["clients", *command, "nope", "--json"])
        assert result.exit_code == 1 and json.loads(result.stderr) == from_api.json()


def test_email_verified_from_the_command_line(runner, api):
    """As email_verified in POST and PATCH /admin/api/users."""
    created = run(runner, "users", "create", "vera@example.com", "--email-verified", "--password-stdin", "--json",
                  stdin=PASSWORD)
    assert created["email_verified"] is True
    assert run(runner, "users", "update", "vera@example.com", "--no-email-verified", "--json")["email_verified"] is False
    updated = run(runner, "users", "update", "vera@example.com", "--email-verified", "--json")
    assert updated == api.get(f"/users/{created['sub']}").json() and updated["email_verified"] is True


def test_service_accounts_show_and_update(runner, api):
    """As GET and PATCH /admin/api/service-accounts/{sub}."""
    account = run(runner, "service-accounts", "create", "--name", "robot", "--scope", "a:b", "--json")
    sub = account["sub"]
    assert run(runner, "service-accounts", "show", sub, "--json") == api.get(f"/service-accounts/{sub}").json()
    updated = run(runner, "service-accounts", "update", sub, "--name", "robot 2", "--role", "admin", "--scope", "c:d",
                  "--json")
    assert (updated["name"], updated["roles"], updated["scope"]) == ("robot 2", ["admin"], "c:d")
    assert run(runner, "service-accounts", "update", sub, "--no-roles", "--json")["roles"] == []
    assert run(runner, "service-accounts", "show", sub, "--json") == api.get(f"/service-accounts/{sub}").json()
    assert "robot 2" in run(runner, "service-accounts", "show", sub)
    fails(runner, "service-accounts", "show", "nope", message="no such service account")


def test_api_keys_show(runner, api):
    """As GET /admin/api/api-keys/{key_id}: never the key itself."""
    account = run(runner, "service-accounts", "create", "--name", "robot", "--scope", "a:b", "--json")
    key = run(runner, "api-keys", "create", "--owner", account["sub"], "--name", "k", "--scope", "a:b", "--json")
    shown = run(runner, "api-keys", "show", key["key_id"], "--json")
    assert shown == api.get(f"/api-keys/{key['key_id']}").json() and "key" not in shown
    assert key["key"] not in run(runner, "api-keys", "show", key["key_id"])
    fails(runner, "api-keys", "show", "0123456789abcdef", message="no such API key")


def test_service_account_names_are_unique(runner, api):
    """Keys are issued to a service account by sub, but operators tell them apart by name: no two share one."""
    first = run(runner, "service-accounts", "create", "--name", "billing-sync", "--json")
    fails(runner, "service-accounts", "create", "--name", "Billing-Sync ", message="already exists")
    refused = api.post("/service-accounts", json={"name": "BILLING-SYNC"})
    assert refused.status_code == 409 and refused.json()["field"] == "name", refused.text

    other = api.post("/service-accounts", json={"name": "reporting"}).json()
    assert api.patch(f"/service-accounts/{other['sub']}", json={"name": "billing-sync"}).status_code == 409
    fails(runner, "service-accounts", "update", other["sub"], "--name", "billing-sync", message="already exists")
    # Keeping its own name, in another case, is no conflict.
    assert run(runner, "service-accounts", "update", first["sub"], "--name", "Billing-sync", "--json")["name"] == \
        "Billing-sync"
    assert [a["name"] for a in run(runner, "service-accounts", "list", "--json")] == ["Billing-sync", "reporting"]


def test_clients_disable_and_enable_from_the_command_line_and_the_api(runner, api, live_server):
    """POST /admin/api/clients/{id}/disable|enable and `ostiary clients disable|enable`: one service, one shape."""
    created = run(runner, "clients", "create", "--name", "Job", "--grant-type", "client_credentials", "--json")
    job = RegisteredClient(created["client_id"], created["client_secret"], "")
    assert created["is_active"] is True

    disabled = api.post(f"/clients/{job.client_id}/disable").json()
    assert disabled["is_active"] is False and disabled == run(runner, "clients", "show", job.client_id, "--json")
    assert client_credentials(live_server, job).status_code == 401
    assert run(runner, "clients", "enable", job.client_id, "--json") == api.get(f"/clients/{job.client_id}").json()
    assert client_credentials(live_server, job).status_code == 200
    assert run(runner, "clients", "disable", job.client_id, "--json")["is_active"] is False
    assert api.post(f"/clients/{job.client_id}/enable").json()["is_active"] is True
    assert api.post("/clients/nope/disable").status_code == 404
