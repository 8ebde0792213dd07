"""The admin API accepts only what a downstream service would: our access tokens for its audience, from an admin."""

from __future__ import annotations

import time

import pytest

from app.models import User
from app.scopes import ADMIN_SCOPE
from tests.admin.conftest import ADMIN_EMAIL, AdminApi, admin_token, ok, refused
from tests.flows import authorization_params, client_credentials, exchange_code, pkce_pair, query_of, revoke, signed_in


def test_an_admin_token_works(api):
    assert ok(api.get("/users"))["items"][0]["email"] == ADMIN_EMAIL


def test_the_openapi_document_is_public(site):
    document = ok(site.get("/admin/api/openapi.json"))
    assert document["openapi"].startswith("3.1")


def test_no_token(site):
    response = site.get("/admin/api/users")
    refused(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Basic YTpi", "Bearer", "Bearer not-a-jwt", "Bearer a.b.c"])
def test_malformed_credentials(site, header):
    response = site.get("/admin/api/users", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"] in {"invalid_token", "invalid_request"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_non_admin_token_is_forbidden(site, make):
    """A user without the admin role cannot hold the admin scope in a key, and a token naming it anyway is refused."""
    user = make.user("plain@example.com", roles=["support"])
    client = make.client(scope=f"openid {ADMIN_SCOPE}", resources=[f"{site.base_url}/admin/api"])
    browser = signed_in(site, "plain@example.com")
    verifier, challenge = pkce_pair()
    params = authorization_params(client, challenge, scope=f"openid {ADMIN_SCOPE}",
                                  resource=f"{site.base_url}/admin/api")
    code = query_of(browser.authorize(params).headers["Location"])["code"]
    token = exchange_code(site, client, code, verifier).json()["access_token"]
    body = refused(AdminApi(site, token).get("/users"), 403, "insufficient_scope")
    assert "administrator" in body["error_description"]
    assert user.sub  # the token was this user's


def test_a_token_without_the_admin_scope_is_forbidden(site, make, admin):
    make.update(User, {"email": ADMIN_EMAIL}, scope="api:read")
    key = make.api_key(admin, scope=f"api:read {ADMIN_SCOPE}")
    make.resource("https://api.example.com", scope="api:read")
    token = client_credentials(site, key, resource=f"{site.base_url}/admin/api").json()["access_token"]
    assert ok(AdminApi(site, token).get("/users"))  # the admin scope defaults in for that resource
    # An audience-correct token lacking the scope can only be forged: sign one with the real key.
    forged = _forged(make, admin.sub, key.client_id, site.base_url, scope="api:read")
    response = AdminApi(site, forged).get("/users")
    refused(response, 403, "insufficient_scope")
    assert f'scope="{ADMIN_SCOPE}"' in response.headers["WWW-Authenticate"]


def _forged(make, sub: str, client_id: str, issuer: str, **overrides) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "sub": sub, "aud": f"{issuer}/admin/api", "exp": now + 60, "iat": now,
              "jti": f"forged-{now}-{sub[:8]}", "client_id": client_id, "scope": ADMIN_SCOPE, **overrides}
    return make.jwt({k: v for k, v in claims.items() if v is not None})


@pytest.mark.parametrize(("overrides", "typ"), [
    ({"exp": int(time.time()) - 5}, "at+jwt"),  # expired
    ({"aud": "https://api.example.com"}, "at+jwt"),  # another audience
    ({"aud": None}, "at+jwt"),
    ({"iss": "https://evil.example.com"}, "at+jwt"),
    ({}, None),  # not an access token (an ID token has no typ)
    ({}, "JWT"),
    ({"iat": int(time.time()) + 3600}, "at+jwt"),
], ids=["expired", "other-audience", "no-audience", "other-issuer", "no-typ", "jwt-typ", "future-iat"])
def test_tokens_a_downstream_service_would_refuse(site, make, admin, admin_key, overrides, typ):
    claims = {"iss": site.base_url, "sub": admin.sub, "aud": f"{site.base_url}/admin/api", "exp": int(time.time()) + 60,
              "iat": int(time.time()), "jti": "j-" + str(time.time()), "client_id": admin_key.client_id,
              "scope": ADMIN_SCOPE, **overrides}
    token = make.jwt({k: v for k, v in claims.items() if v is not None}, typ=typ)
    refused(AdminApi(site, token).get("/users"), 401, "invalid_token")


def test_a_token_issued_for_the_default_audience_is_refused(site, admin_key):
    token = client_credentials(site, admin_key).json()["access_token"]  # aud = the issuer
    refused(AdminApi(site, token).get("/users"), 401, "invalid_token")


def test_a_token_signed_by_another_key_is_refused(site, admin):
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode({"iss": site.base_url, "sub": admin.sub, "aud": f"{site.base_url}/admin/api",
                        "exp": int(time.time()) + 60, "iat": int(time.time()), "jti": "x", "client_id": "x",
                        "scope": ADMIN_SCOPE}, other, algorithm="RS256", headers={"typ": "at+jwt", "kid": "x"})
    refused(AdminApi(site, token).get("/users"), 401, "invalid_token")


def test_a_revoked_token_is_refused(site, api, admin_key):
    assert revoke(site, admin_key, api.token).status_code == 200  # RFC 7009, by the key it was issued to
    refused(api.get("/users"), 401, "invalid_token")


def test_a_disabled_or_demoted_admin_is_refused_at_once(site, api, make):
    make.update(User, {"email": ADMIN_EMAIL}, is_active=False)
    refused(api.get("/users"), 403, "insufficient_scope")
    make.update(User, {"email": ADMIN_EMAIL}, is_active=True, roles=[])
    refused(api.get("/users"), 403, "insufficient_scope")
    make.update(User, {"email": ADMIN_EMAIL}, roles=["admin"])
    assert api.get("/users").status_code == 200


def test_a_service_account_with_the_admin_role(site, make):
    robot = make.service_account("provisioner", roles=["admin"])
    key = make.api_key(robot, scope=ADMIN_SCOPE)
    created = ok(AdminApi(site, admin_token(site, key)).post(
        "/users", json={"email": "new@example.com"}), 201)
    assert created["email"] == "new@example.com"


def test_a_registered_clients_own_token_is_not_an_admin(site, make):
    machine = make.machine(scope=ADMIN_SCOPE, resources=[f"{site.base_url}/admin/api"])
    token = client_credentials(site, machine, resource=f"{site.base_url}/admin/api").json()["access_token"]
    refused(AdminApi(site, token).get("/users"), 403, "insufficient_scope")


def test_cookies_are_not_credentials(site, admin):
    browser = signed_in(site, ADMIN_EMAIL)
    refused(browser.session.get(f"{site.base_url}/admin/api/users"), 401, "invalid_token")
