"""The authorization endpoint (RFC 6749 §4.1, RFC 7636, RFC 9207, OpenID Connect Core §3.1.2) over real HTTP."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, AuthorizationCode, Consent, LoginSession
from tests.flows import (
    Browser,
    authorization_params,
    consent_form,
    is_consent_page,
    pkce_pair,
    query_of,
    redirect_error,
    signed_in,
    tokens_for,
)
from tests.site import Site

APP_URI = "https://app.example.com/cb"
EMAIL = "alice@example.com"
METHODS = ["GET", "POST"]
ERROR_CODE = re.compile(r'id="error-code">([a-z_]+)<')


@pytest.fixture
def user(make):
    return make.user(EMAIL)


@pytest.fixture
def rp(make):
    return make.client(redirect_uris=[APP_URI, "https://app.example.com/cb?tenant=a%2Bb"])


@pytest.fixture
def browser(site, user) -> Browser:
    return signed_in(site, EMAIL)


def params_for(rp, **changes: str | None) -> dict[str, str]:
    """A valid request with some parameters changed; None removes one."""
    params = authorization_params(rp, pkce_pair()[1])
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


def assert_error_page(response: requests.Response, error: str) -> None:
    assert response.status_code == 400, response.text[:300]
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")
    found = ERROR_CODE.search(response.text)
    assert found and found.group(1) == error


def assert_code(response: requests.Response, site: Site, redirect_uri: str, state: str) -> str:
    assert response.status_code == 302, response.text[:300]
    location = response.headers["Location"]
    assert location.startswith(redirect_uri.split("?")[0] + "?")
    query = query_of(location)
    assert query["state"] == state and query["iss"] == site.base_url and "error" not in query
    return query["code"]


def assert_redirected_error(response, site: Site, error: str, state: str | None) -> dict[str, str]:
    query = redirect_error(response)
    assert response.headers["Location"].startswith(APP_URI + "?")
    assert query["error"] == error, query
    assert query["iss"] == site.base_url  # RFC 9207 on errors too
    assert query.get("state") == state
    assert re.fullmatch(r"[\x20\x21\x23-\x5b\x5d-\x7e]*", query.get("error_description", ""))
    assert "code" not in query
    return query


# --- requests that cannot be redirected: the client or its redirect_uri is not verified ----------------

UNVERIFIABLE = [
    pytest.param({"client_id": "no-such-client"}, "invalid_client", id="unknown-client"),
    pytest.param({"client_id": None}, "invalid_client", id="missing-client"),
    pytest.param({"client_id": ""}, "invalid_client", id="empty-client"),
    pytest.param({"client_id": "x" * 300}, "invalid_client", id="huge-client"),
    pytest.param({"redirect_uri": None}, "invalid_request", id="missing-redirect"),
    pytest.param({"redirect_uri": ""}, "invalid_request", id="empty-redirect"),
    pytest.param({"redirect_uri": APP_URI + "/"}, "invalid_request", id="trailing-slash"),
    pytest.param({"redirect_uri": "https://APP.example.com/cb"}, "invalid_request", id="upper-case-host"),
    pytest.param({"redirect_uri": "https://app.example.com/CB"}, "invalid_request", id="upper-case-path"),
    pytest.param({"redirect_uri": "https://app.example.com:8443/cb"}, "invalid_request", id="other-port"),
    pytest.param({"redirect_uri": "https://app.example.com:443/cb"}, "invalid_request", id="explicit-port"),
    pytest.param({"redirect_uri": APP_URI + "?next=https://evil.example"}, "invalid_request", id="extra-query"),
    pytest.param({"redirect_uri": "https://app.example.com/cb?tenant=a+b"}, "invalid_request", id="query-reencoded"),
    pytest.param({"redirect_uri": "http://app.example.com/cb"}, "invalid_request", id="http-not-https"),
    pytest.param({"redirect_uri": APP_URI + "/evil"}, "invalid_request", id="appended-path"),
    pytest.param({"redirect_uri": APP_URI + "#x"}, "invalid_request", id="fragment"),
    pytest.param({"redirect_uri": "https://app.example.com.evil.example/cb"}, "invalid_request", id="suffix-host"),
    pytest.param({"redirect_uri": "https://evil.example@app.example.com/cb"}, "invalid_request", id="userinfo"),
    pytest.param({"redirect_uri": APP_URI + "/%C3%A9"}, "invalid_request", id="non-ascii"),
    pytest.param({"redirect_uri": APP_URI + 'é"\\'}, "invalid_request", id="non-ascii-quote"),
    # Without a verified redirect_uri even a bad response_type is shown, not redirected.
    pytest.param({"redirect_uri": APP_URI + "/", "response_type": "token"}, "unsupported_response_type",
                 id="bad-redirect-and-response-type"),
    pytest.param({"client_id": "nope", "response_type": "tökén\""}, "unsupported_response_type",
                 id="unknown-client-odd-response-type"),
    pytest.param({"redirect_uri": APP_URI + "/", "prompt": "select_account"}, "invalid_request",
                 id="bad-redirect-and-prompt"),
    pytest.param({"redirect_uri": APP_URI + "/", "response_mode": "fragment"}, "invalid_request",
                 id="bad-redirect-and-response-mode"),
]


# Validation comes before sign-in, so these run without a session; see also test_signed_in_browser_same_errors.
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("changes", "error"), UNVERIFIABLE)
def test_unverified_client_or_redirect_uri_gets_an_error_page(site, rp, method, changes, error):
    response = Browser(site).authorize(params_for(rp, **changes), method=method)
    assert_error_page(response, error)


# --- errors redirected to the verified redirect_uri, with state and iss -----------------------------------

REDIRECTED = [
    pytest.param({"response_type": "token"}, "unsupported_response_type", id="token"),
    pytest.param({"response_type": "id_token"}, "unsupported_response_type", id="id_token"),
    pytest.param({"response_type": "code id_token"}, "unsupported_response_type", id="hybrid"),
    pytest.param({"response_type": "tökén\"\\"}, "unsupported_response_type", id="non-ascii"),
    pytest.param({"response_type": None}, "invalid_request", id="missing-response-type"),
    pytest.param({"response_type": ""}, "invalid_request", id="empty-response-type"),
    # RFC 7636 and RFC 9700 §2.1.1: S256 PKCE for every client.
    pytest.param({"code_challenge": None}, "invalid_request", id="missing-challenge"),
    pytest.param({"code_challenge": None, "code_challenge_method": None}, "invalid_request", id="no-pkce"),
    pytest.param({"code_challenge_method": "plain"}, "invalid_request", id="plain"),
    pytest.param({"code_challenge_method": None}, "invalid_request", id="missing-method"),
    pytest.param({"code_challenge_method": "s256"}, "invalid_request", id="lower-case-method"),
    pytest.param({"code_challenge": "abc"}, "invalid_request", id="short-challenge"),
    pytest.param({"code_challenge": "a" * 42}, "invalid_request", id="42-chars"),
    pytest.param({"code_challenge": "a" * 44}, "invalid_request", id="44-chars"),
    pytest.param({"code_challenge": "a" * 42 + "="}, "invalid_request", id="padded"),
    pytest.param({"code_challenge": "a" * 42 + "+"}, "invalid_request", id="plus"),
    pytest.param({"code_challenge": "a" * 42 + "/"}, "invalid_request", id="slash"),
    pytest.param({"code_challenge": "a" * 42 + "é"}, "invalid_request", id="non-ascii-challenge"),
    pytest.param({"code_challenge": "a" * 200}, "invalid_request", id="long-challenge"),
    # RFC 6749 §3.3: scopes beyond the registration are refused, not silently dropped.
    pytest.param({"scope": "openid admin"}, "invalid_scope", id="unregistered-scope"),
    pytest.param({"scope": "openid prof\"ile"}, "invalid_scope", id="malformed-scope"),
    pytest.param({"scope": "openid é"}, "invalid_scope", id="non-ascii-scope"),
    # OpenID Connect Core §3.1.2.1 and §3.1.2.2.
    pytest.param({"prompt": "none login"}, "invalid_request", id="prompt-none-with-other"),
    pytest.param({"prompt": "none consent", "scope": "profile"}, "invalid_request", id="prompt-none-with-other-oauth"),
    pytest.param({"max_age": "-1"}, "invalid_request", id="negative-max-age"),
    pytest.param({"max_age": "abc"}, "invalid_request", id="text-max-age"),
    pytest.param({"max_age": "1.5"}, "invalid_request", id="fractional-max-age"),
    pytest.param({"max_age": "²"}, "invalid_request", id="unicode-digit-max-age"),
    pytest.param({"max_age": "٣"}, "invalid_request", id="arabic-digit-max-age"),
    pytest.param({"max_age": "9" * 30}, "invalid_request", id="huge-max-age"),
    # Initiating User Registration via OpenID Connect §4: a prompt value we do not list in
    # prompt_values_supported is invalid_request.
    pytest.param({"prompt": "select_account"}, "invalid_request", id="prompt-select-account"),
    pytest.param({"prompt": "none create"}, "invalid_request", id="prompt-none-with-create"),
    pytest.param({"prompt": "login bogus"}, "invalid_request", id="prompt-unknown-with-login"),
    pytest.param({"prompt": "consent select_account", "scope": "profile"}, "invalid_request", id="prompt-unknown-oauth"),
    pytest.param({"prompt": "LOGIN"}, "invalid_request", id="prompt-upper-case"),
    # OAuth 2.0 Multiple Response Type Encoding Practices §2: we deliver in the query only.
    pytest.param({"response_mode": "fragment"}, "invalid_request", id="response-mode-fragment"),
    pytest.param({"response_mode": "form_post"}, "invalid_request", id="response-mode-form-post"),
    pytest.param({"response_mode": "query.jwt"}, "invalid_request", id="response-mode-jarm"),
    pytest.param({"response_mode": "Query"}, "invalid_request", id="response-mode-upper-case"),
    pytest.param({"response_mode": "tökén"}, "invalid_request", id="response-mode-non-ascii"),
    # OpenID Connect Core §5.5: the claims parameter is a JSON object of JSON objects.
    pytest.param({"claims": "{"}, "invalid_request", id="claims-not-json"),
    pytest.param({"claims": "[]"}, "invalid_request", id="claims-array"),
    pytest.param({"claims": '"acr"'}, "invalid_request", id="claims-string"),
    pytest.param({"claims": "[" * 2000 + "]" * 2000}, "invalid_request", id="claims-nested-deep"),
    pytest.param({"claims": '{"id_token": []}'}, "invalid_request", id="claims-member-array"),
    pytest.param({"claims": '{"userinfo": "email"}'}, "invalid_request", id="claims-member-string"),
    pytest.param({"claims": '{"id_token": {"acr": "urn:ostiary:acr:mfa"}}'}, "invalid_request",
                 id="claims-acr-string"),
    pytest.param({"claims": '{"userinfo": {"email": {"essential": "yes"}}}'}, "invalid_request",
                 id="claims-essential-not-boolean"),
    pytest.param({"claims": '{"id_token": {"acr": {"values": "urn:ostiary:acr:mfa"}}}'}, "invalid_request",
                 id="claims-values-not-array"),
    pytest.param({"claims": '{"id_token": {"acr": {"essential": true, "values": [2]}}}'}, "invalid_request",
                 id="claims-acr-value-not-string"),
    pytest.param({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported", id="request-object"),
    pytest.param({"request_uri": "https://app.example.com/r/1"}, "request_uri_not_supported", id="request-uri"),
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("changes", "error"), REDIRECTED)
def test_invalid_request_redirects_error_with_state_and_iss(site, rp, method, changes, error):
    params = params_for(rp, redirect_uri=APP_URI, **changes)
    response = Browser(site).authorize(params, method=method)
    assert_redirected_error(response, site, error, params["state"])


def test_signed_in_browser_same_errors(site, rp, browser):
    assert_error_page(browser.authorize(params_for(rp, client_id="nope")), "invalid_client")
    assert_error_page(browser.authorize(params_for(rp, redirect_uri=APP_URI + "/")), "invalid_request")
    for changes, error in [({"response_type": "token"}, "unsupported_response_type"),
                           ({"code_challenge_method": "plain"}, "invalid_request"),
                           ({"scope": "openid admin"}, "invalid_scope"), ({"max_age": "x"}, "invalid_request")]:
        params = params_for(rp, redirect_uri=APP_URI, **changes)
        assert_redirected_error(browser.authorize(params), site, error, params["state"])


def test_unauthorized_client_for_response_type_code(site, make, browser):
    refresh_only = make.client(redirect_uris=[APP_URI], grant_types=["refresh_token"])
    params = params_for(refresh_only)
    assert_redirected_error(browser.authorize(params), site, "unauthorized_client", params["state"])


def test_error_redirect_without_state_has_no_state(site, rp, browser):
    response = browser.authorize(params_for(rp, redirect_uri=APP_URI, response_type="token", state=None))
    assert_redirected_error(response, site, "unsupported_response_type", None)


# --- duplicate parameters: RFC 6749 §3.1, never a redirect -----------------------------------------------

DUPLICATED = ["client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge",
              "code_challenge_method", "nonce", "prompt", "max_age", "login_hint"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", DUPLICATED)
def test_duplicate_parameter_is_refused(site, rp, browser, method, name):
    params = list(params_for(rp, prompt="consent", max_age="600", login_hint=EMAIL).items())
    params.append((name, dict(params)[name]))  # even an identical repeat is refused
    response = browser.authorize(params, method=method, decision=None)
    assert_error_page(response, "invalid_request")


@pytest.mark.parametrize("claims", [
    '{"userinfo": {"email": {"essential": true}, "given_name": null}, "id_token": {"auth_time": {"essential": true}}}',
    '{"id_token": {"acr": null}, "future_member": [1, 2]}',
    '{"id_token": {"acr": {"essential": true}}}',  # essential without values: every ID token carries an acr
    "",
])
def test_claim_requests_we_do_not_act_on_are_accepted_and_ignored(site, rp, browser, claims):
    """OpenID Connect Core §5.5: members and claims not understood are ignored; the scopes decide what is released."""
    params = params_for(rp, redirect_uri=APP_URI, claims=claims)
    assert_code(browser.authorize(params), site, APP_URI, params["state"])


def test_parameter_in_both_query_and_body_is_a_duplicate(site, rp, browser):
    params = params_for(rp)
    response = browser.session.post(
        f"{site.base_url}/oauth/authorize", params={"state": params["state"]}, data=params, allow_redirects=False
    )
    assert_error_page(response, "invalid_request")


# --- successful authorization -----------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_code_redirect_carries_state_and_iss(site, rp, browser, method):
    params = params_for(rp, redirect_uri=APP_URI)
    assert_code(browser.authorize(params, method=method), site, APP_URI, params["state"])


@pytest.mark.parametrize("mode", ["query", ""])
def test_response_mode_query_or_none_is_accepted(site, rp, browser, mode):
    params = params_for(rp, redirect_uri=APP_URI, response_mode=mode)
    assert_code(browser.authorize(params), site, APP_URI, params["state"])


def test_registered_query_of_redirect_uri_is_kept(site, rp, browser):
    """RFC 6749 §3.1.2: the redirect_uri's own query is retained when ours is added."""
    uri = "https://app.example.com/cb?tenant=a%2Bb"
    params = params_for(rp, redirect_uri=uri)
    response = browser.authorize(params)
    assert_code(response, site, uri, params["state"])
    assert query_of(response.headers["Location"])["tenant"] == "a+b"
    deny = redirect_error(browser.authorize(params_for(rp, redirect_uri=uri, prompt="consent"), decision="deny"))
    assert deny["tenant"] == "a+b" and deny["error"] == "access_denied"


STATES = ["xyz", "a b", "a&b=c", "100%", "%20%41", "1+1=2", "ünïcødé ✓ 𝄞", "#frag?q=1", "'\"<>", "x" * 2000]


@pytest.mark.parametrize("state", STATES)
def test_state_is_echoed_byte_for_byte(site, rp, browser, state):
    params = params_for(rp, redirect_uri=APP_URI, state=state)
    assert_code(browser.authorize(params), site, APP_URI, state)
    denied = browser.authorize(params_for(rp, redirect_uri=APP_URI, state=state, prompt="consent"), decision="deny")
    assert_redirected_error(denied, site, "access_denied", state)


def test_deny_redirects_access_denied(site, rp, browser):
    params = params_for(rp, redirect_uri=APP_URI)
    assert_redirected_error(browser.authorize(params, decision="deny"), site, "access_denied", params["state"])
    # A denial is not remembered as consent.
    assert is_consent_page(browser.authorize(params_for(rp), decision=None).text)


def test_relying_party_post_shows_consent_like_get(site, rp, browser):
    params = params_for(rp, redirect_uri=APP_URI)
    page = browser.authorize(params, method="POST", decision=None)
    assert page.status_code == 200 and is_consent_page(page.text)
    form = consent_form(page.text)
    assert {k: form[k] for k in params} == params  # every request parameter is carried to the decision


# --- consent -------------------------------------------------------------------------------------------------

def test_consent_is_remembered_per_scope(site, rp, browser):
    first = params_for(rp, scope="openid profile")
    assert_code(browser.authorize(first), site, rp.redirect_uri, first["state"])
    # Same or fewer scopes: no consent page.
    for scope in ("openid profile", "profile openid", "openid"):
        again = params_for(rp, scope=scope)
        assert_code(browser.authorize(again, decision=None), site, rp.redirect_uri, again["state"])
    # An extra scope asks again, and only then.
    wider = browser.authorize(params_for(rp, scope="openid profile email"), decision=None)
    assert wider.status_code == 200 and is_consent_page(wider.text) and 'data-scope="email"' in wider.text
    # prompt=consent always asks.
    forced = browser.authorize(params_for(rp, scope="openid", prompt="consent"), decision=None)
    assert forced.status_code == 200 and is_consent_page(forced.text)


def test_consent_is_per_user(site, make, rp, browser):
    params = params_for(rp)
    assert_code(browser.authorize(params), site, rp.redirect_uri, params["state"])
    make.user("bob@example.com")
    other = signed_in(site, "bob@example.com")
    assert is_consent_page(other.authorize(params_for(rp), decision=None).text)


API, OTHER_API, API_SCOPE = "https://api.example.com", "https://other.example.com", "openid api:read"


@pytest.fixture
def api_rp(make):
    """A client that may send its tokens to two resource servers (RFC 8707)."""
    make.resource(API, scope="api:read", name="Billing API")
    make.resource(OTHER_API, scope="api:read", name="Reports API")
    return make.client(redirect_uris=[APP_URI], scope=API_SCOPE, resources=[API, OTHER_API])


def test_a_remembered_consent_does_not_cover_a_new_resource(site, api_rp, browser):
    """The consent page names where the token will be sent; allowing one resource does not allow another."""
    first = params_for(api_rp, scope=API_SCOPE)
    assert_code(browser.authorize(first), site, APP_URI, first["state"])
    page = browser.authorize(params_for(api_rp, scope=API_SCOPE, resource=API), decision=None)
    assert is_consent_page(page.text) and "Billing API" in page.text and f"<code>{API}</code>" in page.text
    quiet = params_for(api_rp, scope=API_SCOPE, resource=API, prompt="none")
    assert_redirected_error(browser.authorize(quiet), site, "consent_required", quiet["state"])

    assert browser.authorize(params_for(api_rp, scope=API_SCOPE, resource=API)).status_code == 302  # Allow
    again = params_for(api_rp, scope=API_SCOPE, resource=API, prompt="none")
    assert_code(browser.authorize(again, decision=None), site, APP_URI, again["state"])
    other = browser.authorize(params_for(api_rp, scope=API_SCOPE, resource=OTHER_API), decision=None)
    assert is_consent_page(other.text) and "Reports API" in other.text and "Billing API" not in other.text
    without = params_for(api_rp, scope=API_SCOPE, prompt="none")
    assert_code(browser.authorize(without, decision=None), site, APP_URI, without["state"])


def test_a_consent_page_without_a_resource_names_none(site, api_rp, browser):
    page = browser.authorize(params_for(api_rp, scope=API_SCOPE), decision=None)
    assert is_consent_page(page.text) and 'id="resource"' not in page.text


@pytest.mark.parametrize("token", [None, "", "forged-token", "IjEyMyI.Zx0000.aaaaaaaaaaaaaaaaaaaaaaaaaaa"])
def test_consent_decision_without_valid_csrf_token_is_refused(site, rp, browser, token):
    page = browser.authorize(params_for(rp), decision=None)
    form = consent_form(page.text)
    form["decision"] = "allow"
    if token is None:
        del form["csrf_token"]
    else:
        form["csrf_token"] = token
    response = browser.session.post(f"{site.base_url}/oauth/authorize", data=form, allow_redirects=False)
    assert_error_page(response, "invalid_request")
    # Nothing was granted: the next request still asks.
    assert is_consent_page(browser.authorize(params_for(rp), decision=None).text)


def test_consent_decision_from_another_browser_is_refused(site, rp, browser, make):
    form = consent_form(browser.authorize(params_for(rp), decision=None).text)
    make.user("mallory@example.com")
    attacker = signed_in(site, "mallory@example.com")
    response = attacker.session.post(f"{site.base_url}/oauth/authorize", data={**form, "decision": "allow"},
                                     allow_redirects=False)
    assert_error_page(response, "invalid_request")


# --- prompt, max_age, login_hint (OpenID Connect Core §3.1.2.1) -------------------------------------------

@pytest.mark.parametrize("scope", ["openid profile", "profile"])
@pytest.mark.parametrize("method", METHODS)
def test_prompt_none_without_session_is_login_required(site, rp, scope, method):
    params = params_for(rp, redirect_uri=APP_URI, prompt="none", scope=scope)
    response = Browser(site).authorize(params, method=method)
    assert_redirected_error(response, site, "login_required", params["state"])


@pytest.mark.parametrize("scope", ["openid profile", "profile"])
def test_prompt_none_without_consent_is_consent_required(site, rp, browser, scope):
    params = params_for(rp, redirect_uri=APP_URI, prompt="none", scope=scope)
    assert_redirected_error(browser.authorize(params), site, "consent_required", params["state"])


def test_prompt_none_with_remembered_consent_returns_code(site, rp, browser):
    assert browser.authorize(params_for(rp)).status_code == 302
    params = params_for(rp, prompt="none")
    assert_code(browser.authorize(params, decision=None), site, rp.redirect_uri, params["state"])


def test_prompt_none_with_wider_scope_is_consent_required(site, rp, browser):
    assert browser.authorize(params_for(rp, scope="openid")).status_code == 302
    params = params_for(rp, redirect_uri=APP_URI, prompt="none", scope="openid email")
    assert_redirected_error(browser.authorize(params), site, "consent_required", params["state"])


def login_redirect(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text[:300]
    location = response.headers["Location"]
    assert urlsplit(location).path == "/login" and not urlsplit(location).netloc
    return query_of(location)


def sign_in_and_return(browser: Browser, login_query: dict[str, str]) -> requests.Response:
    """Sign in on the page we were sent to, then follow the redirect back to the authorization endpoint."""
    signed = browser.login(EMAIL, next_url=login_query["next"])
    assert signed.status_code == 302 and signed.headers["Location"].startswith("/oauth/authorize?")
    return browser.follow(signed)


@pytest.mark.parametrize("method", METHODS)
def test_prompt_login_with_session_asks_to_sign_in_once(site, rp, browser, method):
    assert browser.authorize(params_for(rp)).status_code == 302  # consent remembered
    params = params_for(rp, prompt="login")
    back = sign_in_and_return(browser, login_redirect(browser.authorize(params, method=method)))
    assert_code(back, site, rp.redirect_uri, params["state"])


def test_prompt_login_and_consent_keeps_consent(site, rp, browser):
    assert browser.authorize(params_for(rp)).status_code == 302
    params = params_for(rp, prompt="login consent")
    back = sign_in_and_return(browser, login_redirect(browser.authorize(params)))
    assert back.status_code == 200 and is_consent_page(back.text)


def test_max_age_zero_with_old_session_asks_to_sign_in(site, rp, browser, user, make, monkeypatch):
    assert browser.authorize(params_for(rp)).status_code == 302
    make.update(LoginSession, {"user_id": user.id}, auth_time=int(time.time()) - 3600)
    params = params_for(rp, max_age="0")
    query = login_redirect(browser.authorize(params))
    # The way back must not loop even when signing in took a few seconds.
    real_now = time.time
    monkeypatch.setattr("app.web.oauth.now", lambda: int(real_now()) + 5)
    assert_code(sign_in_and_return(browser, query), site, rp.redirect_uri, params["state"])


@pytest.mark.parametrize("prompt", [None, "consent"])
def test_max_age_zero_is_prompt_login_even_for_a_session_started_this_second(
    site, rp, browser, user, make, monkeypatch, prompt
):
    """OpenID Connect Core §3.1.2.1: max_age=0 is equivalent to prompt=login."""
    assert browser.authorize(params_for(rp)).status_code == 302
    signed_in_at = int(time.time())
    make.update(LoginSession, {"user_id": user.id}, auth_time=signed_in_at)
    monkeypatch.setattr("app.web.oauth.now", lambda: signed_in_at)  # no second has passed
    query = login_redirect(browser.authorize(params_for(rp, max_age="0", prompt=prompt), decision=None))
    back = query_of(query["next"])
    assert "max_age" not in back and back.get("prompt") == prompt  # asked once, then on to consent if asked
    params = params_for(rp, redirect_uri=APP_URI, max_age="0", prompt="none")
    assert_redirected_error(browser.authorize(params), site, "login_required", params["state"])


@pytest.mark.parametrize(("age", "max_age", "asks"), [(3600, "60", True), (10, "60", False), (10, "", False)])
def test_max_age_against_session_auth_time(site, rp, browser, user, make, age, max_age, asks):
    assert browser.authorize(params_for(rp)).status_code == 302
    make.update(LoginSession, {"user_id": user.id}, auth_time=int(time.time()) - age)
    params = params_for(rp, max_age=max_age)
    response = browser.authorize(params, decision=None)
    if asks:
        login_redirect(response)
    else:
        assert_code(response, site, rp.redirect_uri, params["state"])


def test_max_age_with_prompt_none_and_old_session_is_login_required(site, rp, browser, user, make):
    assert browser.authorize(params_for(rp)).status_code == 302
    make.update(LoginSession, {"user_id": user.id}, auth_time=int(time.time()) - 3600)
    params = params_for(rp, redirect_uri=APP_URI, max_age="60", prompt="none")
    assert_redirected_error(browser.authorize(params), site, "login_required", params["state"])


# --- id_token_hint (OpenID Connect Core §3.1.2.1) -------------------------------------------------------------

@pytest.fixture
def alice_id_token(site, rp, user) -> str:
    return tokens_for(site, rp, EMAIL)["id_token"]


@pytest.fixture
def bob_id_token(site, rp, make) -> str:
    make.user("bob@example.com")
    return tokens_for(site, rp, "bob@example.com")["id_token"]


def expired(make, id_token: str) -> str:
    """The same ID token, its lifetime over: OpenID Connect still accepts it as a hint."""
    claims = jwt.decode(id_token, options={"verify_signature": False})
    return make.jwt({**claims, "iat": claims["iat"] - 7200, "exp": int(time.time()) - 3600}, typ=None)


@pytest.mark.parametrize("age", ["fresh", "expired"])
def test_a_hint_naming_the_signed_in_user_is_honoured(site, rp, browser, make, alice_id_token, age):
    hint = alice_id_token if age == "fresh" else expired(make, alice_id_token)
    params = params_for(rp, redirect_uri=APP_URI, prompt="none", id_token_hint=hint)
    assert_code(browser.authorize(params), site, APP_URI, params["state"])


def test_a_hint_naming_someone_else_with_prompt_none_is_login_required(site, rp, browser, bob_id_token):
    assert browser.authorize(params_for(rp)).status_code == 302  # Alice's consent is remembered
    params = params_for(rp, redirect_uri=APP_URI, prompt="none", id_token_hint=bob_id_token)
    assert_redirected_error(browser.authorize(params), site, "login_required", params["state"])


def test_a_hint_naming_someone_else_asks_for_a_fresh_sign_in_as_that_person(site, rp, browser, bob_id_token):
    assert browser.authorize(params_for(rp)).status_code == 302
    params = params_for(rp, redirect_uri=APP_URI, id_token_hint=bob_id_token)
    query = login_redirect(browser.authorize(params))
    page = browser.session.get(f"{site.base_url}/login", params=query)
    assert "asked you to sign in with a particular account" in page.text

    # Signing in as Alice again does not answer for Bob: back to the sign-in page.
    assert login_redirect(sign_in_and_return(browser, query))
    signed = browser.login("bob@example.com", next_url=query["next"])
    back = browser.follow(signed)
    assert_code(browser.authorize(params) if is_consent_page(back.text) else back, site, APP_URI,
                params["state"])


def test_a_hint_for_another_client_is_invalid(site, make, rp, browser, user):
    other = make.client()
    hint = tokens_for(site, other, EMAIL)["id_token"]
    params = params_for(rp, redirect_uri=APP_URI, id_token_hint=hint)
    assert_redirected_error(browser.authorize(params), site, "invalid_request", params["state"])


@pytest.mark.parametrize("kind", ["garbage", "another issuer", "an access token", "unsigned"])
def test_an_invalid_hint_is_invalid_request(site, rp, browser, make, alice_id_token, kind):
    claims = jwt.decode(alice_id_token, options={"verify_signature": False})
    hint = {
        "garbage": "not-a-jwt",
        "another issuer": make.jwt({**claims, "iss": "https://evil.example"}, typ=None),
        "an access token": make.jwt({**claims, "client_id": claims["aud"], "jti": "j"}),
        "unsigned": jwt.encode(claims, None, algorithm="none"),
    }[kind]
    params = params_for(rp, redirect_uri=APP_URI, id_token_hint=hint)
    assert_redirected_error(browser.authorize(params), site, "invalid_request", params["state"])
    anonymous = Browser(site).authorize(params)  # checked before anything else happens
    assert_redirected_error(anonymous, site, "invalid_request", params["state"])
    assert_error_page(browser.authorize(params_for(rp, redirect_uri=APP_URI + "/", id_token_hint=hint)),
                      "invalid_request")


def test_anonymous_browser_is_sent_to_login_and_back(site, rp, user):
    browser = Browser(site)
    params = params_for(rp)
    back = sign_in_and_return(browser, login_redirect(browser.authorize(params)))
    assert back.status_code == 200 and is_consent_page(back.text)


def stored_counts(app) -> dict[str, int]:
    with app.app_context():
        return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
                for model in (AuthorizationCode, Consent, AuditEvent)}


@pytest.mark.parametrize("prompt", [None, "none", "consent"])
def test_head_creates_nothing(site, app, rp, browser, user, make, prompt):
    """RFC 9110 §9.2.1: HEAD is safe. A link preview or a prefetch must not get a code, store a consent or
    touch the session, even where a GET would answer with a code at once."""
    assert browser.authorize(params_for(rp)).status_code == 302  # consent remembered
    idle_since = int(time.time()) - 600  # a request now would refresh last_seen_at
    make.update(LoginSession, {"user_id": user.id}, last_seen_at=idle_since)
    before = stored_counts(app)

    params = params_for(rp, redirect_uri=APP_URI, prompt=prompt)
    response = browser.session.head(f"{site.base_url}/oauth/authorize", params=params, allow_redirects=False)

    assert response.status_code in (200, 302) and "code" not in query_of(response.headers.get("Location", ""))
    assert stored_counts(app) == before
    with app.app_context():
        assert db.session.scalar(select(LoginSession.last_seen_at)) == idle_since
    assert_code(browser.authorize(params_for(rp, redirect_uri=APP_URI, state="s")), site, APP_URI, "s")


def test_login_hint_is_prefilled(site, rp):
    browser = Browser(site)
    hint = 'bob+"x"@example.com'
    query = login_redirect(browser.authorize(params_for(rp, login_hint=hint)))
    assert query["login_hint"] == hint
    page = browser.session.get(f"{site.base_url}/login", params=query)
    assert 'value="bob+&#34;x&#34;@example.com"' in page.text
