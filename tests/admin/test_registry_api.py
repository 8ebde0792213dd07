"""/admin/api clients, resources, API keys and service accounts over HTTP."""

from __future__ import annotations

import time

import pytest

from app.extensions import db
from app.models import AuditEvent
from tests.admin.conftest import ok, refused
from tests.factories import RegisteredClient
from tests.flows import assert_oauth_error, client_credentials, tokens_for

API = "https://api.example.com"


# --- clients ----------------------------------------------------------------------------------------------------

def test_register_a_confidential_client_and_use_it(api, site, make):
    make.user("u@example.com")
    response = api.post("/clients", json={
        "name": "Web app", "redirect_uris": ["https://app.example.com/cb"],
        "post_logout_redirect_uris": ["https://app.example.com/"], "scope": "openid profile offline_access",
        "grant_types": ["authorization_code", "refresh_token"],
    })
    created = ok(response, 201)
    assert response.headers["Location"] == f"/admin/api/clients/{created['client_id']}"
    assert created["public"] is False and len(created["client_secret"]) >= 40
    listed = ok(api.get(f"/clients/{created['client_id']}"))
    assert "client_secret" not in listed and listed["post_logout_redirect_uris"] == ["https://app.example.com/"]
    client = RegisteredClient(created["client_id"], created["client_secret"], "https://app.example.com/cb")
    assert "access_token" in tokens_for(site, client, "u@example.com", scope="openid profile")


def test_register_a_public_client(api):
    created = ok(api.post("/clients", json={"name": "SPA", "public": True,
                                            "redirect_uris": ["https://spa.example.com/cb"]}), 201)
    assert (created["public"], created["client_secret"]) == (True, None)
    refused(api.post(f"/clients/{created['client_id']}/secret"), 400, "invalid_request")


def test_update_rotate_and_delete_a_client(api, site, make):
    make.resource(API, scope="api:read")
    created = ok(api.post("/clients", json={"name": "Worker", "grant_types": ["client_credentials"],
                                            "scope": "api:read"}), 201)
    old = RegisteredClient(created["client_id"], created["client_secret"], "")
    assert_oauth_error(client_credentials(site, old, resource=API), "invalid_target")

    updated = ok(api.patch(f"/clients/{old.client_id}", json={"resources": [API], "name": "Billing worker"}))
    assert (updated["resources"], updated["name"]) == ([API], "Billing worker")
    assert client_credentials(site, old, resource=API).status_code == 200

    rotated = ok(api.post(f"/clients/{old.client_id}/secret"))
    assert rotated["client_id"] == old.client_id and rotated["client_secret"] != old.client_secret
    assert_oauth_error(client_credentials(site, old), "invalid_client", 401)
    new = RegisteredClient(old.client_id, rotated["client_secret"], "")
    assert client_credentials(site, new).status_code == 200

    assert api.delete(f"/clients/{old.client_id}").status_code == 204
    refused(api.get(f"/clients/{old.client_id}"), 404, "not_found")
    assert_oauth_error(client_credentials(site, new), "invalid_client", 401)


@pytest.mark.parametrize(("body", "field"), [
    ({"name": ""}, "name"),
    ({"name": "x", "redirect_uris": ["http://evil.example.com/cb"]}, "redirect_uris"),
    ({"name": "x", "grant_types": ["authorization_code"]}, "redirect_uris"),
    ({"name": "x", "grant_types": ["password"]}, "grant_types"),
    ({"name": "x", "public": True, "grant_types": ["client_credentials"]}, "grant_types"),
    ({"name": "x", "grant_types": ["client_credentials"], "resources": ["https://nowhere.example.com"]}, "resources"),
    ({"name": "x", "grant_types": ["client_credentials"], "scope": 'a "b"'}, "scope"),
    ({"name": "x", "post_logout_redirect_uris": ["https://a.example.com/#f"]}, "post_logout_redirect_uris"),
    ({"name": "x", "client_secret": "mine"}, "client_secret"),
    ({"name": "x", "grant_types": ["client_credentials"], "introspect_resources": ["https://nowhere.example.com"]},
     "introspect_resources"),
    ({"name": "x", "public": True, "redirect_uris": ["https://spa.example.com/cb"], "introspect_all": True},
     "introspect_all"),
    ({"name": "x", "public": True, "redirect_uris": ["https://spa.example.com/cb"], "introspect_resources": [API]},
     "introspect_resources"),
])
def test_client_validation_names_the_field(api, make, body, field):
    make.resource(API, scope="api:read")
    refused(api.post("/clients", json=body), 400, "invalid_request", field)


def test_the_admin_api_is_served_by_no_client(api, site):
    body = {"name": "x", "grant_types": ["client_credentials"], "introspect_resources": [f"{site.base_url}/admin/api"]}
    refused(api.post("/clients", json=body), 400, "invalid_request", "introspect_resources")


def test_client_pages(api, make):
    for _ in range(3):
        make.machine()
    first = ok(api.get("/clients", params={"limit": 2}))
    second = ok(api.get("/clients", params={"limit": 2, "cursor": first["next_cursor"]}))
    assert len(first["items"]) == 2 and len(second["items"]) == 1 and second["next_cursor"] is None


# --- resources --------------------------------------------------------------------------------------------------

def test_resource_lifecycle(api, site, make):
    response = api.post("/resources", json={"identifier": API, "name": "Billing", "scope": "invoices:read"})
    created = ok(response, 201)
    assert response.headers["Location"] == f"/admin/api/resources/{created['id']}"
    assert ok(api.get("/resources"))["items"] == [created]
    updated = ok(api.patch(f"/resources/{created['id']}", json={"scope": "invoices:read invoices:write"}))
    assert updated["scope"] == "invoices:read invoices:write" and updated["identifier"] == API
    refused(api.patch(f"/resources/{created['id']}", json={"identifier": "https://x.example.com"}), 400,
            "invalid_request", "identifier")
    machine = make.machine(scope="invoices:write", resources=[API])
    assert client_credentials(site, machine, resource=API).status_code == 200
    assert api.delete(f"/resources/{created['id']}").status_code == 204
    refused(api.get(f"/resources/{created['id']}"), 404, "not_found")
    assert_oauth_error(client_credentials(site, machine, resource=API), "invalid_target")


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"identifier": "relative", "name": "x"}, 400, "identifier"),
    ({"identifier": "https://a.example.com/#x", "name": "x"}, 400, "identifier"),
    ({"identifier": "https://a.example.com", "name": "x", "scope": "openid"}, 400, "scope"),
    ({"identifier": "https://a.example.com", "name": "x", "scope": "ostiary:admin"}, 400, "scope"),
    ({"identifier": "https://a.example.com"}, 400, "name"),
    ({"identifier": API, "name": "dup"}, 409, "identifier"),
])
def test_resource_validation(api, make, body, status, field):
    make.resource(API)
    refused(api.post("/resources", json=body), status, "conflict" if status == 409 else "invalid_request", field)


def test_the_admin_api_identifier_is_taken(api, site):
    refused(api.post("/resources", json={"identifier": f"{site.base_url}/admin/api", "name": "x"}), 409, "conflict")


# --- API keys -----------------------------------------------------------------------------------------------------

def test_api_key_lifecycle(api, app, site, make, admin):
    user = make.user("k@example.com", scope="api:read api:write")
    response = api.post("/api-keys", json={"owner": user.sub, "name": "deploy", "scope": "api:read",
                                           "expires_at": int(time.time()) + 3600})
    issued = ok(response, 201)
    assert issued["key"].startswith(issued["prefix"]) and issued["owner"] == user.sub
    shown = ok(api.get(f"/api-keys/{issued['key_id']}"))
    assert "key" not in shown and shown["prefix"] == f"ost_{issued['key_id']}_"
    key = RegisteredClient(issued["key_id"], issued["key"], "")
    assert client_credentials(site, key).status_code == 200
    assert ok(api.get(f"/api-keys/{issued['key_id']}"))["last_used_at"] is not None

    assert [k["key_id"] for k in ok(api.get("/api-keys", params={"owner": user.sub}))["items"]] == [issued["key_id"]]
    assert ok(api.get("/api-keys", params={"owner": "nobody"}))["items"] == []

    revoked = ok(api.post(f"/api-keys/{issued['key_id']}/revoke"))
    assert revoked["revoked_at"] is not None
    assert_oauth_error(client_credentials(site, key), "invalid_client", 401)
    assert ok(api.post(f"/api-keys/{issued['key_id']}/revoke"))["revoked_at"] == revoked["revoked_at"]
    with app.app_context():
        events = [e.event for e in db.session.query(AuditEvent).filter_by(client_id=issued["key_id"])
                  .order_by(AuditEvent.id) if e.event.startswith("api_key.")]
        assert events == ["api_key.created", "api_key.revoked"]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "scope": "api:read"}, "owner"),
    ({"owner": "nobody", "name": "x"}, "owner"),
    ({"owner": "{sub}", "name": "x", "scope": "api:write"}, "scope"),  # more than the owner may hold
    ({"owner": "{sub}", "name": "x", "scope": "ostiary:admin"}, "scope"),
    ({"owner": "{sub}", "name": "", "scope": "api:read"}, "name"),
    ({"owner": "{sub}", "name": "x", "expires_at": 1}, "expires_at"),
])
def test_api_key_validation(api, make, body, field):
    user = make.user("l@example.com", scope="api:read")
    body = {k: v.format(sub=user.sub) if isinstance(v, str) else v for k, v in body.items()}
    refused(api.post("/api-keys", json=body), 400, "invalid_request", field)


def test_unknown_keys(api):
    refused(api.get("/api-keys/0123456789abcdef"), 404, "not_found")
    refused(api.post("/api-keys/not-hex/revoke"), 404, "not_found")


# --- service accounts ----------------------------------------------------------------------------------------------

def test_service_account_lifecycle(api, site):
    created = ok(api.post("/service-accounts", json={"name": "billing-sync", "scope": "invoices:read"}), 201)
    assert (created["name"], created["allowed_scope"]) == ("billing-sync", "invoices:read")
    assert ok(api.get("/service-accounts"))["items"] == [created]
    issued = ok(api.post("/api-keys", json={"owner": created["sub"], "name": "sync", "scope": "invoices:read"}), 201)
    key = RegisteredClient(issued["key_id"], issued["key"], "")
    assert client_credentials(site, key).status_code == 200

    updated = ok(api.patch(f"/service-accounts/{created['sub']}", json={"scope": "", "roles": ["admin"]}))
    assert updated["allowed_scope"] == "ostiary:admin"
    assert ok(api.get(f"/api-keys/{issued['key_id']}"))["scope"] == ""  # the key lost what the account lost

    assert api.delete(f"/service-accounts/{created['sub']}").status_code == 204
    refused(api.get(f"/service-accounts/{created['sub']}"), 404, "not_found")
    refused(api.get(f"/api-keys/{issued['key_id']}"), 404, "not_found")
    assert_oauth_error(client_credentials(site, key), "invalid_client", 401)


def test_users_are_not_service_accounts(api, admin):
    refused(api.get(f"/service-accounts/{admin.sub}"), 404, "not_found")
    refused(api.delete(f"/service-accounts/{admin.sub}"), 404, "not_found")


@pytest.mark.parametrize(("body", "field"), [
    ({}, "name"), ({"name": " "}, "name"), ({"name": "x", "roles": ["BAD"]}, "roles"),
    ({"name": "x", "scope": "profile"}, "scope"), ({"name": "x", "email": "a@b.c"}, "email"),
])
def test_service_account_validation(api, body, field):
    refused(api.post("/service-accounts", json=body), 400, "invalid_request", field)
