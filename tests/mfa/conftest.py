"""Second factors: accounts with an authenticator app, real TOTP codes (pyotp), signed-in sessions."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pyotp
import pytest
import requests
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import LoginSession, Passkey, User
from app.security.secrets import digest
from app.services import second_factors, sessions
from app.services.authentication import FactorRequired, sign_in
from tests.factories import DEFAULT_PASSWORD
from tests.flows import Browser, csrf_token

IP = "192.0.2.20"


@dataclass
class Enrolled:
    user: User
    secret: str
    recovery_codes: list[str]
    session_token: str

    def totp(self) -> pyotp.TOTP:
        return pyotp.TOTP(self.secret)


def login_session(token: str) -> LoginSession:
    found = db.session.scalar(select(LoginSession).where(LoginSession.session_hash == digest(token)))
    assert found is not None
    return found


def start_session(user: User) -> str:
    return sessions.start(user, amr="pwd", auth_time=_now(), ip=IP, user_agent="pytest")


def _now() -> int:
    import time

    return int(time.time())


def enrol_totp(user: User) -> Enrolled:
    """Set up an authenticator app the way the account page does (confirm_app)."""
    token = start_session(user)
    enrolment = second_factors.begin_totp(login_session(token))
    codes = confirm_app(token, enrolment.secret)
    return Enrolled(db.session.get(User, user.id), enrolment.secret, codes, token)


def confirm_app(session_token: str, secret: str) -> list[str]:
    """The app's first code, of the step before now, so a test's own code for this step is still unused. Should a
    step boundary pass between making the code and checking it, that step is two behind: the next try is not."""
    try:
        return second_factors.confirm_totp(login_session(session_token), pyotp.TOTP(secret).at(_now() - 30))
    except ValidationError:
        return second_factors.confirm_totp(login_session(session_token), pyotp.TOTP(secret).at(_now() - 30))


@pytest.fixture
def enrolled(make, ctx) -> Enrolled:
    return enrol_totp(make.user("two@example.com", username="two"))


@pytest.fixture
def half_signed_in(enrolled: Enrolled) -> Callable[[], FactorRequired]:
    def start() -> FactorRequired:
        outcome = sign_in("two@example.com", DEFAULT_PASSWORD, ip=IP, user_agent="pytest", replacing=None)
        assert isinstance(outcome, FactorRequired), outcome
        return outcome

    return start


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, name
    return found.group(1)


def enrolled_user(app, make, email: str) -> str:
    """An account with an authenticator app; returns its TOTP secret."""
    with app.app_context():
        return enrol_totp(make.user(email)).secret


def second_step(browser: Browser, response: requests.Response, code: str) -> requests.Response:
    """From the password's redirect: the second-step page, then the code."""
    assert response.status_code == 302 and "/login/second-factor" in response.headers["Location"], response.text
    page = browser.follow(response)
    assert page.status_code == 200 and "Code from your authenticator app" in page.text
    next_url = re.search(r'name="next" value="([^"]*)"', page.text).group(1)
    return browser.session.post(f"{browser.base_url}/login/second-factor", allow_redirects=False, data={
        "csrf_token": csrf_token(page.text), "method": "totp", "code": code, "next": next_url.replace("&amp;", "&")})


def password_only_session(app, make, email: str, *, passkey: bool = False) -> tuple[Browser, str, str]:
    """A browser signed in with the password alone (the session that then set up the app, as on the account
    page), with an authenticator app and, if asked, a passkey. Returns the browser, the cookie and the secret."""
    with app.app_context():
        enrolled = enrol_totp(make.user(email))
        if passkey:
            db.session.add(Passkey(user_id=enrolled.user.id, credential_id=f"credential-of-{email}",
                                   public_key="pQECAyYgASFYIA", name="Laptop", device_type="single_device"))
            db.session.commit()
    browser = Browser(app.config["ISSUER"])
    browser.session.cookies.set("ostiary_session", enrolled.session_token,
                                domain=urlsplit(browser.base_url).hostname, path="/")
    return browser, enrolled.session_token, enrolled.secret


def session_row(app, token: str) -> LoginSession:
    with app.app_context():
        found = login_session(token)
        db.session.expunge(found)
        return found
