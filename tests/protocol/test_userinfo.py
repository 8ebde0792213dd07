"""OpenID Connect Core §5.3 userinfo, protected as RFC 6750 says."""

from __future__ import annotations

import jwt
import pytest

from app.models import User
from app.oauth.signing import keyring
from tests.factories import RegisteredClient
from tests.flows import assert_oauth_error, client_credentials, tokens_for, userinfo

BILLING = "https://billing.example.com"


@pytest.fixture
def alice(make) -> User:
    return make.user("alice@example.com", name="Alice", username="alice")


@pytest.fixture
def rp(make) -> RegisteredClient:
    return make.client(scope="openid profile email offline_access api:read")


@pytest.fixture
def tokens(site, alice, rp) -> dict:
    return tokens_for(site, rp, "alice@example.com")


# RFC 6750 §2.1 in a GET or a POST, and §2.2 (the form body; pyoidc's default).
TRANSPORTS = ["GET", "POST", "POST body"]


@pytest.mark.parametrize("method", TRANSPORTS)
def test_claims_of_the_signed_in_user(site, alice, tokens, method):
    response = userinfo(site, tokens["access_token"], method)

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
def test_claims_follow_the_granted_scope(site, alice, rp, scope, claims):
    token = tokens_for(site, rp, "alice@example.com", scope=scope)["access_token"]
    body = userinfo(site, token).json()
    assert body.keys() == claims
    assert body["sub"] == alice.sub


def test_a_request_without_credentials_gets_a_bare_challenge(site):
    """RFC 6750 §3.1: no error code in the challenge when the request carried no authentication; the body has
    the JSON shape of every OAuth error, as at the admin API."""
    response = site.get("/oauth/userinfo")
    assert_oauth_error(response, "invalid_token", 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"error": "invalid_token", "error_description": "a Bearer access token is required"}


@pytest.mark.parametrize("authorization", ["Basic YTpi", "Bearer", "Bearer   ", "Digest x", "DPoP abc"])
def test_no_bearer_credentials_is_a_bare_challenge(site, authorization):
    response = site.get("/oauth/userinfo", headers={"Authorization": authorization})
    assert (response.status_code, response.headers["WWW-Authenticate"]) == (401, "Bearer")


# Unusable and forged tokens are refused here (GET, POST, and in a POST body) and at every other place that verifies a
# token: tests/security/test_bad_tokens.py.


@pytest.mark.parametrize(
    ("request_for", "status", "error"),
    [
        # §2: a client uses one method per request, never two.
        (lambda token: {"headers": {"Authorization": f"Bearer {token}"}, "data": {"access_token": token}},
         400, "invalid_request"),
        (lambda token: {"data": [("access_token", token), ("access_token", token)]}, 400, "invalid_request"),
        # §2.2: only a form-encoded body counts; JSON, multipart and the query string (§2.3) are not read.
        (lambda token: {"json": {"access_token": token}}, 401, None),
        (lambda token: {"files": {"access_token": (None, token)}}, 401, None),
        (lambda token: {"params": {"access_token": token}}, 401, None),
    ],
    ids=["header and body", "repeated", "json body", "multipart body", "query string"],
)
def test_the_token_in_the_body_is_refused_where_rfc_6750_forbids_it(site, tokens, request_for, status, error):
    response = site.post("/oauth/userinfo", **request_for(tokens["access_token"]))
    assert response.status_code == status
    if error is None:
        assert response.headers["WWW-Authenticate"] == "Bearer"  # no credentials seen: a bare challenge
    else:
        assert response.json()["error"] == error
        assert response.headers["WWW-Authenticate"].startswith(f'Bearer error="{error}"')


def test_a_get_with_the_token_in_the_query_is_not_read(site, tokens):
    response = site.get("/oauth/userinfo", params={"access_token": tokens["access_token"]})
    assert (response.status_code, response.headers["WWW-Authenticate"]) == (401, "Bearer")


def test_a_client_credentials_token_has_no_user(site, make):
    machine = make.machine(scope="openid api:read")
    for scope in ("api:read", "openid"):
        token = site.post(
            "/oauth/token", data={"grant_type": "client_credentials", "scope": scope},
            auth=(machine.client_id, machine.client_secret),
        ).json()["access_token"]
        response = userinfo(site, token)
        assert_oauth_error(response, "invalid_token", 401)


def test_a_token_without_openid_is_insufficient_scope(site, make, rp, tokens):
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    token = make.jwt({**claims, "scope": "profile email", "jti": "no-openid"})

    response = userinfo(site, token)

    assert_oauth_error(response, "insufficient_scope", 403)
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
def test_hostile_headers_never_cause_a_server_error(site, headers):
    response = site.get("/oauth/userinfo", headers=headers)
    assert response.status_code == 401


def verified(app, token: str, audience: str) -> dict:
    """PyJWT as a resource server uses it: signature, issuer and the one audience it is."""
    with app.app_context():
        key = jwt.PyJWK(keyring().find(jwt.get_unverified_header(token)["kid"]).as_dict(private=False)).key
        issuer = app.config["ISSUER"]
    return jwt.decode(token, key, algorithms=["RS256"], audience=audience, issuer=issuer)


def test_a_token_minted_for_a_resource_server_is_refused(site, app, make, alice):
    """RFC 8707: the billing service receives tokens for itself; it cannot read the person's profile with them."""
    make.resource(BILLING, scope="invoices:read")
    rp = make.client(scope="openid profile offline_access invoices:read", resources=[BILLING])
    tokens = tokens_for(site, rp, "alice@example.com", scope="openid profile invoices:read", resource=BILLING)
    assert verified(app, tokens["access_token"], BILLING)["aud"] == BILLING

    response = userinfo(site, tokens["access_token"])

    assert_oauth_error(response, "invalid_token", 401)


@pytest.mark.parametrize("configured", ["client audience", "default audience"])
def test_a_token_obtained_without_resource_works_whatever_the_audience(site, app, make, alice, monkeypatch,
                                                                      configured):
    if configured == "client audience":
        rp = make.client(audience=BILLING)
    else:
        monkeypatch.setitem(app.config, "DEFAULT_AUDIENCE", BILLING)
        rp = make.client()
    token = tokens_for(site, rp, "alice@example.com")["access_token"]

    assert userinfo(site, token).status_code == 200
    # RFC 7519 §4.1.3: an array of both audiences, which an offline verifier of either accepts.
    assert verified(app, token, BILLING)["aud"] == [BILLING, site.base_url]
    assert verified(app, token, site.base_url)["aud"] == [BILLING, site.base_url]


def test_only_a_token_that_may_call_userinfo_also_names_the_issuer(site, app, make, alice):
    """Without openid the token cannot call userinfo: it keeps the single audience verifiers expect."""
    machine = make.machine(audience=BILLING)
    assert verified(app, client_credentials(site, machine).json()["access_token"], BILLING)["aud"] == BILLING
    rp = make.client(audience=BILLING, scope="profile email offline_access")
    token = tokens_for(site, rp, "alice@example.com", scope="profile email")["access_token"]
    assert verified(app, token, BILLING)["aud"] == BILLING
