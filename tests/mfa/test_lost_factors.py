"""A person who lost their password, or their factors: an emailed link never stands in for an enrolled second
factor; a recovery code does, once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import LoginSession
from app.services import second_factors
from app.web import self_service
from tests.accounts.conftest import csrf, link_in, mails
from tests.flows import sign_in
from tests.mfa.conftest import enrol_totp

NEW_PASSWORD = "another quite long passphrase"


@pytest.fixture(autouse=True)
def quick_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(self_service, "MIN_ANSWER_SECONDS", 0.0)


def test_a_password_reset_link_never_skips_the_second_factor(app, make):
    with app.app_context():
        enrolled = enrol_totp(make.user("forgot@example.com"))
    client = app.test_client()
    client.post("/forgot-password", data={"csrf_token": csrf(client, "/forgot-password"),
                                          "email": "forgot@example.com"})
    link = link_in(mails(app, "forgot@example.com", "password_reset")[0])
    reset = client.post("/reset-password", data={"csrf_token": csrf(client, link), "token": link.split("token=")[1],
                                                 "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert reset.status_code == 302 and reset.location.startswith("/login")
    assert client.get("/account").status_code == 302  # the link signed nobody in
    with app.app_context():
        factors = second_factors.factors_of(enrolled.user)
        assert factors.totp and factors.recovery_codes_left == 10  # a new password removes no factor

    # The new password is the first step only: no session until the app's code.
    asked = sign_in(client, "forgot@example.com", NEW_PASSWORD, next_url="/account")
    assert asked.status_code == 302 and asked.location.startswith("/login/second-factor")
    assert "ostiary_session=" not in asked.headers.get("Set-Cookie", "")
    assert client.get("/account").status_code == 302
    done = client.post("/login/second-factor", data={"csrf_token": csrf(client, asked.location), "method": "totp",
                                                     "code": enrolled.totp().now(), "next": "/account"})
    assert done.status_code == 302 and done.location == "/account"
    with app.app_context():  # the reset ended the session the app was set up in: this one is all there is
        assert list(db.session.scalars(select(LoginSession.amr).where(
            LoginSession.user_id == enrolled.user.id, LoginSession.revoked_at.is_(None)))) == ["pwd otp mfa"]
