"""The account page over HTTP: sign-in required, CSRF on every form, profile, password, sessions, API keys."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest
import requests

from app.extensions import db
from app.models import ApiKey, AuditEvent, Client, LoginSession
from tests.factories import DEFAULT_PASSWORD, RegisteredClient
from tests.flows import (
    Browser,
    assert_oauth_error,
    authorization_params,
    client_credentials,
    csrf_token,
    exchange_code,
    introspect,
    pkce_pair,
    query_of,
    refresh,
    signed_in,
)

EMAIL = "acct@example.com"
NEW_PASSWORD = "a brand new passphrase"
KEY = re.compile(r'<code id="new-key" class="secret">(ost_[^<]+)</code>')


@pytest.fixture
def user(make):
    return make.user(EMAIL, name="Acct", scope="api:read api:write")


@pytest.fixture
def browser(site, user) -> Browser:
    return signed_in(site, EMAIL)


def form_post(browser: Browser, page: str, action: str, data: dict | list) -> requests.Response:
    token = csrf_token(browser.session.get(f"{browser.base_url}{page}").text)
    items = list(data.items()) if isinstance(data, dict) else list(data)
    return browser.session.post(f"{browser.base_url}{action}", data=[*items, ("csrf_token", token)],
                                allow_redirects=False)


@pytest.mark.parametrize("path", ["/account", "/account/sessions", "/account/api-keys"])
def test_signed_out_browsers_are_sent_to_sign_in(site, path):
    response = site.get(f"{path}", allow_redirects=False)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert query_of(response.headers["Location"]) == {"next": path}


@pytest.mark.parametrize("action", ["/account/profile", "/account/password", "/account/sessions/end-others",
                                    "/account/api-keys", "/account/api-keys/0123456789abcdef/revoke"])
def test_every_form_needs_its_csrf_token(browser, action):
    response = browser.session.post(f"{browser.base_url}{action}", data={"name": "x"}, allow_redirects=False)
    assert response.status_code == 400 and "form expired" in response.text


def test_pages_are_not_cached_and_have_no_script(browser):
    for path in ("/account", "/account/sessions", "/account/api-keys"):
        response = browser.session.get(f"{browser.base_url}{path}")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert "<script" not in response.text and "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_profile(browser):
    response = form_post(browser, "/account", "/account/profile", {"name": "Acct Renamed"})
    assert response.status_code == 302
    page = browser.session.get(f"{browser.base_url}/account").text
    assert 'value="Acct Renamed"' in page and "Your profile was saved." in page
    assert form_post(browser, "/account", "/account/profile", {"name": "bad\x01name"}).status_code == 400


def test_changing_the_password_needs_the_current_one_and_signs_out_other_sessions(site, browser):
    other = signed_in(site, EMAIL)
    wrong = form_post(browser, "/account", "/account/password", {
        "current_password": "not it", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert wrong.status_code == 400 and "current password is not correct" in wrong.text
    mismatch = form_post(browser, "/account", "/account/password", {
        "current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": "other"})
    assert mismatch.status_code == 400 and "do not match" in mismatch.text
    short = form_post(browser, "/account", "/account/password", {
        "current_password": DEFAULT_PASSWORD, "new_password": "short", "confirm_password": "short"})
    assert short.status_code == 400 and "at least 8" in short.text

    changed = form_post(browser, "/account", "/account/password", {
        "current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert changed.status_code == 302
    assert browser.session.get(f"{site.base_url}/account", allow_redirects=False).status_code == 200  # this one stays
    assert other.session.get(f"{site.base_url}/account", allow_redirects=False).status_code == 302  # the other ended
    assert Browser(site).login(EMAIL, DEFAULT_PASSWORD).status_code == 401
    assert Browser(site).login(EMAIL, NEW_PASSWORD).status_code == 302


def test_sessions_list_and_sign_out(site, browser):
    other = Browser(site)
    other.session.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    assert other.login(EMAIL).status_code == 302
    page = browser.session.get(f"{site.base_url}/account/sessions").text
    assert page.count("<li data-session=") == 2
    assert "Firefox on Linux" in page and "This browser" in page and "127.0.0.1" in page
    other_id = re.findall(r'action="/account/sessions/(\d+)/end"', page)
    assert len(other_id) == 1

    assert form_post(browser, "/account/sessions", f"/account/sessions/{other_id[0]}/end", {}).status_code == 302
    assert other.session.get(f"{site.base_url}/account", allow_redirects=False).status_code == 302  # next request
    assert browser.session.get(f"{site.base_url}/account", allow_redirects=False).status_code == 200


def test_sign_out_of_all_other_sessions(site, browser):
    others = [signed_in(site, EMAIL) for _ in range(2)]
    response = form_post(browser, "/account/sessions", "/account/sessions/end-others", {})
    assert response.status_code == 302
    assert "2 other sessions signed out." in browser.session.get(f"{site.base_url}/account/sessions").text
    assert all(o.session.get(f"{site.base_url}/account", allow_redirects=False).status_code == 302 for o in others)


def test_a_session_of_someone_else_cannot_be_ended(site, app, make, browser):
    victim_user = make.user("else@example.com")
    victim = signed_in(site, "else@example.com")
    with app.app_context():
        victim_session = db.session.query(LoginSession.id).filter_by(user_id=victim_user.id).scalar()
    form_post(browser, "/account", f"/account/sessions/{victim_session}/end", {})
    assert victim.session.get(f"{site.base_url}/account", allow_redirects=False).status_code == 200


def test_api_keys(site, app, browser, user):
    response = form_post(browser, "/account/api-keys", "/account/api-keys",
                         [("name", "laptop"), ("scope", "api:read"), ("expires_in_days", "30")])
    assert response.status_code == 200
    key = KEY.search(response.text).group(1)
    key_id = key.split("_")[1]
    assert "will not be shown again" in response.text
    listed = browser.session.get(f"{site.base_url}/account/api-keys").text
    assert key not in listed and f"ost_{key_id}_…" in listed and "laptop" in listed and "api:read" in listed

    body = client_credentials(site, RegisteredClient(key_id, key, "")).json()
    assert body["scope"] == "api:read"

    assert form_post(browser, "/account/api-keys", f"/account/api-keys/{key_id}/revoke", {}).status_code == 302
    assert "Revoked" in browser.session.get(f"{site.base_url}/account/api-keys").text
    assert_oauth_error(client_credentials(site, RegisteredClient(key_id, key, "")), "invalid_client", 401)
    with app.app_context():
        events = db.session.query(AuditEvent).filter(AuditEvent.client_id == key_id,
                                                     AuditEvent.event.like("api_key.%")).order_by(AuditEvent.id)
        assert [(e.event, e.details["actor"]) for e in events] == [("api_key.created", user.sub),
                                                                  ("api_key.revoked", user.sub)]


@pytest.mark.parametrize(("data", "message"), [
    ([("name", ""), ("expires_in_days", "0")], "name must be"),
    ([("name", "x"), ("scope", "api:admin"), ("expires_in_days", "0")], "may not hold scope"),
    ([("name", "x"), ("expires_in_days", "7")], "offered expiry"),
])
def test_api_key_refusals(browser, data, message):
    response = form_post(browser, "/account/api-keys", "/account/api-keys", data)
    assert response.status_code == 400 and message in response.text


def test_the_keys_of_someone_else_cannot_be_revoked(site, app, make, browser):
    someone = make.user("other@example.com", scope="api:read")
    theirs = make.api_key(someone, scope="api:read")
    form_post(browser, "/account/api-keys", f"/account/api-keys/{theirs.client_id}/revoke", {})
    with app.app_context():
        assert db.session.query(ApiKey).filter_by(key_id=theirs.client_id).one().revoked_at is None


KEY_FORM = [("name", "laptop"), ("scope", "api:read"), ("expires_in_days", "30")]


def test_creating_a_key_needs_a_recent_sign_in(site, app, make, browser, user):
    """OpenID Connect auth_time older than OSTIARY_REAUTHENTICATE_SECONDS: the password is asked again."""
    assert 'name="password"' not in browser.session.get(f"{site.base_url}/account/api-keys").text
    make.update(LoginSession, {"user_id": user.id}, auth_time=int(time.time()) - app.config["REAUTHENTICATE_SECONDS"])
    page = browser.session.get(f"{site.base_url}/account/api-keys").text
    assert 'name="password"' in page and "enter your password" in page

    for password, message in [([], "enter your password"), ([("password", "not it")], "password is not correct")]:
        refused = form_post(browser, "/account/api-keys", "/account/api-keys", KEY_FORM + password)
        assert refused.status_code == 400 and message in refused.text and not KEY.search(refused.text)
    created = form_post(browser, "/account/api-keys", "/account/api-keys", KEY_FORM + [("password", DEFAULT_PASSWORD)])
    assert created.status_code == 200 and KEY.search(created.text)
    # The password proved the person again: auth_time is now, and the next key needs no password for a while.
    assert 'name="password"' not in browser.session.get(f"{site.base_url}/account/api-keys").text
    again = form_post(browser, "/account/api-keys", "/account/api-keys", [("name", "second"), ("expires_in_days", "0")])
    assert again.status_code == 200 and KEY.search(again.text)
    with app.app_context():
        assert db.session.query(ApiKey).count() == 2
        failures = db.session.query(AuditEvent).filter_by(event="reauthentication").all()
        assert [(e.outcome, e.details) for e in failures] == [("failure", {"purpose": "api_key.create"})]


def tokens_in(browser: Browser, rp: RegisteredClient) -> dict:
    """The code flow in this browser's session: the token response."""
    verifier, challenge = pkce_pair()
    response = browser.authorize(authorization_params(rp, challenge))
    code = query_of(response.headers["Location"])["code"]
    return exchange_code(browser.site, rp, code, verifier).json()


def session_ids(browser: Browser) -> list[str]:
    return re.findall(r'action="/account/sessions/(\d+)/end"', browser.session.get(f"{browser.base_url}/account/sessions").text)


@pytest.mark.parametrize("disconnect", [True, False])
def test_signing_out_a_session_can_disconnect_the_apps_signed_in_from_it(site, make, browser, disconnect):
    rp = make.client()
    other_rp = make.client()
    make.update(Client, {"client_id": other_rp.client_id}, name="Other App")
    laptop = signed_in(site, EMAIL)
    theirs = refresh(site, rp, tokens_in(laptop, rp)["refresh_token"]).json()  # rotated: still that session's
    verifier, challenge = pkce_pair()
    pending = query_of(laptop.authorize(authorization_params(other_rp, challenge)).headers["Location"])["code"]
    mine = tokens_in(browser, rp)

    page = browser.session.get(f"{site.base_url}/account/sessions").text
    assert page.count("<dd>Test App</dd>") == 2  # both sessions; a code not yet redeemed connects nothing yet
    [laptop_session] = session_ids(browser)
    form = {"disconnect_apps": "1"} if disconnect else {}
    assert form_post(browser, "/account/sessions", f"/account/sessions/{laptop_session}/end", form).status_code == 302
    assert laptop.session.get(f"{site.base_url}/account", allow_redirects=False).status_code == 302

    expected = "its apps were disconnected" if disconnect else "That session was signed out."
    assert expected in browser.session.get(f"{site.base_url}/account/sessions").text
    assert (refresh(site, rp, theirs["refresh_token"]).status_code == 400) is disconnect
    assert introspect(site, rp, theirs["access_token"])["active"] is not disconnect
    assert (exchange_code(site, other_rp, pending, verifier).status_code == 400) is disconnect
    # This browser's apps are untouched either way.
    assert refresh(site, rp, mine["refresh_token"]).status_code == 200


def test_signing_out_all_other_sessions_can_disconnect_their_apps(site, make, browser):
    rp = make.client()
    others = [signed_in(site, EMAIL) for _ in range(2)]
    theirs = [tokens_in(other, rp) for other in others]
    mine = tokens_in(browser, rp)
    response = form_post(browser, "/account/sessions", "/account/sessions/end-others", {"disconnect_apps": "1"})
    assert response.status_code == 302
    assert "2 other sessions signed out, and their apps disconnected." in browser.session.get(
        f"{site.base_url}/account/sessions").text
    assert all(refresh(site, rp, t["refresh_token"]).status_code == 400 for t in theirs)
    assert refresh(site, rp, mine["refresh_token"]).status_code == 200


@pytest.mark.parametrize("whose", ["mine, still working", "someone else's, revoked", "no such key"])
def test_only_ones_own_dead_keys_can_be_deleted(browser, make, user, whose):
    if whose == "mine, still working":
        key_id = make.api_key(user, name="working").client_id
    elif whose == "someone else's, revoked":
        other = make.user("other@example.com")
        key_id = make.api_key(other, name="theirs").client_id
        make.update(ApiKey, {"key_id": key_id}, revoked_at=int(time.time()))
    else:
        key_id = "0123456789abcdef"
    response = form_post(browser, "/account/api-keys", f"/account/api-keys/{key_id}/delete", {})
    assert response.status_code == 302
    page = browser.session.get(f"{browser.base_url}/account/api-keys").text
    assert "Only a revoked or expired key of yours can be deleted." in page
