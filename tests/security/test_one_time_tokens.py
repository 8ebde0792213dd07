"""One-time tokens (issue 10 item 8): digests only, expiry in the query, exactly-once use under concurrency,
newer supersedes older, purposes and accounts isolated, short codes with limited tries. CI runs it on PostgreSQL."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, select, update

from app.extensions import db
from app.models import OneTimeToken
from app.models.clock import now
from app.services import one_time_tokens as ott
from app.services.housekeeping import purge

PARALLEL = 20
HOUR = 3600


@pytest.fixture
def account(make, ctx) -> int:
    return make.user("owner@example.com").id


@pytest.fixture
def statements(app) -> Iterator[list[str]]:
    """Every SQL statement sent while the test runs, first keyword upper-cased."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        seen.append(statement.lstrip())

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
        yield seen
        event.remove(db.engine, "before_cursor_execute", record)


def stored() -> list[OneTimeToken]:
    db.session.expire_all()
    return list(db.session.scalars(select(OneTimeToken).order_by(OneTimeToken.id)))


def test_a_token_is_256_random_bits_stored_only_as_its_digest_and_used_once(account):
    issued = ott.issue("email_verification", user_id=account, ttl_seconds=HOUR, data={"email": "owner@example.com"})
    db.session.commit()

    assert ott.TOKEN.fullmatch(issued.token) and issued.code is None
    [row] = stored()
    assert row.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
    assert issued.token not in repr([getattr(row, c.key) for c in OneTimeToken.__table__.columns])
    assert row.expires_at == issued.expires_at and now() + HOUR - 2 <= row.expires_at <= now() + HOUR

    redeemed = ott.consume("email_verification", issued.token)
    db.session.commit()
    assert redeemed == ott.Redeemed("email_verification", account, {"email": "owner@example.com"})
    assert ott.consume("email_verification", issued.token) is None
    assert stored()[0].used_at is not None


def test_service_functions_leave_the_transaction_to_the_caller(account):
    issued = ott.issue("password_reset", user_id=account, ttl_seconds=HOUR)
    db.session.rollback()
    assert stored() == []
    issued = ott.issue("password_reset", user_id=account, ttl_seconds=HOUR)
    db.session.commit()
    assert ott.consume("password_reset", issued.token) is not None
    db.session.rollback()  # the use case failed after consuming: the link still works
    assert ott.consume("password_reset", issued.token) is not None


def test_expiry_is_enforced_by_the_consuming_update_itself(account, statements):
    issued = ott.issue("password_reset", user_id=account, ttl_seconds=HOUR)
    db.session.commit()
    db.session.execute(update(OneTimeToken).values(expires_at=now()))  # expires this second
    db.session.commit()
    statements.clear()

    assert ott.consume("password_reset", issued.token) is None
    assert ott.peek("password_reset", issued.token) is None
    # One UPDATE decided it (no read first, nothing judged in Python), and it changed nothing.
    assert [s.split()[0].upper() for s in statements] == ["UPDATE", "SELECT"]
    assert "expires_at >" in statements[0] and "used_at IS NULL" in statements[0]
    assert stored()[0].used_at is None


@pytest.mark.parametrize("presented", [
    "", "short", "A" * 42, "A" * 44, "A" * 10_000_000, "Ä" * 43, "A" * 42 + "\n", "A" * 42 + "=", None, 42,
])
def test_malformed_or_huge_tokens_are_refused_without_touching_the_database(account, statements, presented):
    statements.clear()
    assert ott.consume("password_reset", presented) is None
    assert ott.peek("password_reset", presented) is None
    assert statements == []


def test_unknown_used_expired_and_foreign_tokens_all_get_the_same_answer(make, account):
    other = make.user("other@example.com").id
    used = ott.issue("password_reset", user_id=account, ttl_seconds=HOUR)
    expired = ott.issue("email_change", user_id=account, ttl_seconds=HOUR)
    foreign_purpose = ott.issue("email_verification", user_id=other, ttl_seconds=HOUR)
    db.session.commit()
    assert ott.consume("password_reset", used.token)
    db.session.execute(update(OneTimeToken).where(OneTimeToken.purpose == "email_change").values(expires_at=now() - 1))
    db.session.commit()

    answers = {
        "unknown": ott.consume("password_reset", ott.generate_secret(ott.TOKEN_BYTES)),
        "used": ott.consume("password_reset", used.token),
        "expired": ott.consume("email_change", expired.token),
        "another purpose": ott.consume("password_reset", foreign_purpose.token),
    }
    assert answers == dict.fromkeys(answers, None)
    # Presenting it under the wrong purpose did not spend it.
    assert ott.consume("email_verification", foreign_purpose.token) is not None


def test_a_newer_token_supersedes_older_ones_of_that_purpose_and_account_only(make, account):
    other = make.user("other@example.com").id
    first = ott.issue("password_reset", user_id=account, ttl_seconds=HOUR)
    others = ott.issue("password_reset", user_id=other, ttl_seconds=HOUR)
    verification = ott.issue("email_verification", user_id=account, ttl_seconds=HOUR)
    second = ott.issue("password_reset", user_id=account, ttl_seconds=HOUR)
    db.session.commit()

    assert ott.consume("password_reset", first.token) is None
    assert ott.consume("password_reset", second.token) is not None
    assert ott.consume("password_reset", others.token) is not None
    assert ott.consume("email_verification", verification.token) is not None


def test_invalidate_ends_every_unused_token_of_a_purpose_for_one_account(make, account):
    reset = ott.issue("password_reset", user_id=account, ttl_seconds=HOUR)
    verification = ott.issue("email_verification", user_id=account, ttl_seconds=HOUR)
    db.session.commit()

    assert ott.invalidate("password_reset", account) == 1  # e.g. the password was changed
    db.session.commit()
    assert ott.consume("password_reset", reset.token) is None
    assert ott.consume("email_verification", verification.token) is not None


def test_tokens_without_an_account_are_never_superseded(ctx):
    first = ott.issue("invitation", user_id=None, ttl_seconds=HOUR, data={"email": "a@example.com"})
    second = ott.issue("invitation", user_id=None, ttl_seconds=HOUR, data={"email": "b@example.com"})
    db.session.commit()
    assert ott.consume("invitation", first.token).data == {"email": "a@example.com"}
    assert ott.consume("invitation", second.token).user_id is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"purpose": "login_link"}, "unknown one-time token purpose"),
    ({"ttl_seconds": 0}, "ttl_seconds"),
    ({"ttl_seconds": ott.MAX_TTL_SECONDS + 1}, "ttl_seconds"),
    ({"data": {"blob": "x" * 2000}}, "at most 1024"),
    ({"code_digits": 4}, "6 to 8 digits"),
    ({"code_digits": 6, "user_id": None}, "needs an account"),
])
def test_issue_refuses_what_a_flow_should_never_ask_for(account, kwargs, message):
    arguments = {"purpose": "password_reset", "user_id": account, "ttl_seconds": HOUR} | kwargs
    with pytest.raises(ValueError, match=message):
        ott.issue(arguments.pop("purpose"), **arguments)


def _race(app, call) -> list:
    """PARALLEL threads, released together, each in its own app context and transaction."""
    barrier = threading.Barrier(PARALLEL)

    def one(_: int):
        with app.app_context():
            barrier.wait()
            try:
                result = call()
                db.session.commit()
                return result
            finally:
                db.session.remove()

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(one, range(PARALLEL)))


def test_concurrent_uses_of_one_token_succeed_exactly_once(app, account):
    issued = ott.issue("password_reset", user_id=account, ttl_seconds=HOUR)
    db.session.commit()

    results = _race(app, lambda: ott.consume("password_reset", issued.token))

    assert sum(r is not None for r in results) == 1, results


def test_a_short_code_works_only_for_its_account_and_purpose(make, account):
    other = make.user("other@example.com").id
    issued = ott.issue("email_verification", user_id=account, ttl_seconds=HOUR, code_digits=6)
    db.session.commit()
    assert issued.code is not None and len(issued.code) == 6 and issued.code.isdigit()
    row = stored()[0]
    assert row.code_hash not in {hashlib.sha256(issued.code.encode()).hexdigest(), issued.code}

    assert ott.consume_code("email_verification", other, issued.code) is None
    assert ott.consume_code("password_reset", account, issued.code) is None
    assert ott.consume_code("email_verification", account, issued.code).user_id == account
    db.session.commit()
    assert ott.consume_code("email_verification", account, issued.code) is None
    assert ott.consume("email_verification", issued.token) is None  # one message, one use: code or link


def test_code_tries_are_limited_and_running_out_leaves_the_link_working(account):
    issued = ott.issue("email_verification", user_id=account, ttl_seconds=HOUR, code_digits=8)
    db.session.commit()
    wrong = f"{(int(issued.code) + 1) % 10**8:08d}"

    for _ in range(ott.MAX_CODE_ATTEMPTS):
        assert ott.consume_code("email_verification", account, wrong) is None
        db.session.commit()

    assert ott.consume_code("email_verification", account, issued.code) is None
    assert stored()[0].code_attempts == ott.MAX_CODE_ATTEMPTS
    assert ott.consume("email_verification", issued.token) is not None


def test_concurrent_code_guesses_never_exceed_the_limit(app, account):
    issued = ott.issue("email_verification", user_id=account, ttl_seconds=HOUR, code_digits=6)
    db.session.commit()
    guesses = iter(f"{(int(issued.code) + n) % 10**6:06d}" for n in range(1, PARALLEL + 1))
    lock = threading.Lock()

    def guess():
        with lock:
            code = next(guesses)
        return ott.consume_code("email_verification", account, code)

    assert _race(app, guess) == [None] * PARALLEL
    assert stored()[0].code_attempts == ott.MAX_CODE_ATTEMPTS


def test_concurrent_uses_of_one_code_succeed_exactly_once(app, account):
    issued = ott.issue("mfa_challenge", user_id=account, ttl_seconds=300, code_digits=6)
    db.session.commit()

    results = _race(app, lambda: ott.consume_code("mfa_challenge", account, issued.code))

    assert sum(r is not None for r in results) == 1, results


@pytest.mark.parametrize("code", ["", "12345", "123456789", "12345a", "١٢٣٤٥٦", "123456\n", None])
def test_malformed_codes_are_refused_without_spending_a_try(account, code):
    ott.issue("email_verification", user_id=account, ttl_seconds=HOUR, code_digits=6)
    db.session.commit()
    assert ott.consume_code("email_verification", account, code) is None
    assert stored()[0].code_attempts == 0


def test_purge_deletes_expired_tokens_used_or_not(account):
    live = ott.issue("password_reset", user_id=account, ttl_seconds=HOUR)
    used_live = ott.issue("email_verification", user_id=account, ttl_seconds=HOUR)
    ott.issue("email_change", user_id=account, ttl_seconds=HOUR)
    ott.issue("invitation", user_id=None, ttl_seconds=HOUR)
    db.session.commit()
    assert ott.consume("email_verification", used_live.token)
    db.session.execute(update(OneTimeToken).where(OneTimeToken.purpose.in_(["email_change", "invitation"]))
                       .values(expires_at=now() - 1))
    db.session.commit()

    assert purge(audit_retention_days=90)["one_time_tokens"] == 2
    assert {row.purpose for row in stored()} == {"password_reset", "email_verification"}
    assert ott.consume("password_reset", live.token) is not None
