"""RFC 8707 resource indicators and the `roles` claim, over real HTTP."""

from __future__ import annotations

import jwt
import pytest

from app.oauth.signing import keyring
from tests.flows import (
    Browser,
    assert_oauth_error,
    authorization_params,
    client_credentials,
    exchange_code,
    pkce_pair,
    query_of,
    redirect_error,
    refresh,
    signed_in,
    tokens_for,
    userinfo,
)
from tests.site import Site

EMAIL = "rita@example.com"
API = "https://api.example.com"
OTHER_API = "https://other.example.com"
SCOPE = "openid offline_access api:read"


@pytest.fixture
def apis(make) -> None:
    make.resource(API, scope="api:read api:write")
    make.resource(OTHER_API, scope="other:read")


@pytest.fixture
def user(make):
    return make.user(EMAIL, roles=["billing", "support"])


@pytest.fixture
def rp(make, apis):
    return make.client(scope="openid profile email offline_access roles api:read api:write other:read",
                       resources=[API])


@pytest.fixture
def machine(make, apis):
    return make.machine(scope="api:read api:write other:read", resources=[API])


def claims_of(app, token: str) -> dict:
    """Signature-checked claims, audience left to the test."""
    with app.app_context():
        key = keyring().find(jwt.get_unverified_header(token)["kid"])
        public = jwt.PyJWK(key.as_dict(private=False)).key
    return jwt.decode(token, public, algorithms=["RS256"], options={"verify_aud": False})


def code_with(site: Site, rp, **extra: str) -> tuple[str, str]:
    browser = signed_in(site, EMAIL)
    verifier, challenge = pkce_pair()
    response = browser.authorize(authorization_params(rp, challenge, scope=SCOPE, **extra))
    assert response.status_code == 302, response.text
    return query_of(response.headers["Location"])["code"], verifier


# --- authorization code --------------------------------------------------------------------------------------

def test_the_resource_named_at_authorization_is_the_audience(site, app, rp, user):
    code, verifier = code_with(site, rp, resource=API)
    body = exchange_code(site, rp, code, verifier).json()
    assert claims_of(app, body["access_token"])["aud"] == API
    assert claims_of(app, body["id_token"])["aud"] == rp.client_id  # the ID token is still for the client

    refreshed = refresh(site, rp, body["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert claims_of(app, refreshed.json()["access_token"])["aud"] == API  # the family keeps its resource
    again = refresh(site, rp, refreshed.json()["refresh_token"], resource=API)
    assert claims_of(app, again.json()["access_token"])["aud"] == API


def test_the_resource_may_be_named_at_the_token_request(site, app, rp, user):
    code, verifier = code_with(site, rp)
    body = exchange_code(site, rp, code, verifier, resource=API).json()
    assert claims_of(app, body["access_token"])["aud"] == API


def test_without_resource_the_default_audience_applies(site, app, rp, user):
    body = tokens_for(site, rp, EMAIL)
    assert claims_of(app, body["access_token"])["aud"] == site.base_url


def test_a_token_request_cannot_switch_resources(site, rp, user):
    code, verifier = code_with(site, rp, resource=API)
    response = exchange_code(site, rp, code, verifier, resource=OTHER_API)
    assert_oauth_error(response, "invalid_target")
    # The code was not consumed by the refused request.
    assert exchange_code(site, rp, code, verifier).status_code == 200


def test_a_refresh_cannot_switch_resources(site, rp, user):
    code, verifier = code_with(site, rp, resource=API)
    body = exchange_code(site, rp, code, verifier).json()
    response = refresh(site, rp, body["refresh_token"], resource=OTHER_API)
    assert_oauth_error(response, "invalid_target")


@pytest.mark.parametrize(("resource", "scope", "error"), [
    (OTHER_API, SCOPE, "invalid_target"),  # registered, but not for this client
    ("https://unknown.example.com", SCOPE, "invalid_target"),
    ("not a uri", SCOPE, "invalid_target"),
    ("https://api.example.com/#frag", SCOPE, "invalid_target"),
    (API, "openid other:read", "invalid_scope"),  # a scope the resource does not define
])
def test_authorization_refusals_are_redirected(site, rp, user, resource, scope, error):
    browser = signed_in(site, EMAIL)
    params = authorization_params(rp, pkce_pair()[1], scope=scope, resource=resource)
    assert redirect_error(browser.authorize(params))["error"] == error


def test_a_repeated_resource_is_refused(site, rp, user):
    browser = Browser(site)
    assert browser.login(EMAIL).status_code == 302
    params = list(authorization_params(rp, pkce_pair()[1]).items()) + [("resource", API), ("resource", OTHER_API)]
    response = browser.session.get(f"{site.base_url}/oauth/authorize", params=params, allow_redirects=False)
    assert response.status_code == 400


# --- client credentials ----------------------------------------------------------------------------------------

def test_client_credentials_with_a_resource(site, app, machine):
    body = client_credentials(site, machine, resource=API).json()
    claims = claims_of(app, body["access_token"])
    assert (claims["aud"], claims["scope"]) == (API, "api:read api:write")  # defaults to the resource's scopes
    narrowed = client_credentials(site, machine, resource=API, scope="api:read").json()
    assert claims_of(app, narrowed["access_token"])["scope"] == "api:read"


@pytest.mark.parametrize(("extra", "error"), [
    ({"resource": OTHER_API}, "invalid_target"),
    ({"resource": "https://unknown.example.com"}, "invalid_target"),
    ({"resource": "relative/path"}, "invalid_target"),
    ({"resource": API, "scope": "other:read"}, "invalid_scope"),
])
def test_client_credentials_refusals(site, machine, extra, error):
    response = client_credentials(site, machine, **extra)
    assert_oauth_error(response, error)


def test_the_admin_api_is_a_resource_only_clients_allowed_to_use_it_get(site, make, machine):
    admin_api = f"{site.base_url}/admin/api"
    assert_oauth_error(client_credentials(site, machine, resource=admin_api), "invalid_target")


def test_a_deleted_resource_is_no_longer_allowed(site, app, machine):
    from app.services.resources import delete_resource, find_registered

    with app.app_context():
        delete_resource(find_registered(API), actor=None)
    assert_oauth_error(client_credentials(site, machine, resource=API), "invalid_target")


# --- roles --------------------------------------------------------------------------------------------------

def test_roles_claim_with_the_roles_scope(site, app, rp, user):
    body = tokens_for(site, rp, EMAIL, scope="openid roles")
    assert claims_of(app, body["access_token"])["roles"] == ["billing", "support"]
    assert claims_of(app, body["id_token"])["roles"] == ["billing", "support"]
    assert userinfo(site, body["access_token"]).json()["roles"] == ["billing", "support"]


def test_no_roles_claim_without_the_roles_scope(site, app, rp, user):
    body = tokens_for(site, rp, EMAIL, scope="openid profile")
    assert "roles" not in claims_of(app, body["access_token"])
    assert "roles" not in claims_of(app, body["id_token"])
    assert "roles" not in userinfo(site, body["access_token"]).json()


def test_discovery_advertises_the_roles_scope_and_claim(site):
    metadata = site.get("/.well-known/openid-configuration").json()
    assert "roles" in metadata["scopes_supported"] and "roles" in metadata["claims_supported"]
