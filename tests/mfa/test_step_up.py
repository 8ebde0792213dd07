"""The second step and step-up seen from outside: pages over real HTTP, a relying party (Authlib's OAuth2Session)
asking for acr_values and max_age, and the ID token verified offline with PyJWT, acr and amr included."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
import requests

from app.assurance import ACR_MFA, ACR_PASSWORD, ACR_PHISHING_RESISTANT
from app.extensions import db
from app.services import second_factors
from tests.flows import Browser, csrf_token, query_of, sign_in
from tests.mfa.conftest import (
    confirm_app,
    enrol_totp,
    enrolled_user,
    login_session,
    password_only_session,
    second_step,
    session_row,
)
from tests.mfa.relying_party import RelyingParty, authorize
from tests.mfa.test_passkey_responses import add_passkey, authenticator_for

ACRS = [ACR_PASSWORD, ACR_MFA, ACR_PHISHING_RESISTANT]


def test_discovery_advertises_the_acr_values(live_server):
    metadata = requests.get(f"{live_server}/.well-known/openid-configuration").json()
    assert metadata["acr_values_supported"] == ACRS
    assert "acr" in metadata["claims_supported"] and "amr" in metadata["claims_supported"]


def test_the_second_step_before_any_session_then_an_honest_id_token(app, live_server, make):
    secret = enrolled_user(app, make, "mfa@example.com")
    rp = RelyingParty(live_server, make.client())
    url = rp.authorization_url(acr_values=ACR_MFA)
    browser = Browser(live_server)
    started = browser.session.get(url, allow_redirects=False)
    assert started.status_code == 302 and "/login" in started.headers["Location"]
    next_url = query_of(started.headers["Location"])["next"]
    half = browser.login("mfa@example.com", next_url=next_url)
    # Half signed in: no consent, no account page.
    assert browser.session.get(f"{live_server}/account", allow_redirects=False).headers["Location"].startswith(
        "/login")
    assert "/login" in browser.session.get(url, allow_redirects=False).headers["Location"]
    before = int(time.time())
    done = second_step(browser, half, pyotp.TOTP(secret).now())
    assert done.status_code == 302 and done.headers["Location"] == next_url
    assert "ostiary_second_factor=;" in done.headers["Set-Cookie"]  # the half-signed-in claim is dropped
    callback = browser.authorize(query_of(live_server + next_url))
    claims = rp.id_token(callback.headers["Location"])
    assert claims["acr"] == ACR_MFA and claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["auth_time"] >= before


def test_acr_values_asked_before_any_session_is_reached_after_the_sign_in(app, live_server, make):
    """Not signed in yet, phr asked for: a person who answers the second step with the app's code (they also have
    a passkey) is then asked for the passkey alone, as a signed-in session would be, and the ID token says phr."""
    user = make.user("first@example.com")
    key = authenticator_for(app)
    account_page = app.test_client()
    sign_in(account_page, "first@example.com")
    add_passkey(account_page, key)
    with app.app_context():
        secret = enrol_totp(db.session.merge(user)).secret
    rp = RelyingParty(live_server, make.client())
    url = rp.authorization_url(acr_values=ACR_PHISHING_RESISTANT)
    browser = Browser(live_server)
    next_url = query_of(browser.session.get(url, allow_redirects=False).headers["Location"])["next"]
    assert "acr_values=" in next_url  # kept through the sign-in
    signed_in = second_step(browser, browser.login("first@example.com", next_url=next_url), pyotp.TOTP(secret).now())
    stepped_up = browser.follow(signed_in)
    assert stepped_up.headers["Location"].startswith("/login/second-factor?")
    page = browser.follow(stepped_up)
    assert 'id="step-up"' in page.text and 'id="totp-code"' not in page.text
    token = csrf_token(page.text)
    ceremony = browser.session.post(f"{live_server}/login/second-factor/passkey-options",
                                    headers={"X-CSRFToken": token}).json()
    done = browser.session.post(f"{live_server}/login/second-factor", allow_redirects=False, data={
        "csrf_token": token, "method": "passkey", "credential": key.get(ceremony["options"]),
        "challenge": ceremony["challenge"], "next": next_url})
    claims = rp.id_token(authorize(browser, live_server + done.headers["Location"]).headers["Location"])
    assert claims["acr"] == ACR_PHISHING_RESISTANT and claims["amr"] == ["pwd", "otp", "hwk", "user", "mfa"]


def test_a_wrong_code_shows_the_page_again(app, live_server, make):
    secret = enrolled_user(app, make, "wrong@example.com")
    browser = Browser(live_server)
    right = pyotp.TOTP(secret).now()
    response = second_step(browser, browser.login("wrong@example.com"), "000000" if right != "000000" else "111111")
    assert response.status_code == 401 and "That did not work" in response.text
    assert browser.session.get(f"{live_server}/account", allow_redirects=False).status_code == 302


def test_a_password_only_sign_in_has_acr_pwd(live_server, make):
    make.user("plain@example.com")
    rp = RelyingParty(live_server, make.client())
    browser = Browser(live_server)
    browser.login("plain@example.com")
    # Asked for mfa, but the person has no second factor: acr_values is voluntary, the ID token tells the truth.
    callback = authorize(browser, rp.authorization_url(acr_values=f"{ACR_MFA} {ACR_PHISHING_RESISTANT}"))
    claims = rp.id_token(callback.headers["Location"])
    assert claims["acr"] == ACR_PASSWORD and claims["amr"] == ["pwd"]


def test_acr_values_asks_a_password_session_for_its_second_factor_only(app, live_server, make):
    """The session began with the password only: a relying party asking for mfa gets the person asked for the
    app's code, not the password again; the session is then replaced by one that records both factors."""
    browser, old_token, secret = password_only_session(app, make, "later@example.com")
    with app.app_context():  # the password was given ten minutes ago
        login_session(old_token).auth_time -= 600
        db.session.commit()
    rp = RelyingParty(live_server, make.client())
    plain = rp.id_token(authorize(browser, rp.authorization_url()).headers["Location"])
    assert plain["acr"] == ACR_PASSWORD and plain["amr"] == ["pwd"]

    url = rp.authorization_url(acr_values=ACR_MFA)
    asked = browser.session.get(url, allow_redirects=False)
    assert asked.status_code == 302 and asked.headers["Location"].startswith("/login/second-factor?")
    page = browser.follow(asked)
    assert 'id="step-up"' in page.text and 'id="totp-code"' in page.text
    assert 'name="password"' not in page.text
    before = int(time.time())
    done = second_step(browser, asked, pyotp.TOTP(secret).now())
    assert done.status_code == 302 and live_server + done.headers["Location"] == url
    new_token = browser.session.cookies["ostiary_session"]
    assert new_token != old_token  # a new session id for the new privilege
    assert session_row(app, old_token).revoked_at is not None
    upgraded = session_row(app, new_token)
    assert upgraded.amr == "pwd otp mfa" and upgraded.user_id == session_row(app, old_token).user_id

    claims = rp.id_token(authorize(browser, url).headers["Location"])
    assert claims["acr"] == ACR_MFA and claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["auth_time"] >= before > plain["auth_time"] + 500  # the time of the last factor
    assert claims["sub"] == plain["sub"]


def test_a_wrong_code_keeps_the_session_at_its_level(app, live_server, make):
    browser, old_token, secret = password_only_session(app, make, "stays@example.com")
    rp = RelyingParty(live_server, make.client())
    asked = browser.session.get(rp.authorization_url(acr_values=ACR_MFA), allow_redirects=False)
    right = pyotp.TOTP(secret).now()
    refused = second_step(browser, asked, "000000" if right != "000000" else "111111")
    assert refused.status_code == 401 and "That did not work" in refused.text
    assert browser.session.cookies["ostiary_session"] == old_token
    assert session_row(app, old_token).revoked_at is None
    claims = rp.id_token(authorize(browser, rp.authorization_url()).headers["Location"])
    assert claims["acr"] == ACR_PASSWORD and claims["amr"] == ["pwd"]


def test_phishing_resistant_asks_for_a_passkey_and_refuses_a_code(app, live_server, make):
    browser, old_token, secret = password_only_session(app, make, "keys@example.com", passkey=True)
    rp = RelyingParty(live_server, make.client())
    asked = browser.session.get(rp.authorization_url(acr_values=ACR_PHISHING_RESISTANT), allow_redirects=False)
    assert asked.headers["Location"].startswith("/login/second-factor?")
    page = browser.follow(asked)
    assert 'id="use-passkey"' in page.text
    assert 'id="totp-code"' not in page.text and 'id="recovery-code"' not in page.text
    next_url = re.search(r'name="next" value="([^"]*)"', page.text).group(1).replace("&amp;", "&")
    code = browser.session.post(f"{live_server}/login/second-factor", allow_redirects=False, data={
        "csrf_token": csrf_token(page.text), "method": "totp", "code": pyotp.TOTP(secret).now(), "next": next_url})
    assert code.status_code == 401
    assert browser.session.cookies["ostiary_session"] == old_token
    assert session_row(app, old_token).amr == "pwd"


def test_phishing_resistant_without_a_passkey_steps_up_as_far_as_the_app_goes(app, live_server, make):
    """acr_values is voluntary: the app's code raises the session to mfa, and the ID token says so."""
    browser, _, secret = password_only_session(app, make, "app-only@example.com")
    rp = RelyingParty(live_server, make.client())
    url = rp.authorization_url(acr_values=ACR_PHISHING_RESISTANT)
    done = second_step(browser, browser.session.get(url, allow_redirects=False), pyotp.TOTP(secret).now())
    claims = rp.id_token(authorize(browser, live_server + done.headers["Location"]).headers["Location"])
    assert claims["acr"] == ACR_MFA and claims["amr"] == ["pwd", "otp", "mfa"]


def test_prompt_none_cannot_step_up(app, live_server, make):
    browser, _, _ = password_only_session(app, make, "silent@example.com")
    rp = RelyingParty(live_server, make.client())
    answer = browser.session.get(rp.authorization_url(acr_values=ACR_MFA, prompt="none"), allow_redirects=False)
    assert query_of(answer.headers["Location"])["error"] == "login_required"


def test_a_step_up_belongs_to_the_session_it_upgrades(app, live_server, make):
    """Signed out in between: the held step-up is worth nothing without its session."""
    browser, _, secret = password_only_session(app, make, "gone@example.com")
    rp = RelyingParty(live_server, make.client())
    asked = browser.session.get(rp.authorization_url(acr_values=ACR_MFA), allow_redirects=False)
    page = browser.follow(asked)
    browser.session.post(f"{live_server}/logout", data={"csrf_token": csrf_token(
        browser.session.get(f"{live_server}/logout").text)})
    next_url = re.search(r'name="next" value="([^"]*)"', page.text).group(1).replace("&amp;", "&")
    late = browser.session.post(f"{live_server}/login/second-factor", allow_redirects=False, data={
        "csrf_token": csrf_token(browser.session.get(f"{live_server}/login").text), "method": "totp",
        "code": pyotp.TOTP(secret).now(), "next": next_url})
    assert late.status_code == 302 and late.headers["Location"].startswith("/login?")
    assert "ostiary_session" not in browser.session.cookies


@pytest.mark.slow  # auth_time counts seconds: waits one for a later one
@pytest.mark.parametrize("params", [{"max_age": "0"}, {"prompt": "login"}])
def test_max_age_and_prompt_login_ask_for_both_factors_again(app, live_server, make, params):
    secret = enrolled_user(app, make, "again@example.com")
    rp = RelyingParty(live_server, make.client())
    browser = Browser(live_server)
    second_step(browser, browser.login("again@example.com"), pyotp.TOTP(secret).now())
    first = rp.id_token(authorize(browser, rp.authorization_url()).headers["Location"])
    time.sleep(1.1)
    again = browser.session.get(rp.authorization_url(**params), allow_redirects=False)
    assert again.headers["Location"].startswith("/login?")
    next_url = query_of(again.headers["Location"])["next"]
    done = second_step(browser, browser.login("again@example.com", next_url=next_url),
                       pyotp.TOTP(secret).at(time.time() + 30))
    claims = rp.id_token(authorize(browser, live_server + done.headers["Location"]).headers["Location"])
    assert claims["auth_time"] > first["auth_time"] and claims["acr"] == ACR_MFA



def test_a_client_that_requires_mfa_sends_a_person_without_a_factor_to_set_one_up(app, live_server, make):
    make.user("policy@example.com")
    rp = RelyingParty(live_server, make.client(require_mfa=True))
    browser = Browser(live_server)
    browser.login("policy@example.com")
    url = rp.authorization_url()
    asked = browser.session.get(url, allow_redirects=False)
    assert asked.status_code == 302 and asked.headers["Location"] == "/account/security"
    page = browser.follow(asked)
    assert 'id="enrol-required"' in page.text
    assert query_of(browser.session.get(url + "&prompt=none", allow_redirects=False).headers["Location"])[
        "error"] == "interaction_required"
    with app.app_context():
        token = browser.session.cookies["ostiary_session"]
        enrolment = second_factors.begin_totp(login_session(token))
        confirm_app(token, enrolment.secret)
    page = browser.session.get(f"{live_server}/account/security")
    back = re.search(r'href="([^"]+)" id="continue"', page.text).group(1).replace("&amp;", "&")
    again = browser.session.get(live_server + back, allow_redirects=False)
    # The session that set the app up began with the password: only the new factor is asked for.
    done = second_step(browser, again, pyotp.TOTP(enrolment.secret).now())
    claims = rp.id_token(authorize(browser, live_server + done.headers["Location"]).headers["Location"])
    assert claims["acr"] == ACR_MFA


def test_require_mfa_for_admins_asks_at_sign_in(app, live_server, make, monkeypatch):
    monkeypatch.setitem(app.config, "REQUIRE_MFA", "admins")
    make.user("root@example.com", is_admin=True)
    make.user("staff@example.com")
    assert Browser(live_server).login("root@example.com").headers["Location"] == "/account/security"
    assert Browser(live_server).login("staff@example.com").headers["Location"] == "/"


def test_require_mfa_for_everyone_holds_every_authorization_until_a_factor_is_set_up(app, live_server, make,
                                                                                       monkeypatch):
    """Sent to set one up at sign-in; an app asked for later sends the person back there (prompt=none:
    interaction_required) until a factor is set up, and then asks for it."""
    monkeypatch.setitem(app.config, "REQUIRE_MFA", "everyone")
    make.user("everyone@example.com")
    browser = Browser(live_server)
    assert browser.login("everyone@example.com").headers["Location"] == "/account/security"
    rp = RelyingParty(live_server, make.client())
    for _ in range(2):
        assert browser.session.get(rp.authorization_url(), allow_redirects=False).headers["Location"] == \
            "/account/security"
    assert query_of(browser.session.get(rp.authorization_url(prompt="none"), allow_redirects=False).headers[
        "Location"])["error"] == "interaction_required"
    with app.app_context():
        token = browser.session.cookies["ostiary_session"]
        enrolment = second_factors.begin_totp(login_session(token))
        confirm_app(token, enrolment.secret)
    url = rp.authorization_url()
    done = second_step(browser, browser.session.get(url, allow_redirects=False), pyotp.TOTP(enrolment.secret).now())
    claims = rp.id_token(authorize(browser, live_server + done.headers["Location"]).headers["Location"])
    assert claims["acr"] == ACR_MFA and claims["amr"] == ["pwd", "otp", "mfa"]
