"""Point 5: every form is CSRF-protected; consent and sign-out cannot be triggered by another site."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from app.models import AuthorizationCode, Consent
from tests.flows import authorization_params, consent_form, csrf_token, is_consent_page, pkce_pair, sign_in

# State-changing routes without Flask-WTF's check, and why each is safe.
EXEMPT = {
    "oauth.token": "client authentication, never cookies",
    "oauth.revoke": "client authentication, never cookies",
    "oauth.introspect": "client authentication, never cookies",
    "oidc.userinfo": "a Bearer token, never cookies",
    "registration.register": "a JSON body and, by policy, an initial access token; never cookies",
    "registration.configure": "the registration access token, never cookies",
    "oauth.authorize": "the consent decision checks the CSRF token itself (tested below)",
    "oidc.end_session": "the confirmation checks the CSRF token itself (tested below)",
}
CSRF_REFUSED = "or was sent from another site, so it was not accepted"  # the form-expired page (app/web/error_pages.py)


def state_changing_routes(app: Flask) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            path = re.sub(r"<int:\w+>", "1", rule.rule)
            routes.append((rule.endpoint, method, re.sub(r"<(?:\w+:)?\w+>", "0123456789abcdef", path)))
    return routes


@pytest.fixture
def browser(app, make):
    make.user("forms@example.com", roles=["admin"])
    client = app.test_client()
    assert sign_in(client, "forms@example.com").status_code == 302
    return client


def test_every_state_changing_route_refuses_a_request_without_the_csrf_token(app, browser):
    checked = []
    for endpoint, method, path in state_changing_routes(app):
        if endpoint in EXEMPT or endpoint.startswith("admin_api."):
            continue
        response = browser.open(path, method=method, data={"decision": "allow", "confirm": "yes"})
        assert response.status_code == 400, (endpoint, response.status_code)
        assert CSRF_REFUSED in response.get_data(as_text=True), endpoint
        checked.append(endpoint)
    assert {"pages.login", "pages.logout", "account.update_profile", "account.change_password",
            "account.create_key"} <= set(checked)


def test_exempt_routes_take_no_authority_from_the_browser_session(app, browser, monkeypatch):
    """A signed-in browser's cookies are worth nothing to the exempt machine endpoints and the admin API."""
    monkeypatch.setitem(app.config, "REGISTRATION", "open")  # else /oauth/register is a 404
    for endpoint, method, path in state_changing_routes(app):
        machine_only = endpoint in EXEMPT and endpoint not in {"oauth.authorize", "oidc.end_session"}
        if not (machine_only or endpoint.startswith("admin_api.")):
            continue
        response = browser.open(path, method=method, data={"token": "x", "grant_type": "client_credentials"})
        assert response.status_code in (400, 401), (endpoint, response.status_code)


def consent_page(browser, registered) -> tuple[dict[str, str], str]:
    _, challenge = pkce_pair()
    page = browser.get("/oauth/authorize", query_string=authorization_params(registered, challenge))
    assert is_consent_page(page.get_data(as_text=True))
    return consent_form(page.get_data(as_text=True)), page.get_data(as_text=True)


@pytest.mark.parametrize("forged", [None, "", "not-a-token", "attackers-own"])
def test_consent_cannot_be_granted_by_a_cross_site_request(app, make, browser, forged):
    registered = make.client()
    form, _ = consent_page(browser, registered)
    if forged == "attackers-own":
        make.user("attacker@example.com")
        attacker = app.test_client()
        sign_in(attacker, "attacker@example.com")
        forged = csrf_token(attacker.get("/login").get_data(as_text=True))
    form.pop("csrf_token")
    if forged is not None:
        form["csrf_token"] = forged

    response = browser.post("/oauth/authorize", data={**form, "decision": "allow"})

    assert response.status_code == 400 and CSRF_REFUSED in response.get_data(as_text=True)
    assert "code=" not in response.headers.get("Location", "")
    with app.app_context():
        assert make.model(Consent, client_id=registered.client_id) is None
        assert make.model(AuthorizationCode, client_id=registered.client_id) is None


def test_consent_with_the_pages_own_token_is_granted(app, make, browser):
    registered = make.client()
    form, _ = consent_page(browser, registered)
    response = browser.post("/oauth/authorize", data={**form, "decision": "allow"})
    assert response.status_code == 302 and "code=" in response.headers["Location"]


@pytest.mark.parametrize("path", ["/logout", "/oauth/logout"])
def test_sign_out_cannot_be_forced_by_a_cross_site_request(browser, path):
    response = browser.post(path, data={"confirm": "yes"})
    assert response.status_code == 400 and CSRF_REFUSED in response.get_data(as_text=True)
    assert browser.get("/account").status_code == 200  # still signed in
