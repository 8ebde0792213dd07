"""RFC 7591 Dynamic Client Registration and RFC 7592 management at /oauth/register, over real HTTP."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import func, select

from app.cli import cli
from app.extensions import db
from app.models import Client
from tests.factories import RegisteredClient
from tests.flows import authorization_params, exchange_code, pkce_pair, query_of, signed_in
from tests.site import Site

REDIRECT = "http://127.0.0.1/callback"
MCP_CLIENT = {"client_name": "Desktop Agent", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
              "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]}


@pytest.fixture
def open_registration(app, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTRATION", "open")


@pytest.fixture
def token_registration(app, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTRATION", "token")


def register(site: Site, body: object, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return site.post("/oauth/register", json=body, headers=headers)


def client_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Client))


def test_registration_is_off_by_default(site, app):
    assert app.config["REGISTRATION"] == "off"
    response = register(site, MCP_CLIENT)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert "registration_endpoint" not in site.get("/.well-known/openid-configuration").json()


def test_open_registration_then_code_flow_on_any_loopback_port(site, app, make, open_registration):
    """RFC 7591 §3.2.1 answer; RFC 8252 §7.3: the registered port-less loopback URI works on any port."""
    metadata = site.get("/.well-known/oauth-authorization-server").json()
    assert metadata["registration_endpoint"] == f"{site.base_url}/oauth/register"
    response = register(site, MCP_CLIENT)
    assert response.status_code == 201, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_endpoint_auth_method"] == "none" and "client_secret" not in body
    assert body["redirect_uris"] == [REDIRECT] and body["client_name"] == "Desktop Agent"
    assert body["registration_client_uri"] == f"{site.base_url}/oauth/register/{body['client_id']}"
    assert "openid" in body["scope"].split() and "ostiary:admin" not in body["scope"]
    with app.app_context():
        stored = db.session.scalar(select(Client).where(Client.client_id == body["client_id"]))
        assert stored.registered_via == "open"
        assert stored.registration_access_token_hash != body["registration_access_token"]

    make.user("alice@example.com")
    registered = RegisteredClient(body["client_id"], None, "http://127.0.0.1:53817/callback")
    verifier, challenge = pkce_pair()
    browser = signed_in(site, "alice@example.com")
    answer = browser.authorize(authorization_params(registered, challenge, scope="openid"))
    assert answer.status_code == 302, answer.text[:300]
    assert answer.headers["Location"].startswith("http://127.0.0.1:53817/callback?")
    tokens = exchange_code(site, registered, query_of(answer.headers["Location"])["code"], verifier)
    assert tokens.status_code == 200, tokens.text


@pytest.mark.parametrize("presented", [
    "http://localhost:53817/callback",  # RFC 8252 §8.3: localhost is not a loopback IP literal
    "http://127.0.0.1:53817/callback/other",
    "http://127.0.0.1:53817/callback?x=1",
    "http://127.0.0.1:0/callback",
    "http://127.0.0.1:99999/callback",
    "https://127.0.0.1:53817/callback",
    "http://[::1]:53817/callback",
])
def test_loopback_port_is_the_only_freedom(site, make, presented):
    make.user("alice@example.com")
    registered = make.client(public=True, redirect_uris=[REDIRECT])
    _, challenge = pkce_pair()
    browser = signed_in(site, "alice@example.com")
    client = RegisteredClient(registered.client_id, None, presented)
    answer = browser.authorize(authorization_params(client, challenge))
    assert answer.status_code == 400, (answer.status_code, answer.headers.get("Location"))


def test_confidential_registration_gets_a_secret(site, open_registration):
    body = register(site, {"client_name": "Web App", "redirect_uris": ["https://app.example.com/cb"]}).json()
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["client_secret"] and body["client_secret_expires_at"] == 0


BAD_BODIES = [
    ({"redirect_uris": ["javascript:alert(1)"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["data:text/html,hi"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://app.example.com/cb#frag"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["http://app.example.com/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": "https://app.example.com/cb"}, "invalid_redirect_uri"),
    ({"redirect_uris": []}, "invalid_redirect_uri"),
    ({"redirect_uris": [REDIRECT], "post_logout_redirect_uris": ["javascript:x"]}, "invalid_redirect_uri"),
    ({"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "grant_types": ["implicit"]}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "response_types": ["token"]}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "grant_types": ["refresh_token"]}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "scope": "ostiary:admin"}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "scope": "openid not-a-defined-scope"}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "jwks_uri": "https://app.example.com/jwks"}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "client_name": "x" * 201}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "client_name": 7}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "logo_uri": "javascript:alert(1)"}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "client_uri": "http://evil.example/"}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "tos_uri": "https://user:pw@evil.example/"}, "invalid_client_metadata"),
    ({"redirect_uris": [f"http://127.0.0.1/{n}" for n in range(21)]}, "invalid_redirect_uri"),
    ({"redirect_uris": [REDIRECT], "client_name": "\u00e9vil \"quoted\" \\"}, None),
    ([REDIRECT], "invalid_client_metadata"),
]


@pytest.mark.parametrize(("body", "error"), BAD_BODIES)
def test_bad_metadata_is_refused_and_nothing_stored(site, app, open_registration, body, error):
    response = register(site, body)
    if error is None:  # a name in any script is fine; the consent page shows the host beside it
        assert response.status_code == 201, response.text
        return
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error
    assert client_count(app) == 0


@pytest.mark.parametrize(("data", "content_type", "error"), [
    (b"{not json", "application/json", "invalid_client_metadata"),
    (b'{"client_name": "a", "client_name": "b"}', "application/json", "invalid_client_metadata"),
    (b'{"redirect_uris": ["http://127.0.0.1/cb"]}', "application/x-www-form-urlencoded", "invalid_request"),
    (b"", "application/json", "invalid_client_metadata"),
])
def test_bodies_that_are_not_one_json_object(site, app, open_registration, data, content_type, error):
    response = site.post("/oauth/register", data=data, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert client_count(app) == 0


def test_unknown_fields_are_ignored_not_stored(site, open_registration):
    """RFC 7591 §2: the server MUST ignore metadata it does not understand."""
    body = register(site, {**MCP_CLIENT, "x_extension": {"nested": True}}).json()
    assert "x_extension" not in body


def test_token_policy_needs_a_live_initial_access_token(site, app, runner, token_registration):
    assert register(site, MCP_CLIENT).status_code == 401
    assert register(site, MCP_CLIENT, token="made-up").json()["error"] == "invalid_token"
    result = runner.invoke(cli, ["clients", "initial-token", "--expires", "1h", "--json"])
    assert result.exit_code == 0, result.output
    token = json.loads(result.output)["initial_access_token"]
    # A refused registration does not use the token up.
    assert register(site, {"redirect_uris": ["javascript:x"]}, token=token).status_code == 400
    first = register(site, MCP_CLIENT, token=token)
    assert first.status_code == 201, first.text
    assert register(site, MCP_CLIENT, token=token).status_code == 401  # one registration per token
    with app.app_context():
        assert db.session.scalar(select(Client.registered_via)) == "token"


def test_registration_is_rate_limited_per_address(site, app, open_registration, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTRATIONS_PER_IP_PER_HOUR", 2)
    assert [register(site, MCP_CLIENT).status_code for _ in range(3)] == [201, 201, 429]


def test_management_read_update_delete(site, app, open_registration):
    """RFC 7592 §2.1-2.3 with the registration access token."""
    body = register(site, MCP_CLIENT).json()
    uri, token = body["registration_client_uri"], body["registration_access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    read = site.get(uri, headers=auth)
    assert read.status_code == 200 and read.json()["client_name"] == "Desktop Agent"
    assert read.json()["registration_access_token"] == token
    assert site.get(uri, headers={"Authorization": "Bearer wrong"}).status_code == 401
    other = register(site, MCP_CLIENT).json()
    assert site.get(other["registration_client_uri"], headers=auth).status_code == 401

    update = {**MCP_CLIENT, "client_id": body["client_id"], "client_name": "Renamed Agent"}
    changed = site.put(uri, json=update, headers=auth)
    assert changed.status_code == 200, changed.text
    assert changed.json()["client_name"] == "Renamed Agent"
    bad = site.put(uri, json={**update, "redirect_uris": ["javascript:x"]}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_redirect_uri"
    assert site.put(uri, json={**update, "client_id": "other"}, headers=auth).json()["error"] == "invalid_request"
    assert site.put(uri, json={**update, "token_endpoint_auth_method": "client_secret_basic"},
                        headers=auth).json()["error"] == "invalid_client_metadata"

    assert site.delete(uri, headers=auth).status_code == 204
    assert site.get(uri, headers=auth).status_code == 401
    assert client_count(app) == 1


def test_operator_clients_cannot_be_managed_by_anyone(site, make):
    registered = make.client()
    response = site.get(f"/oauth/register/{registered.client_id}", headers={"Authorization": "Bearer x"})
    assert response.status_code == 401


def test_registered_clients_are_listed_and_removable_by_the_operator(site, runner, open_registration):
    body = register(site, MCP_CLIENT).json()
    listed = json.loads(runner.invoke(cli, ["clients", "list", "--json"]).output)
    assert [(c["client_id"], c["registered_via"]) for c in listed] == [(body["client_id"], "open")]
    assert runner.invoke(cli, ["clients", "delete", body["client_id"], "--yes"]).exit_code == 0


def test_unused_open_registrations_are_purged(site, app, make, open_registration):
    unused = register(site, MCP_CLIENT).json()["client_id"]
    make.user("alice@example.com")
    used = register(site, MCP_CLIENT).json()["client_id"]
    registered = RegisteredClient(used, None, REDIRECT)
    _, challenge = pkce_pair()
    browser = signed_in(site, "alice@example.com")
    assert browser.authorize(authorization_params(registered, challenge, scope="openid")).status_code == 302
    operator = make.client()
    with app.app_context():
        db.session.execute(Client.__table__.update().values(created_at=0))
        db.session.commit()
        from app.services.housekeeping import purge
        assert purge(audit_retention_days=90)["clients"] == 1
        remaining = set(db.session.scalars(select(Client.client_id)))
    assert remaining == {used, operator.client_id}
    assert unused not in remaining

