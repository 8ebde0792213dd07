"""Second factors: accounts with an authenticator app, real TOTP codes (pyotp), signed-in sessions."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pyotp
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import LoginSession, User
from app.security.secrets import digest
from app.services import second_factors, sessions
from app.services.authentication import FactorRequired, sign_in
from tests.factories import DEFAULT_PASSWORD

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
    """Set up an authenticator app the way the account page does; the first code is the one of the step before
    now, so a test's own code for this step is still unused."""
    token = start_session(user)
    enrolment = second_factors.begin_totp(login_session(token))
    first = pyotp.TOTP(enrolment.secret).at(_now() - 30)
    codes = second_factors.confirm_totp(login_session(token), first)
    return Enrolled(db.session.get(User, user.id), enrolment.secret, codes, token)


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
