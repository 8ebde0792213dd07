"""RFC 6238 §5.2 under concurrency (CI runs this on PostgreSQL): of many simultaneous submissions of one code, the
conditional UPDATE of the last accepted step lets exactly one through; so does the one on a recovery code's use,
and the one-time half sign-in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pyotp
import requests
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, OutboxMessage, User
from app.services import second_factors
from app.services.transaction import transaction
from tests.flows import Browser, csrf_token
from tests.mfa.conftest import enrol_totp

PARALLEL = 12


def all_at_once(app, email: str, attempt: Callable[[User], bool]) -> list[bool]:
    """`attempt` for the account `email` in PARALLEL threads released together, each in its own transaction."""
    barrier = threading.Barrier(PARALLEL)

    def submit(_: int) -> bool:
        with app.app_context():
            user = db.session.scalar(select(User).where(User.email == email))
            barrier.wait()
            with transaction():
                outcome = attempt(user)
            db.session.remove()
            return outcome

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(submit, range(PARALLEL)))


def test_one_code_submitted_at_once_is_accepted_once(app, make):
    with app.app_context():
        secret = enrol_totp(make.user("race@example.com")).secret
    code = pyotp.TOTP(secret).now()
    results = all_at_once(app, "race@example.com", lambda user: second_factors.verify_totp(user, code))
    assert results.count(True) == 1


def test_one_recovery_code_used_at_once_is_used_once(app, make):
    """Two half sign-ins (the password and the code stolen together) racing with one recovery code: the
    conditional UPDATE on its used_at lets one through, and one use is audited and mailed."""
    with app.app_context():
        enrolled = enrol_totp(make.user("stolen@example.com"))
    code = enrolled.recovery_codes[0]
    results = all_at_once(app, "stolen@example.com", lambda user: second_factors.use_recovery_code(user, code))
    assert results.count(True) == 1
    with app.app_context():
        assert second_factors.factors_of(enrolled.user).recovery_codes_left == 9
        assert len(db.session.scalars(select(AuditEvent).where(
            AuditEvent.event == "second_factor.recovery_code_used")).all()) == 1
        assert len(db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.template == "recovery_code_used")).all()) == 1


def test_one_half_sign_in_completed_at_once_signs_in_once(app, live_server, make):
    with app.app_context():
        enrolled = enrol_totp(make.user("twice@example.com"))
    browser = Browser(live_server)
    browser.login("twice@example.com")
    page = browser.session.get(f"{live_server}/login/second-factor")
    # Several right answers (codes of the two acceptable steps, and recovery codes) for one half sign-in.
    totp = pyotp.TOTP(enrolled.secret)
    answers = [("totp", totp.now()), ("totp", totp.at(time.time() + 30))] + [
        ("recovery_code", code) for code in enrolled.recovery_codes[:PARALLEL - 2]]
    cookies = browser.session.cookies.get_dict()
    barrier = threading.Barrier(len(answers))

    def submit(answer: tuple[str, str]) -> int:
        barrier.wait()
        response = requests.post(f"{live_server}/login/second-factor", cookies=cookies, allow_redirects=False, data={
            "csrf_token": csrf_token(page.text), "method": answer[0], "code": answer[1], "next": "/"})
        assert response.status_code < 500
        return response.status_code if "ostiary_session=" in response.headers.get("Set-Cookie", "") else 0

    with ThreadPoolExecutor(len(answers)) as pool:
        results = list(pool.map(submit, answers))
    assert results.count(302) == 1, results


def test_the_losers_of_a_race_spend_no_recovery_code(app, live_server, make):
    """Concurrent recovery codes for one half sign-in: one signs in, the others find the state used and keep
    their codes."""
    with app.app_context():
        enrolled = enrol_totp(make.user("spare@example.com"))
    browser = Browser(live_server)
    browser.login("spare@example.com")
    page = browser.session.get(f"{live_server}/login/second-factor")
    cookies = browser.session.cookies.get_dict()
    codes = enrolled.recovery_codes[:6]
    barrier = threading.Barrier(len(codes))

    def submit(code: str) -> None:
        barrier.wait()
        requests.post(f"{live_server}/login/second-factor", cookies=cookies, allow_redirects=False, data={
            "csrf_token": csrf_token(page.text), "method": "recovery_code", "code": code, "next": "/"})

    with ThreadPoolExecutor(len(codes)) as pool:
        list(pool.map(submit, codes))
    with app.app_context():
        assert second_factors.factors_of(enrolled.user).recovery_codes_left == 9
