"""Federated sign-in against a real upstream Ostiary: just-in-time accounts, what relying parties see."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import select

from app.extensions import db
from app.models import FederatedIdentity, LoginSession, User
from tests.flows import authorization_params, pkce_pair, query_of
from tests.mfa.conftest import enrol_totp, hidden


def test_a_first_sign_in_creates_an_account_just_in_time(app, browser, provider):
    response = browser.sign_in()
    assert response.status_code == 302 and response.headers["Location"] == "/account", response.text[:500]
    page = browser.session.get(browser.base_url + "/account")
    assert "alice@upstream.example" in page.text
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "alice@upstream.example"))
        assert user is not None and user.email_verified and user.password_hash is None
        identity = db.session.scalar(select(FederatedIdentity))
        assert identity.user_id == user.id and identity.provider.name == "upstream"
    # Again: the same account, found by (provider, sub), not by email.
    again = browser.__class__(browser.base_url, browser.upstream).sign_in()
    assert again.status_code == 302
    with app.app_context():
        assert db.session.query(User).count() == 1 and db.session.query(FederatedIdentity).count() == 1


def test_an_account_with_a_second_factor_is_asked_for_it_after_the_upstream(app, browser, provider):
    assert browser.sign_in().status_code == 302  # the account, just in time
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == "alice@upstream.example"))
        enrolled = enrol_totp(db.session.get(User, user_id))
    again = browser.__class__(browser.base_url, browser.upstream)
    response = again.sign_in()
    assert response.status_code == 302 and response.headers["Location"].startswith("/login/second-factor")
    assert again.session.get(again.base_url + "/account", allow_redirects=False).status_code == 302  # no session yet
    page = again.session.get(again.base_url + response.headers["Location"])
    done = again.session.post(again.base_url + "/login/second-factor", allow_redirects=False, data={
        "csrf_token": hidden(page.text, "csrf_token"), "method": "totp", "code": enrolled.totp().now(),
        "next": "/account"})
    assert done.status_code == 302 and done.headers["Location"] == "/account"
    with app.app_context():
        latest = db.session.scalar(select(LoginSession).where(LoginSession.user_id == user_id)
                                   .order_by(LoginSession.id.desc()))
        assert set(latest.amr.split()) == {"fed", "otp", "mfa"} and latest.idp == "upstream"


def test_the_upstream_request_carries_pkce_state_nonce_and_the_providers_own_redirect_uri(app, make, browser,
                                                                                          provider):
    """RFC 6749 §4.1.1 with RFC 7636 S256 and a nonce; idp_hint sends the person past our sign-in page, and
    login_hint goes on to the upstream, whose sign-in page fills it in."""
    client = make.client()
    params = authorization_params(client, pkce_pair()[1], idp_hint="upstream", login_hint="alice@upstream.example")
    departure = browser.to_upstream(f"/oauth/authorize?{urlencode(params)}")
    assert departure.status_code == 302 and departure.headers["Location"].startswith(f"{browser.upstream.url}/oauth/")
    sent = query_of(departure.headers["Location"])
    assert {key: sent[key] for key in ("response_type", "client_id", "redirect_uri", "code_challenge_method",
                                       "login_hint")} == {
        "response_type": "code", "client_id": browser.upstream.client_id, "redirect_uri": provider["redirect_uri"],
        "code_challenge_method": "S256", "login_hint": "alice@upstream.example"}
    assert provider["redirect_uri"] == f"{browser.base_url}/federation/upstream/callback"
    assert "openid" in sent["scope"].split() and len(sent["code_challenge"]) == 43
    assert len(sent["state"]) >= 32 and len(sent["nonce"]) >= 16
    # The upstream's own sign-in page, the login filled in.
    upstream_login = browser.session.get(departure.headers["Location"])
    assert 'value="alice@upstream.example"' in upstream_login.text
    # Every departure is new: no state, nonce or PKCE challenge is ever sent twice.
    again = query_of(browser.to_upstream("/federation/upstream/start").headers["Location"])
    assert all(again[key] != sent[key] for key in ("state", "nonce", "code_challenge"))
    assert "login_hint" not in again


def test_an_oauth2_request_has_no_nonce_and_an_unknown_idp_hint_shows_our_sign_in_page(make, browser,
                                                                                       add_oauth2_provider):
    add_oauth2_provider()
    sent = query_of(browser.to_upstream("/federation/plain/start").headers["Location"])
    assert "nonce" not in sent and sent["code_challenge_method"] == "S256"
    assert sent["redirect_uri"] == f"{browser.base_url}/federation/plain/callback"
    params = authorization_params(make.client(), pkce_pair()[1], idp_hint="nobody")
    page = browser.to_upstream(f"/oauth/authorize?{urlencode(params)}")
    assert page.status_code == 200 and 'id="continue-with-plain"' in page.text


def test_a_button_for_each_enabled_provider_on_the_sign_in_and_sign_up_pages(app, client, add_provider, monkeypatch):
    add_provider()
    add_provider("other", display_name="Other")
    add_provider("off", display_name="Off", enabled=False)
    monkeypatch.setitem(app.config, "SIGNUP", "open")
    for path in ("/login", "/signup"):
        page = client.get(path).text
        assert 'id="continue-with-upstream"' in page and 'id="continue-with-other"' in page, path
        assert "continue-with-off" not in page and "Continue with Off" not in page, path
