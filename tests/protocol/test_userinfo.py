"""OpenID Connect Core §5.3 userinfo, protected as RFC 6750 says."""

from __future__ import annotations

import time

import jwt
import pytest
import requests

from app.models import User
from tests.factories import Factories, RegisteredClient
from tests.flows import revoke, tokens_for, userinfo


@pytest.fixture
def alice(make) -> User:
    return make.user("alice@example.com", name="Alice", username="alice")


@pytest.fixture
def rp(make) -> RegisteredClient:
    return make.client(scope="openid profile email offline_access api:read")


@pytest.fixture
def tokens(live_server, alice, rp) -> dict:
    return tokens_for(live_server, rp, "alice@example.com")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_claims_of_the_signed_in_user(live_server, alice, tokens, method):
    response = userinfo(live_server, tokens["access_token"], method)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json() == {
        "sub": alice.sub, "name": "Alice", "preferred_username": "alice", "updated_at": alice.updated_at,
        "email": "alice@example.com", "email_verified": False,
    }


@pytest.mark.parametrize(
    ("scope", "claims"),
    [
        ("openid", {"sub"}),
        ("openid profile", {"sub", "name", "preferred_username", "updated_at"}),
        ("openid email", {"sub", "email", "email_verified"}),
        ("openid api:read", {"sub"}),
    ],
)
def test_claims_follow_the_granted_scope(live_server, alice, rp, scope, claims):
    token = tokens_for(live_server, rp, "alice@example.com", scope=scope)["access_token"]
    body = userinfo(live_server, token).json()
    assert body.keys() == claims
    assert body["sub"] == alice.sub


def test_a_request_without_credentials_gets_a_bare_challenge(live_server):
    """RFC 6750 §3.1: no error code when the request carried no authentication."""
    response = requests.get(f"{live_server}/oauth/userinfo")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "error" not in response.text


@pytest.mark.parametrize("authorization", ["Basic YTpi", "Bearer", "Bearer   ", "Digest x", "DPoP abc"])
def test_no_bearer_credentials_is_a_bare_challenge(live_server, authorization):
    response = requests.get(f"{live_server}/oauth/userinfo", headers={"Authorization": authorization})
    assert (response.status_code, response.headers["WWW-Authenticate"]) == (401, "Bearer")


def _bad_token(kind: str, live_server: str, make: Factories, rp: RegisteredClient, tokens: dict) -> str:
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    now = int(time.time())
    match kind:
        case "garbage":
            return "not-a-token"
        case "tampered":
            header, payload, signature = tokens["access_token"].split(".")
            return f"{header}.{payload}.{signature[::-1]}"
        case "unsigned":
            return jwt.encode({**claims}, key=None, algorithm="none", headers={"typ": "at+jwt"})
        case "HS256":
            return jwt.encode(claims, "a-shared-secret-anyone-could-try-0123", algorithm="HS256", headers={"typ": "at+jwt"})
        case "expired":
            return make.jwt({**claims, "iat": now - 700, "exp": now - 100})
        case "not yet valid":
            return make.jwt({**claims, "iat": now + 3600, "exp": now + 4200})
        case "wrong issuer":
            return make.jwt({**claims, "iss": "https://evil.example"})
        case "no typ":
            return make.jwt(claims, typ=None)
        case "no sub":
            return make.jwt({k: v for k, v in claims.items() if k != "sub"})
        case "scope not a string":
            return make.jwt({**claims, "scope": ["openid"]})
        case "ID token":
            return tokens["id_token"]
        case "refresh token":
            return tokens["refresh_token"]
        case "revoked":
            assert revoke(live_server, rp, tokens["access_token"]).status_code == 200
            return tokens["access_token"]
        case "family revoked":
            assert revoke(live_server, rp, tokens["refresh_token"]).status_code == 200
            return tokens["access_token"]
        case "disabled user":
            make.update(User, {"email": "alice@example.com"}, is_active=False)
            return tokens["access_token"]
        case "deleted user":
            return make.jwt({**claims, "sub": "00000000-0000-4000-8000-000000000000"})
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "garbage", "tampered", "unsigned", "HS256", "expired", "not yet valid", "wrong issuer",
        "no typ", "no sub", "scope not a string", "ID token", "refresh token", "revoked", "family revoked",
        "disabled user", "deleted user",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unusable_tokens_are_invalid_token(live_server, make, rp, tokens, kind, method):
    response = userinfo(live_server, _bad_token(kind, live_server, make, rp, tokens), method)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token", error_description="')
    assert response.headers["Cache-Control"] == "no-store"


def test_a_client_credentials_token_has_no_user(live_server, make):
    machine = make.machine(scope="openid api:read")
    for scope in ("api:read", "openid"):
        token = requests.post(
            f"{live_server}/oauth/token", data={"grant_type": "client_credentials", "scope": scope},
            auth=(machine.client_id, machine.client_secret),
        ).json()["access_token"]
        response = userinfo(live_server, token)
        assert (response.status_code, response.json()["error"]) == (401, "invalid_token"), scope


def test_a_token_without_openid_is_insufficient_scope(live_server, make, rp, tokens):
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    token = make.jwt({**claims, "scope": "profile email", "jti": "no-openid"})

    response = userinfo(live_server, token)

    assert (response.status_code, response.json()["error"]) == (403, "insufficient_scope")
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')
    assert 'scope="openid"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer " + "a" * 9000},
        {"Authorization": "Bearer a.b.c"},
        {"Authorization": "Bearer ..."},
        {"Authorization": "Bearer e30.e30.e30"},
        {"Authorization": "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6WzFdfQ.e30.AA"},
        {"Authorization": "Bearer \u00e9t\u00e9".encode().decode("latin-1")},
    ],
)
def test_hostile_headers_never_cause_a_server_error(live_server, headers):
    response = requests.get(f"{live_server}/oauth/userinfo", headers=headers)
    assert response.status_code == 401
