"""Point 2: an unknown user and a wrong password look the same: status, body and time (the dummy argon2 verify)."""

from __future__ import annotations

import statistics
import time

import pytest

from app.services.users import create_user, disable_user, passwords
from tests.flows import CSRF_INPUT, csrf_token

# Costly enough that skipping the verify for unknown users would stand out from the noise of a request.
MODERATE_ARGON2 = {"ARGON2_TIME_COST": 2, "ARGON2_MEMORY_KIB": 16384, "ARGON2_PARALLELISM": 1}
ROUNDS = 21
# Wall-clock medians: meaningful on a quiet machine, so in the ops tier rather than the inner loop.
pytestmark = pytest.mark.ops
PASSWORD = "a password nobody guesses"


@pytest.fixture
def moderate(build_app):
    application = build_app(SIGN_IN_FAILURES_PER_ACCOUNT=1000, SIGN_IN_FAILURES_PER_IP=1000, **MODERATE_ARGON2)
    with application.app_context():
        # Hashed with the same cost as the dummy hash, as every stored password is after rehash-on-login.
        create_user("real@example.com", PASSWORD)
        disable_user(create_user("gone@example.com", PASSWORD), actor=None)
    return application


def attempt(client, login: str) -> tuple[int, str, float]:
    """One sign-in with a wrong password: (status, body with the echoed login and the CSRF token masked, seconds)."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    started = time.perf_counter()
    response = client.post("/login", data={"login": login, "password": "wrong wrong wrong", "csrf_token": token})
    elapsed = time.perf_counter() - started
    body = CSRF_INPUT.sub("TOKEN", response.get_data(as_text=True).replace(login, "LOGIN"))
    return response.status_code, body, elapsed


def test_unknown_user_wrong_password_and_disabled_user_answer_alike(moderate):
    client = moderate.test_client()
    known = attempt(client, "real@example.com")
    unknown = attempt(client, "nobody@example.com")
    disabled = attempt(client, "gone@example.com")
    assert known[0] == unknown[0] == disabled[0] == 401
    assert known[1] == unknown[1] == disabled[1]


def test_a_locked_account_and_a_locked_unknown_login_answer_alike(build_app):
    """The account counter is keyed on the account when the login names one, on the login otherwise:
    locked, both answer the same page, and neither says which it was."""
    application = build_app(SIGN_IN_FAILURES_PER_ACCOUNT=2, SIGN_IN_FAILURES_PER_IP=1000)
    with application.app_context():
        create_user("locked@example.com", PASSWORD, username="locked")
    client = application.test_client()
    answers = {}
    for login, other_name in (("locked@example.com", "LOCKED"), ("nobody@example.com", "nobody@example.com")):
        attempt(client, login)
        attempt(client, other_name)
        answers[login] = attempt(client, login)[:2]
    assert answers["locked@example.com"][0] == 429
    assert answers["locked@example.com"] == answers["nobody@example.com"]


def test_unknown_user_and_wrong_password_take_the_same_time(moderate):
    client = moderate.test_client()
    with moderate.app_context():
        hasher = passwords()
        stored = hasher.hash("x" * 20)
    known, unknown, verify = [], [], []
    for _ in range(ROUNDS):  # interleaved, so drift in machine load hits all three alike
        known.append(attempt(client, "real@example.com")[2])
        unknown.append(attempt(client, "nobody@example.com")[2])
        verify.append(_timed(lambda: hasher.verify(stored, "y" * 20)))

    verify_seconds = statistics.median(verify)
    assert verify_seconds > 0.01, "argon2 too cheap for the comparison to mean anything"
    difference = abs(statistics.median(known) - statistics.median(unknown))
    # Without the dummy verify, unknown users would answer a whole verify_seconds sooner.
    assert difference < verify_seconds / 2, (statistics.median(known), statistics.median(unknown), verify_seconds)


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started
