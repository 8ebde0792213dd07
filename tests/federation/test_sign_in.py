"""Federated sign-in against a real upstream Ostiary: just-in-time accounts, what relying parties see."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import FederatedIdentity, LoginSession, User
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
