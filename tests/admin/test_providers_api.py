"""/admin/api/providers: the same provider configuration as `ostiary providers`, the secret never returned."""

from __future__ import annotations

import json

import pytest

from app.extensions import db
from app.models import UpstreamProvider
from app.security.sealed import unseal
from app.services.providers import SECRET_PURPOSE
from tests.admin.conftest import ok, refused

SECRET = "upstream-secret-0123456789"


def test_create_read_update_delete(api, app, live_server):
    response = api.post("/providers", json={
        "name": "corp", "issuer": "https://id.corp.example", "client_id": "ours", "client_secret": SECRET,
        "display_name": "Corp", "trusted_domains": ["corp.example"], "role_mapping": {"staff": "admin"}})
    created = ok(response, 201)
    assert response.headers["Location"] == "/admin/api/providers/corp"
    assert created["redirect_uri"] == f"{live_server}/federation/corp/callback" and SECRET not in response.text
    assert ok(api.get("/providers"))["items"] == [created]
    updated = ok(api.patch("/providers/corp", json={"enabled": False, "client_secret": "replaced",
                                                    "claim_mapping": {"email": "mail"}}))
    assert (updated["enabled"], updated["claim_mapping"]) == (False, {"email": "mail"}) and "replaced" not in json.dumps(
        updated)
    with app.app_context():
        assert unseal(SECRET_PURPOSE, db.session.query(UpstreamProvider).one().client_secret_sealed) == b"replaced"
    assert api.delete("/providers/corp").status_code == 204
    refused(api.get("/providers/corp"), 404, "not_found")


def test_a_preset(api):
    created = ok(api.post("/providers", json={"name": "github", "preset": "github", "client_id": "x",
                                              "client_secret": SECRET}), 201)
    assert created["kind"] == "oauth2" and created["userinfo_endpoint"] == "https://api.github.com/user"


@pytest.mark.parametrize(("body", "status", "error", "field"), [
    ({"name": "Bad Name", "issuer": "https://x.example", "client_id": "x", "client_secret": SECRET}, 400,
     "invalid_request", "name"),
    ({"name": "corp", "client_id": "x", "client_secret": SECRET}, 400, "invalid_request", "issuer"),
    ({"name": "corp", "issuer": "http://x.example", "client_id": "x", "client_secret": SECRET}, 400,
     "invalid_request", "issuer"),
    ({"name": "corp", "issuer": "https://x.example", "client_id": "x"}, 400, "invalid_request", "client_secret"),
    ({"name": "corp", "issuer": "https://x.example", "client_id": "x", "client_secret": SECRET,
      "claim_mapping": {"roles": "x"}}, 400, "invalid_request", "claim_mapping"),
    ({"name": "corp", "issuer": "https://x.example", "client_id": "x", "client_secret": SECRET,
      "claim_mapping": {"email": 1}}, 400, "invalid_request", "claim_mapping"),
    ({"name": "corp", "issuer": "https://x.example", "client_id": "x", "client_secret": SECRET,
      "client_secret_sealed": "v1.x.y"}, 400, "invalid_request", "client_secret_sealed"),
])
def test_bad_bodies_are_refused(api, body, status, error, field):
    refused(api.post("/providers", json=body), status, error, field)
    assert ok(api.get("/providers"))["items"] == []


def test_a_taken_name_is_a_conflict(api):
    body = {"name": "corp", "issuer": "https://x.example", "client_id": "x", "client_secret": SECRET}
    ok(api.post("/providers", json=body), 201)
    refused(api.post("/providers", json=body), 409, "conflict", "name")
