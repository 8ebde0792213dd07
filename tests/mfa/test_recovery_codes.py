"""Recovery codes: ten, single use, stored as keyed digests, regenerating voids the old set, every use audited
and mailed to the account."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.errors import ConflictError
from app.extensions import db
from app.models import AuditEvent, OutboxMessage, RecoveryCode
from app.services import second_factors
from app.services.authentication import INVALID_CREDENTIALS, Refused, SignedIn, verify_second_factor
from tests.mfa.conftest import IP, login_session


def use(token: str, code: str):
    return verify_second_factor(token, "recovery_code", code, ip=IP, user_agent="pytest", replacing=None)


def test_a_code_signs_in_once_with_otp(half_signed_in, enrolled):
    code = enrolled.recovery_codes[0]
    outcome = use(half_signed_in().token, code)
    assert isinstance(outcome, SignedIn)
    assert login_session(outcome.session_token).amr.split() == ["pwd", "otp", "mfa"]
    assert use(half_signed_in().token, code) == Refused(INVALID_CREDENTIALS)
    assert second_factors.factors_of(enrolled.user).recovery_codes_left == 9


def test_a_use_is_audited_and_mailed(half_signed_in, enrolled):
    assert isinstance(use(half_signed_in().token, enrolled.recovery_codes[3].upper()), SignedIn)
    db.session.rollback()
    used = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "second_factor.recovery_code_used")).one()
    assert used.user_sub == enrolled.user.sub and used.details == {"remaining": 9}
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "recovery_code_used")).one()
    assert mail.recipient == "two@example.com" and "9 unused codes are left" in mail.text_body
    assert enrolled.recovery_codes[3] not in mail.text_body


def test_codes_are_stored_as_keyed_digests(enrolled):
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10
    assert not any(code.replace("-", "") in digest for code in enrolled.recovery_codes for digest in stored)


def test_regenerating_voids_the_old_set(half_signed_in, enrolled):
    fresh = second_factors.regenerate_recovery_codes(login_session(enrolled.session_token))
    assert len(fresh) == 10 and not set(fresh) & set(enrolled.recovery_codes)
    assert use(half_signed_in().token, enrolled.recovery_codes[0]) == Refused(INVALID_CREDENTIALS)
    assert isinstance(use(half_signed_in().token, fresh[0]), SignedIn)


def test_no_codes_without_a_second_factor(make, ctx):
    from tests.mfa.conftest import start_session

    user = make.user("none@example.com")
    with pytest.raises(ConflictError):
        second_factors.regenerate_recovery_codes(login_session(start_session(user)))


@pytest.mark.parametrize("code", ["", "abcde-fghij", "0000000000", "22222-2222", "22222-222222", "x" * 41,
                                  "22222\x00-22222", "ＡＢＣＤＥ-ＦＧＨＪＫ"])
def test_malformed_or_unknown_codes_are_refused(half_signed_in, enrolled, code):
    assert use(half_signed_in().token, code) == Refused(INVALID_CREDENTIALS)


def test_another_accounts_code_is_refused(make, half_signed_in, enrolled):
    from tests.mfa.conftest import enrol_totp

    other = enrol_totp(make.user("three@example.com"))
    assert use(half_signed_in().token, other.recovery_codes[0]) == Refused(INVALID_CREDENTIALS)
