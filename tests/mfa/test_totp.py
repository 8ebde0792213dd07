"""RFC 6238 as a second step of the sign-in, with real codes from pyotp: enrolment, drift, replay, bad input,
encryption at rest, limits."""

from __future__ import annotations

import logging
import re
import time

import pyotp
import pytest
from sqlalchemy import select

from app.errors import ConflictError, ValidationError
from app.extensions import db
from app.models import AuditEvent, LoginSession, TotpSecret
from app.security import sealed, totp
from app.services import second_factors
from app.services.authentication import EXPIRED, INVALID_CREDENTIALS, THROTTLED, Refused, SignedIn, verify_second_factor
from app.services.second_factors import RecentSignInRequired
from tests.flows import csrf_token, sign_in
from tests.mfa.conftest import IP, enrol_totp, login_session, start_session


def second_step(token: str, code: str, method: str = "totp"):
    return verify_second_factor(token, method, code, ip=IP, user_agent="pytest", replacing=None)


def test_enrolment_needs_a_first_code_and_then_asks_for_the_app_at_sign_in(make, ctx, half_signed_in):
    outcome = half_signed_in()
    assert db.session.scalar(select(LoginSession).where(LoginSession.user_id == outcome.user.id,
                                                        LoginSession.amr != "pwd")) is None  # no session yet


def test_a_pending_app_does_not_count_until_confirmed(make, ctx):
    user = make.user("pending@example.com")
    token = start_session(user)
    enrolment = second_factors.begin_totp(login_session(token))
    assert enrolment.uri.startswith("otpauth://totp/") and f"secret={enrolment.secret}" in enrolment.uri
    assert enrolment.qr_svg.startswith("<svg") and "<script" not in enrolment.qr_svg
    assert not second_factors.factors_of(user).any
    with pytest.raises(ValidationError):
        second_factors.confirm_totp(login_session(token), "000000" if pyotp.TOTP(enrolment.secret).now() != "000000"
                                    else "111111")
    assert not second_factors.factors_of(user).totp


def test_confirming_gives_ten_recovery_codes_and_ends_other_sessions(make, ctx):
    user = make.user("codes@example.com")
    other = start_session(user)
    enrolled = enrol_totp(user)
    assert len(enrolled.recovery_codes) == 10 and len(set(enrolled.recovery_codes)) == 10
    db.session.rollback()
    assert login_session(other).revoked_at is not None
    assert login_session(enrolled.session_token).revoked_at is None
    with pytest.raises(ConflictError):
        second_factors.begin_totp(login_session(enrolled.session_token))


def test_changes_need_a_recent_sign_in(make, ctx):
    user = make.user("stale@example.com")
    token = start_session(user)
    login_session(token).auth_time -= 3600
    db.session.commit()
    with pytest.raises(RecentSignInRequired):
        second_factors.begin_totp(login_session(token))


def test_the_right_code_signs_in_with_otp_and_mfa(half_signed_in, enrolled):
    pending = half_signed_in()
    outcome = second_step(pending.token, enrolled.totp().now())
    assert isinstance(outcome, SignedIn)
    session = login_session(outcome.session_token)
    assert session.amr.split() == ["pwd", "otp", "mfa"]
    assert abs(session.auth_time - time.time()) < 5


def test_a_code_is_accepted_once(half_signed_in, enrolled):
    code = enrolled.totp().now()
    assert isinstance(second_step(half_signed_in().token, code), SignedIn)
    assert second_step(half_signed_in().token, code) == Refused(INVALID_CREDENTIALS)


def test_an_earlier_step_than_the_last_accepted_is_refused(half_signed_in, enrolled):
    assert isinstance(second_step(half_signed_in().token, enrolled.totp().at(time.time() + 30)), SignedIn)
    assert second_step(half_signed_in().token, enrolled.totp().now()) == Refused(INVALID_CREDENTIALS)


@pytest.mark.parametrize("offset, accepted", [(-30, False), (0, True), (30, True), (-60, False), (60, False),
                                              (90, False)])
def test_at_most_one_step_of_drift(half_signed_in, enrolled, offset, accepted):
    # The enrolment used the step before now: that one is spent, so -30 is refused as a replay.
    outcome = second_step(half_signed_in().token, enrolled.totp().at(time.time() + offset))
    assert isinstance(outcome, SignedIn) is accepted


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5x", "１２３４５６", "1" * 5000, "\x00" * 6])
def test_malformed_codes_are_refused(half_signed_in, enrolled, code):
    assert second_step(half_signed_in().token, code) == Refused(INVALID_CREDENTIALS)


def test_spaces_in_a_code_are_ignored(half_signed_in, enrolled):
    code = enrolled.totp().now()
    assert isinstance(second_step(half_signed_in().token, f"{code[:3]} {code[3:]}"), SignedIn)


def test_wrong_codes_are_audited_and_limited_like_passwords(app, half_signed_in, enrolled, monkeypatch):
    monkeypatch.setitem(app.config, "SIGN_IN_FAILURES_PER_ACCOUNT", 3)
    pending = half_signed_in()
    right = enrolled.totp().now()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(3):
        assert second_step(pending.token, wrong) == Refused(INVALID_CREDENTIALS)
    refused = second_step(pending.token, right)
    assert isinstance(refused, Refused) and refused.reason == THROTTLED and refused.retry_after_seconds > 0
    db.session.rollback()
    failures = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "sign_in.second_factor")).all()
    assert len(failures) == 3 and all(e.outcome == "failure" and e.details["method"] == "totp" for e in failures)


@pytest.mark.parametrize("token", [None, "", "x" * 43, "not a token"])
def test_without_the_browsers_half_sign_in_nothing_is_checked(enrolled, token):
    assert second_step(token, enrolled.totp().now()) == Refused(EXPIRED)


@pytest.mark.slow  # waits two seconds on the clock
def test_the_half_sign_in_expires(app, half_signed_in, enrolled, monkeypatch):
    monkeypatch.setitem(app.config, "SECOND_FACTOR_TTL_SECONDS", 1)
    pending = half_signed_in()
    time.sleep(2.1)
    assert second_step(pending.token, enrolled.totp().now()) == Refused(EXPIRED)


def test_a_newer_password_sign_in_replaces_the_older_half_sign_in(half_signed_in, enrolled):
    older, newer = half_signed_in(), half_signed_in()
    assert second_step(older.token, enrolled.totp().now()) == Refused(EXPIRED)
    assert isinstance(second_step(newer.token, enrolled.totp().now()), SignedIn)


def test_the_secret_is_encrypted_at_rest_under_the_data_key(app, enrolled, monkeypatch):
    stored = db.session.scalar(select(TotpSecret.secret_ciphertext).where(TotpSecret.user_id == enrolled.user.id))
    assert enrolled.secret not in stored
    assert sealed.unseal(f"totp:{enrolled.user.sub}", stored).decode() == enrolled.secret
    with pytest.raises(sealed.Unreadable):  # moved to another account's row
        sealed.unseal("totp:someone-else", stored)
    # Another data key: the app cannot be checked (said in the log), which is a refusal, never a 500.
    monkeypatch.setitem(app.extensions, sealed.EXTENSION, sealed.Sealer("a-dedicated-data-key-of-at-least-32-chars"))
    assert second_factors.verify_totp(enrolled.user, enrolled.totp().now()) is False


def test_the_secret_and_the_recovery_codes_are_shown_once_and_never_logged(app, make, caplog, capfd):
    """Through the account page: the secret on the set-up page only, the codes on the page after the first code
    only; neither in any log record nor on the process's output."""
    caplog.set_level(logging.DEBUG)
    make.user("quiet@example.com")
    client = app.test_client()
    sign_in(client, "quiet@example.com")
    token = csrf_token(client.get("/account/security").get_data(as_text=True))
    set_up = client.post("/account/security/totp", data={"csrf_token": token}).get_data(as_text=True)
    secret = re.search(r'id="totp-secret" class="secret">([A-Z2-7]{32})<', set_up).group(1)
    shown = client.post("/account/security/totp/confirm", data={"csrf_token": token,
                                                                 "code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", shown.get_data(as_text=True))
    assert len(set(codes)) == 10
    later = [client.get("/account/security"), client.post("/account/security/totp", data={"csrf_token": token})]
    logged = "\n".join(repr(vars(record)) for record in caplog.records) + capfd.readouterr().err
    assert "second_factor.enrolled" in logged  # the log was there to read
    for text in [page.get_data(as_text=True) for page in later] + [logged]:
        assert secret not in text and not any(code in text for code in codes)


def test_removing_the_app_voids_the_recovery_codes(enrolled):
    assert second_factors.remove_totp(login_session(enrolled.session_token))
    factors = second_factors.factors_of(enrolled.user)
    assert not factors.any and factors.recovery_codes_left == 0


def test_matching_step_compares_every_candidate():
    secret = totp.new_secret()
    moment = 1_700_000_000
    code = pyotp.TOTP(secret).at(moment)
    assert totp.matching_step(secret, code, after=None, moment=moment) == moment // 30
    assert totp.matching_step(secret, code, after=moment // 30, moment=moment) is None
    assert totp.matching_step(secret, code, after=None, moment=moment + 31) == moment // 30
    assert totp.matching_step(secret, code, after=None, moment=moment + 61) is None
