"""The README's example downstream API (tests/ops/protected_api.py), against a live Ostiary."""

from __future__ import annotations

import functools
import json
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from app.cli import cli
from tests.ops.protected_api import create_api
from tests.processes import free_port


@pytest.fixture
def api(live_server):
    return create_api(issuer=live_server, audience=live_server)


@pytest.fixture
def claims(live_server) -> dict:
    now = int(time.time())
    return {"iss": live_server, "sub": "user-1", "aud": live_server, "exp": now + 60, "iat": now, "jti": "j1",
            "client_id": "client-1", "scope": "orders:read orders:write"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_from_the_token_endpoint_is_accepted(api, live_server, make):
    machine = make.machine(scope="orders:read")
    token = requests.post(f"{live_server}/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(machine.client_id, machine.client_secret)).json()["access_token"]
    response = api.test_client().get("/orders", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"orders": [], "subject": machine.client_id}


def test_no_token_is_a_bare_challenge_naming_the_resource_metadata(api, live_server):
    response = api.test_client().get("/orders")
    assert response.status_code == 401
    # RFC 6750 §3.1: no error code; RFC 9728 §5.1: where the protected resource metadata is.
    metadata = f"{live_server}/.well-known/oauth-protected-resource"
    assert response.headers["WWW-Authenticate"] == f'Bearer realm="api", resource_metadata="{metadata}"'


def test_protected_resource_metadata_is_what_ostiary_says(live_server, make, runner):
    """RFC 9728 §3: the resource serves the document `ostiary resources metadata` prints for its identifier."""
    identifier = make.resource(f"{live_server}/mcp", scope="orders:read orders:write", name="Orders")
    api = create_api(issuer=live_server, audience=identifier)
    served = api.test_client().get("/.well-known/oauth-protected-resource/mcp")
    assert served.status_code == 200
    printed = json.loads(runner.invoke(cli, ["resources", "metadata", identifier, "--json"]).output)
    assert printed == {**served.get_json(), "resource_name": "Orders"}
    assert printed["resource"] == identifier and printed["authorization_servers"] == [live_server]
    challenge = api.test_client().get("/orders").headers["WWW-Authenticate"]
    assert f'resource_metadata="{live_server}/.well-known/oauth-protected-resource/mcp"' in challenge


@functools.cache
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def foreign_token(claims: dict, kid: str = "not-ours") -> str:
    return jwt.encode(claims, other_key(), algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})


@pytest.mark.parametrize(
    "change, typ",
    [
        ({}, None),  # an ID token's header: no at+jwt
        ({"aud": "https://other.example"}, "at+jwt"),
        ({"iss": "https://other.example"}, "at+jwt"),
        ({"exp": int(time.time()) - 120}, "at+jwt"),
        ({"jti": None}, "at+jwt"),
    ],
)
def test_tokens_that_fail_a_check_are_invalid(api, make, claims, change, typ):
    token = make.jwt({k: v for k, v in (claims | change).items() if v is not None}, typ=typ)
    response = api.test_client().get("/orders", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("token", ["garbage", "a.b.c", jwt.encode({"sub": "x"}, None, algorithm="none")])
def test_malformed_and_unsigned_tokens_are_invalid(api, token):
    assert api.test_client().get("/orders", headers=bearer(token)).status_code == 401


def test_a_missing_scope_is_403_naming_the_scope(api, make, claims):
    token = make.jwt(claims | {"scope": "orders:read"})
    response = api.test_client().delete("/orders/7", headers=bearer(token))
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"
    assert 'scope="orders:write"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "roles, status", [(["support"], 200), (["support", "admin"], 200), (["viewer"], 403), (None, 403)]
)
def test_roles_come_from_the_roles_claim(api, make, claims, roles, status):
    token = make.jwt(claims if roles is None else claims | {"roles": roles})
    response = api.test_client().delete("/orders/7", headers=bearer(token))
    assert response.status_code == status, response.get_json()


def test_unknown_kids_refetch_the_key_set_at_most_once_per_interval(api, make, claims):
    verifier = api.extensions["token_verifier"]
    fetches = []
    fetch = verifier.jwks.fetch_data
    verifier.jwks.fetch_data = lambda: fetches.append(1) or fetch()
    client = api.test_client()
    assert client.get("/orders", headers=bearer(make.jwt(claims))).status_code == 200
    for attempt in range(20):
        assert client.get("/orders", headers=bearer(foreign_token(claims, f"made-up-{attempt}"))).status_code == 401
    assert len(fetches) == 1  # the first fetch; every unknown kid after it fell within the refetch interval


def test_an_unreachable_issuer_is_503_not_401(claims, make):
    nowhere = f"http://127.0.0.1:{free_port()}"
    response = create_api(nowhere, nowhere).test_client().get("/orders", headers=bearer(make.jwt(claims)))
    assert response.status_code == 503
    assert response.get_json()["error"] == "temporarily_unavailable"
