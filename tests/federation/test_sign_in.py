"""Federated sign-in against a real upstream Ostiary: just-in-time accounts, what relying parties see."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import FederatedIdentity, User


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
