"""RFC 7662 token introspection over real HTTP."""

from __future__ import annotations

import time

import jwt
import pytest

from app.models import ApiKey
from app.services import clients
from app.services.api_keys import get_api_key, revoke_api_key
from app.services.clients import delete_client
from tests.flows import assert_oauth_error, client_credentials, introspect, tokens_for

INACTIVE = {"active": False}


def test_an_access_token_is_described_by_its_claims(site, rp, tokens):
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})

    response = site.post(
        "/oauth/introspect", data={"token": tokens["access_token"]}, auth=(rp.client_id, rp.client_secret)
    )

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json() == {
        "active": True,
        "token_type": "Bearer",
        "scope": "openid profile email offline_access",
        "client_id": rp.client_id,
        "sub": claims["sub"],
        "aud": site.base_url,
        "iss": site.base_url,
        "exp": claims["exp"],
        "iat": claims["iat"],
        "jti": claims["jti"],
    }


def test_a_refresh_token_is_described_from_storage(site, rp, tokens):
    body = introspect(site, rp, tokens["refresh_token"])
    sub = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"]

    assert body.keys() == {"active", "scope", "client_id", "sub", "iss", "exp", "iat"}
    assert (body["active"], body["client_id"], body["sub"], body["iss"]) == (True, rp.client_id, sub, site.base_url)
    assert body["scope"] == "openid profile email offline_access"
    assert body["iat"] <= time.time() < body["exp"]


def test_a_client_credentials_token_is_active_for_its_client(site, make):
    machine = make.machine()
    token = site.post(
        "/oauth/token", data={"grant_type": "client_credentials", "scope": "api:read"},
        auth=(machine.client_id, machine.client_secret),
    ).json()["access_token"]

    body = introspect(site, machine, token)

    assert (body["active"], body["sub"], body["client_id"], body["scope"]) == (True, machine.client_id, machine.client_id,
                                                                              "api:read")


API = "https://api.example.com"


def test_another_client_learns_nothing(site, make, tokens):
    """RFC 7662 §4: a client that is neither the token's client nor among its audiences is told active: false."""
    api = make.machine()
    assert introspect(site, api, tokens["access_token"]) == INACTIVE
    assert introspect(site, api, tokens["refresh_token"]) == INACTIVE


def test_a_resource_server_introspects_the_tokens_meant_for_it(site, make, rp):
    make.resource(API, scope="api:read")
    web = make.client(scope="openid offline_access api:read", resources=[API])
    for_api = tokens_for(site, web, "alice@example.com", scope="openid offline_access api:read", resource=API)
    for_web = tokens_for(site, web, "alice@example.com", scope="openid offline_access api:read")
    resource_server = make.machine(introspect_resources=[API])

    body = introspect(site, resource_server, for_api["access_token"])

    assert (body["active"], body["aud"], body["client_id"]) == (True, API, web.client_id)
    assert introspect(site, resource_server, for_web["access_token"]) == INACTIVE  # aud is not the API
    # A refresh token is sent to no resource server: only its own client (or an auditor) may look at it.
    assert introspect(site, resource_server, for_api["refresh_token"]) == INACTIVE
    assert introspect(site, web, for_api["refresh_token"])["active"] is True


def test_a_client_allowed_to_introspect_everything(site, make, tokens):
    auditor = make.machine(introspect_all=True)
    assert introspect(site, auditor, tokens["access_token"])["active"] is True
    assert introspect(site, auditor, tokens["refresh_token"])["active"] is True


def test_garbage_is_only_inactive(site, rp, tokens):
    """RFC 7662 §2.2; every other token that is not active: tests/security/test_bad_tokens.py, whose catalogue is
    tried here and at every other place that verifies a token."""
    assert introspect(site, rp, "ünïcode.\x00.garbage") == INACTIVE


def test_an_unknown_hint_is_ignored(site, rp, tokens):
    """RFC 7662 §2.1: the server MAY ignore token_type_hint."""
    response = site.post(
        "/oauth/introspect", data={"token": tokens["access_token"], "token_type_hint": "id_token"},
        auth=(rp.client_id, rp.client_secret),
    )
    assert response.json()["active"] is True


@pytest.mark.parametrize(
    ("credentials", "data", "status", "error"),
    [
        ("none", {"token": "t"}, 401, "invalid_client"),
        ("public client id", {"token": "t"}, 401, "invalid_client"),
        ("confidential client id only", {"token": "t"}, 401, "invalid_client"),
        ("wrong secret", {"token": "t"}, 401, "invalid_client"),
        ("basic", {}, 400, "invalid_request"),
        ("basic", {"token": ""}, 400, "invalid_request"),
        ("basic", {"token": ["a", "b"]}, 400, "invalid_request"),
    ],
)
def test_refused_requests(site, make, rp, credentials, data, status, error):
    auth = None
    if credentials == "public client id":
        data = {**data, "client_id": make.client(public=True).client_id}
    elif credentials == "confidential client id only":
        data = {**data, "client_id": rp.client_id}
    elif credentials == "wrong secret":
        auth = (rp.client_id, "wrong")
    elif credentials == "basic":
        auth = (rp.client_id, rp.client_secret)

    response = site.post("/oauth/introspect", data=data, auth=auth)

    assert_oauth_error(response, error, status)


@pytest.mark.parametrize("kind", ["deleted client", "revoked API key", "expired API key"])
@pytest.mark.parametrize("asker", ["auditor", "resource server"])
def test_tokens_of_a_deleted_client_or_a_dead_api_key_are_inactive(site, app, make, kind, asker):
    """RFC 7662 §2.2: a token stops being active with its client or key (offline verifiers: within its lifetime)."""
    make.resource(API, scope="api:read")
    if kind == "deleted client":
        issuer = make.machine(scope="api:read", resources=[API])
    else:
        issuer = make.api_key(make.service_account(scope="api:read"), scope="api:read")
    token = client_credentials(site, issuer, resource=API).json()["access_token"]
    introspector = make.machine(introspect_all=True) if asker == "auditor" else make.machine(introspect_resources=[API])
    assert introspect(site, introspector, token)["active"] is True

    with app.app_context():
        match kind:
            case "deleted client":
                delete_client(clients.get_client(issuer.client_id), actor=None)
            case "revoked API key":
                revoke_api_key(get_api_key(issuer.client_id), actor=None)
            case "expired API key":
                make.update(ApiKey, {"key_id": issuer.client_id}, expires_at=int(time.time()) - 1)

    assert introspect(site, introspector, token) == INACTIVE
