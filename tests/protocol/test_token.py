"""The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §5; RFC 7636 §4.5) over real HTTP."""

from __future__ import annotations

import base64
import time
from urllib.parse import quote_plus

import pytest
import requests

from app.models import AuthorizationCode, Client, User
from app.security.secrets import digest
from tests.factories import REDIRECT_URI
from tests.flows import (
    assert_no_store,
    assert_oauth_error,
    code_for,
    exchange_code,
    introspect,
    pkce_pair,
    refresh,
)
from tests.site import Site

EMAIL = "alice@example.com"
OTHER_URI = "https://app.example.com/cb"


@pytest.fixture
def user(make):
    return make.user(EMAIL)


@pytest.fixture
def rp(make):
    return make.client(redirect_uris=[REDIRECT_URI, OTHER_URI])


@pytest.fixture
def machine(make):
    return make.machine(scope="api:read api:write")


def post_token(site: Site, data, auth=None, **kwargs) -> requests.Response:
    return site.post("/oauth/token", data=data, auth=auth, allow_redirects=False, **kwargs)


def basic(client_id: str, secret: str) -> dict[str, str]:
    """RFC 6749 §2.3.1: form-urlencode each part, then Basic-encode the pair."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


# --- the authorization code grant ---------------------------------------------------------------------------

def test_code_exchange(site, rp, user):
    code, verifier, _ = code_for(site, rp, EMAIL)
    response = exchange_code(site, rp, code, verifier)
    assert response.status_code == 200, response.text
    assert_no_store(response)
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    assert {"access_token", "refresh_token", "id_token", "scope"} <= body.keys()


def test_code_exchange_with_client_secret_post(site, rp, user):
    code, verifier, _ = code_for(site, rp, EMAIL)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier, "client_id": rp.client_id, "client_secret": rp.client_secret}
    assert post_token(site, data).status_code == 200


def test_code_replay_revokes_what_the_code_issued(site, rp, user):
    """RFC 6749 §4.1.2 / RFC 9700 §4.2.4: a second redemption fails and revokes the first one's tokens."""
    code, verifier, _ = code_for(site, rp, EMAIL)
    first = exchange_code(site, rp, code, verifier)
    assert first.status_code == 200
    tokens = first.json()
    assert introspect(site, rp, tokens["access_token"])["active"] is True

    assert_oauth_error(exchange_code(site, rp, code, verifier), "invalid_grant")
    assert introspect(site, rp, tokens["access_token"]) == {"active": False}
    assert introspect(site, rp, tokens["refresh_token"]) == {"active": False}
    assert_oauth_error(refresh(site, rp, tokens["refresh_token"]), "invalid_grant")


def test_code_replay_after_refresh_revokes_the_rotated_tokens_too(site, rp, user):
    code, verifier, _ = code_for(site, rp, EMAIL)
    tokens = exchange_code(site, rp, code, verifier).json()
    rotated = refresh(site, rp, tokens["refresh_token"]).json()
    assert_oauth_error(exchange_code(site, rp, code, verifier), "invalid_grant")
    assert introspect(site, rp, rotated["access_token"]) == {"active": False}
    assert_oauth_error(refresh(site, rp, rotated["refresh_token"]), "invalid_grant")


# Each row changes one thing about a valid exchange.
CODE_ERRORS = [
    pytest.param({"code_verifier": pkce_pair()[0]}, "invalid_grant", id="wrong-verifier"),
    pytest.param({"code_verifier": None}, "invalid_request", id="missing-verifier"),
    pytest.param({"code_verifier": ""}, "invalid_request", id="empty-verifier"),
    pytest.param({"code_verifier": "short"}, "invalid_request", id="malformed-verifier"),
    pytest.param({"code_verifier": "é" * 50}, "invalid_request", id="non-ascii-verifier"),
    pytest.param({"code": "garbage"}, "invalid_grant", id="garbage-code"),
    pytest.param({"code": "x" * 3000}, "invalid_grant", id="huge-code"),
    pytest.param({"code": "ünïcødé"}, "invalid_grant", id="non-ascii-code"),
    pytest.param({"code": None}, "invalid_request", id="missing-code"),
    pytest.param({"redirect_uri": OTHER_URI}, "invalid_grant", id="other-registered-redirect"),
    pytest.param({"redirect_uri": "http://127.0.0.1:8765/callback/"}, "invalid_grant", id="redirect-trailing-slash"),
    pytest.param({"redirect_uri": None}, "invalid_grant", id="missing-redirect"),
]


@pytest.mark.parametrize(("changes", "error"), CODE_ERRORS)
def test_code_exchange_errors(site, rp, user, changes, error):
    code, verifier, _ = code_for(site, rp, EMAIL)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier}
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    assert_oauth_error(post_token(site, data, auth=(rp.client_id, rp.client_secret)), error)


def test_verifier_equal_to_challenge_is_not_plain_pkce(site, rp, user):
    verifier, challenge = pkce_pair()
    code, _, _ = code_for(site, rp, EMAIL, code_challenge=challenge)
    assert_oauth_error(exchange_code(site, rp, code, challenge), "invalid_grant")
    assert exchange_code(site, rp, code, verifier).status_code == 200  # the code survived the failed try


@pytest.mark.parametrize("public", [False, True])
def test_code_issued_to_another_client(site, make, rp, user, public):
    code, verifier, _ = code_for(site, rp, EMAIL)
    other = make.client(public=public)
    assert_oauth_error(exchange_code(site, other, code, verifier), "invalid_grant")
    assert exchange_code(site, rp, code, verifier).status_code == 200


def test_expired_code(site, make, rp, user):
    code, verifier, _ = code_for(site, rp, EMAIL)
    assert make.update(AuthorizationCode, {"code_hash": digest(code)}, expires_at=int(time.time()) - 1) == 1
    assert_oauth_error(exchange_code(site, rp, code, verifier), "invalid_grant")


def test_code_of_a_disabled_user(site, make, rp, user):
    code, verifier, _ = code_for(site, rp, EMAIL)
    make.update(User, {"id": user.id}, is_active=False)
    assert_oauth_error(exchange_code(site, rp, code, verifier), "invalid_grant")


def test_public_client_code_flow(site, make, user):
    public = make.client(public=True)
    code, verifier, _ = code_for(site, public, EMAIL)
    response = exchange_code(site, public, code, verifier)  # client_id only, no secret
    assert response.status_code == 200, response.text
    assert {"access_token", "refresh_token", "id_token"} <= response.json().keys()


def test_public_client_still_needs_pkce_verifier(site, make, user):
    public = make.client(public=True)
    code, _, _ = code_for(site, public, EMAIL)
    assert_oauth_error(exchange_code(site, public, code, ""), "invalid_request")


# --- grant_type ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("grant_type", "error"),
    [
        ("password", "unsupported_grant_type"),
        ("implicit", "unsupported_grant_type"),
        ("token", "unsupported_grant_type"),
        ("urn:ietf:params:oauth:grant-type:jwt-bearer", "unsupported_grant_type"),
        ("urn:ietf:params:oauth:grant-type:device_code", "unsupported_grant_type"),
        ("garbage", "unsupported_grant_type"),
        ("AUTHORIZATION_CODE", "unsupported_grant_type"),
        ("tökén\"\\", "unsupported_grant_type"),
        (None, "invalid_request"),  # RFC 6749 §5.2: a missing required parameter
        ("", "invalid_request"),  # RFC 6749 §3.1: empty is omitted
    ],
)
def test_grant_type_errors(site, rp, grant_type, error):
    data = {"code": "x"} if grant_type is None else {"grant_type": grant_type, "code": "x"}
    assert_oauth_error(post_token(site, data, auth=(rp.client_id, rp.client_secret)), error)


# --- client authentication (RFC 6749 §2.3, §5.2) -------------------------------------------------------------

def cc(**extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", **extra}


CLIENT_AUTH_ERRORS = [
    pytest.param(lambda m: {"auth": (m.client_id, "wrong")}, (401,), id="basic-wrong-secret"),
    pytest.param(lambda m: {"auth": (m.client_id, m.client_secret + "x")}, (401,), id="basic-secret-suffix"),
    pytest.param(lambda m: {"auth": ("no-such-client", m.client_secret)}, (401,), id="basic-unknown-client"),
    pytest.param(lambda m: {"auth": ("x" * 500, "y")}, (401,), id="basic-huge-client-id"),
    pytest.param(lambda m: {"data": cc(client_id=m.client_id, client_secret="wrong")}, (400, 401), id="post-wrong"),
    pytest.param(lambda m: {"data": cc(client_id="nope", client_secret="wrong")}, (400, 401), id="post-unknown"),
    pytest.param(lambda m: {"data": cc(client_id=m.client_id)}, (400, 401), id="confidential-as-public"),
    pytest.param(lambda m: {"data": cc(client_id="nope")}, (400, 401), id="none-unknown"),
    pytest.param(lambda m: {}, (401,), id="no-credentials"),
    pytest.param(lambda m: {"headers": {"Authorization": "Basic !!!notbase64"}}, (401,), id="basic-bad-base64"),
    pytest.param(lambda m: {"headers": {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()}},
                 (401,), id="basic-not-utf8"),
    pytest.param(lambda m: {"headers": {"Authorization": "Basic " + base64.b64encode(m.client_id.encode()).decode()}},
                 (401,), id="basic-no-colon"),
    pytest.param(lambda m: {"headers": {"Authorization": "Basic"}}, (401,), id="basic-empty"),
    pytest.param(lambda m: {"headers": {"Authorization": "Bearer " + m.client_secret}}, (401,), id="bearer-scheme"),
    # A failed Authorization header is not rescued by credentials in the body.
    pytest.param(lambda m: {"auth": (m.client_id, "wrong"), "data": cc(client_id=m.client_id)}, (401,),
                 id="basic-wrong-plus-client-id"),
]


@pytest.mark.parametrize(("request_for", "statuses"), CLIENT_AUTH_ERRORS)
def test_client_authentication_errors(site, machine, request_for, statuses):
    response = post_token(site, **{"data": cc(), **request_for(machine)})
    assert response.status_code in statuses
    assert_oauth_error(response, "invalid_client", response.status_code)


def test_wrong_secret_for_code_exchange_keeps_the_code(site, rp, user):
    code, verifier, _ = code_for(site, rp, EMAIL)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier}
    assert_oauth_error(post_token(site, data, auth=(rp.client_id, "wrong")), "invalid_client", 401)
    assert_oauth_error(post_token(site, {**data, "client_id": rp.client_id}), "invalid_client", 401)
    assert exchange_code(site, rp, code, verifier).status_code == 200


def test_two_authentication_methods_are_refused(site, machine):
    data = cc(client_id=machine.client_id, client_secret=machine.client_secret)
    response = post_token(site, data, auth=(machine.client_id, machine.client_secret))
    assert_oauth_error(response, "invalid_request")


@pytest.mark.parametrize("secret", ["p@ss:w rd+%/é", "a+b", "100%", "colon:in:secret", "sp ace"])
def test_basic_credentials_are_form_urlencoded(site, make, secret):
    """RFC 6749 §2.3.1: client_id and secret are application/x-www-form-urlencoded inside Basic."""
    machine = make.machine()
    client_id = "app: 1+é/%"
    make.update(Client, {"client_id": machine.client_id}, client_id=client_id, client_secret_hash=digest(secret))
    response = post_token(site, cc(scope="api:read"), headers=basic(client_id, secret))
    assert response.status_code == 200, response.text
    post = post_token(site, cc(client_id=client_id, client_secret=secret))
    assert post.status_code == 200, post.text


# --- unauthorized_client and client_credentials scope ------------------------------------------------------

def test_client_not_registered_for_client_credentials(site, rp):
    assert_oauth_error(post_token(site, cc(), auth=(rp.client_id, rp.client_secret)), "unauthorized_client")


def test_public_client_cannot_use_client_credentials(site, make):
    public = make.client(public=True)
    assert_oauth_error(post_token(site, cc(client_id=public.client_id)), "unauthorized_client")


@pytest.mark.parametrize("grant_type", ["authorization_code", "refresh_token"])
def test_machine_cannot_use_user_grants(site, machine, grant_type):
    data = {"grant_type": grant_type, "code": "x", "refresh_token": "x", "redirect_uri": "x", "code_verifier": "x"}
    assert_oauth_error(post_token(site, data, auth=(machine.client_id, machine.client_secret)),
                       "unauthorized_client")


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (None, "api:read api:write"),  # RFC 6749 §3.3: the registered default
        ("", "api:read api:write"),
        ("api:read", "api:read"),
        ("api:write api:read", "api:write api:read"),
    ],
)
def test_client_credentials_scope(site, machine, scope, expected):
    data = cc() if scope is None else cc(scope=scope)
    response = post_token(site, data, auth=(machine.client_id, machine.client_secret))
    assert response.status_code == 200, response.text
    assert_no_store(response)
    body = response.json()
    assert body["scope"] == expected and "refresh_token" not in body


def test_client_credentials_default_scope_leaves_out_oidc_scopes(site, make):
    machine = make.machine(scope="openid api:read")
    response = post_token(site, cc(), auth=(machine.client_id, machine.client_secret))
    assert response.json()["scope"] == "api:read"


@pytest.mark.parametrize("scope", ["api:admin", "api:read api:admin", "openid", "api:read \"x\"", "é"])
def test_client_credentials_scope_not_allowed(site, machine, scope):
    response = post_token(site, cc(scope=scope), auth=(machine.client_id, machine.client_secret))
    assert_oauth_error(response, "invalid_scope")


# --- request shape ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["grant_type", "code", "code_verifier", "redirect_uri", "client_id",
                                  "client_secret", "scope", "refresh_token", "é"])
def test_duplicate_parameter_is_invalid_request(site, machine, name):
    data = [("grant_type", "client_credentials"), (name, "a"), (name, "a")]
    if name == "grant_type":
        data = data[:2]
    response = post_token(site, data, auth=(machine.client_id, machine.client_secret))
    assert_oauth_error(response, "invalid_request")


@pytest.mark.parametrize("query", [{"grant_type": "client_credentials"}, {"scope": "api:read"}, {"x": "1"}])
def test_parameters_in_the_query_string_are_refused(site, machine, query):
    """RFC 6749 §3.2: the token request is a POST with a form body."""
    response = post_token(site, cc(), auth=(machine.client_id, machine.client_secret), params=query)
    assert_oauth_error(response, "invalid_request")


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"json": {"grant_type": "client_credentials"}}, id="json-body"),
        pytest.param({"data": b"grant_type=client_credentials", "headers": {"Content-Type": "text/plain"}},
                     id="text-body"),
        pytest.param({"data": b"\xff\xfe=\xff&grant_type=\xff"}, id="not-utf8-body"),
        pytest.param({"data": b"grant_type=client_credentials&%%%=1"}, id="bad-percent"),
        pytest.param({"data": {"grant_type": "client_credentials", "x" * 200: "1"}}, id="long-name"),
        pytest.param({"data": {"grant_type": "client_credentials", "scope": "a" * 5000}}, id="long-value"),
    ],
)
def test_malformed_requests_get_json_errors(site, machine, kwargs):
    response = site.post("/oauth/token", auth=(machine.client_id, machine.client_secret), **kwargs)
    assert 400 <= response.status_code < 500, response.text
    assert_oauth_error(response, response.json()["error"], response.status_code)


@pytest.mark.parametrize(
    ("method", "kwargs", "status"),
    [("GET", {"params": {"grant_type": "client_credentials"}}, 405),
     ("POST", {"data": {"grant_type": "client_credentials", "scope": "a " * 40_000}}, 413)],
)
def test_wrong_method_or_huge_body_gets_json_error(site, method, kwargs, status):
    response = site.request(method, "/oauth/token", **kwargs)
    assert_oauth_error(response, "invalid_request", status)
