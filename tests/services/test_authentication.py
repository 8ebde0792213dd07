"""The sign-in state machine as a service: verify_password -> Identified | Refused, start_session -> SignedIn,
sign_in as both in one transaction; proving the password again; changing it."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.errors import ValidationError, WrongPasswordError
from app.extensions import db
from app.models import AuditEvent, LoginSession, User
from app.security.passwords import Passwords, passwords
from app.security.secrets import digest
from app.security.throttle import Throttled
from app.services import authentication, sessions, users
from app.services.authentication import INVALID_CREDENTIALS, THROTTLED, Identified, Refused, SignedIn
from tests.factories import DEFAULT_PASSWORD
from tests.flows import csrf_token

IP = "192.0.2.10"


@pytest.fixture
def commits(ctx):
    counted: list[int] = []

    def count(session: Session) -> None:
        counted.append(1)

    event.listen(Session, "after_commit", count)
    yield counted
    event.remove(Session, "after_commit", count)


@pytest.fixture
def few_failures(app, monkeypatch):
    """Three failures per account before a lockout."""
    monkeypatch.setitem(app.config, "SIGN_IN_FAILURES_PER_ACCOUNT", 3)


def events() -> list[tuple[str, str, str | None, dict]]:
    """The audit trail after the accounts were made."""
    db.session.rollback()
    return [(e.event, e.outcome, e.user_sub, e.details)
            for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)) if e.event != "user.created"]


def live_sessions() -> list[LoginSession]:
    db.session.rollback()
    return list(db.session.scalars(select(LoginSession).where(LoginSession.revoked_at.is_(None))))


# verify_password: credentials in, Identified or Refused out


def test_a_right_password_identifies_the_person_by_pwd_now(make, ctx):
    person = make.user("right@example.com", username="right")
    for login in ("right@example.com", " RIGHT "):
        outcome = authentication.verify_password(login, DEFAULT_PASSWORD, ip=IP)
        assert isinstance(outcome, Identified)
        assert outcome.user.id == person.id and outcome.amr == ("pwd",)
        assert abs(outcome.auth_time - time.time()) < 5
    assert live_sessions() == []  # identified is not signed in: no session exists yet
    assert events() == []  # the sign-in is audited when its session starts


@pytest.mark.parametrize("login", ["known@example.com", "nobody@example.com", "disabled@example.com"])
def test_wrong_unknown_and_disabled_are_refused_alike_and_audited(make, ctx, login):
    known = make.user("known@example.com")
    disabled = make.user("disabled@example.com")
    users.disable_user(db.session.get(User, disabled.id), actor=None)
    password = DEFAULT_PASSWORD if login == "disabled@example.com" else "a wrong password"

    assert authentication.verify_password(login, password, ip=IP) == Refused(INVALID_CREDENTIALS)

    targeted = {"known@example.com": known.sub, "nobody@example.com": None, "disabled@example.com": disabled.sub}
    assert events()[-1] == ("sign_in", "failure", targeted[login], {})


def test_the_limit_refuses_unchecked_and_says_how_long(make, ctx, few_failures):
    person = make.user("guessed@example.com")
    outcomes = [authentication.verify_password("guessed@example.com", f"guess {n}", ip=IP) for n in range(3)]
    assert outcomes == [Refused(INVALID_CREDENTIALS)] * 3
    assert events()[-1] == ("sign_in.locked_out", "failure", person.sub, {"counters": ["sign_in_account"]})

    locked = authentication.verify_password("guessed@example.com", DEFAULT_PASSWORD, ip=IP)  # even the right one
    assert isinstance(locked, Refused) and locked.reason == THROTTLED
    assert 0 < locked.retry_after_seconds <= 900
    assert len(events()) == 4  # three failures and the lockout: a refusal unchecked is not another failure


def test_a_hash_of_old_argon2_costs_is_replaced_on_sign_in(make, ctx):
    person = make.user("old@example.com")
    old_hash = Passwords(2, 2048, 1).hash(DEFAULT_PASSWORD)
    make.update(User, {"id": person.id}, password_hash=old_hash)
    assert passwords().needs_rehash(old_hash)

    assert isinstance(authentication.verify_password("old@example.com", DEFAULT_PASSWORD, ip=IP), Identified)
    db.session.rollback()
    stored = db.session.get(User, person.id).password_hash
    assert stored != old_hash and not passwords().needs_rehash(stored)


# start_session: Identified in, SignedIn out


def test_a_session_records_how_and_when_the_person_was_identified(make, ctx):
    """What a second factor or an upstream provider will hand over: more methods, an earlier factor time."""
    person = make.user("factors@example.com")
    identified = Identified(db.session.get(User, person.id), ("pwd", "otp"), int(time.time()) - 30)

    signed_in = authentication.start_session(identified, replacing=None, ip=IP, user_agent="test agent")

    assert isinstance(signed_in, SignedIn) and signed_in.user.id == person.id
    stored = sessions.load(signed_in.session_token)
    assert stored is not None
    assert (stored.amr, stored.auth_time, stored.ip, stored.user_agent) == ("pwd otp", identified.auth_time, IP,
                                                                            "test agent")
    assert stored.session_hash == digest(signed_in.session_token)  # the cookie value itself is never stored
    assert events() == [("sign_in", "success", person.sub, {})]


def test_a_new_session_ends_the_one_it_replaces(make, ctx):
    make.user("planted@example.com")
    victim = make.user("victim@example.com")
    planted = authentication.sign_in("planted@example.com", DEFAULT_PASSWORD, ip=IP, user_agent=None, replacing=None)
    assert isinstance(planted, SignedIn)

    fresh = authentication.sign_in("victim@example.com", DEFAULT_PASSWORD, ip=IP, user_agent=None,
                                   replacing=planted.session_token)

    assert isinstance(fresh, SignedIn) and fresh.user.id == victim.id
    assert sessions.load(planted.session_token) is None
    assert [s.user_id for s in live_sessions()] == [victim.id]


# sign_in: one transaction


def test_a_sign_in_commits_once_whatever_its_outcome(make, ctx, commits):
    make.user("once@example.com")
    previous = authentication.sign_in("once@example.com", DEFAULT_PASSWORD, ip=IP, user_agent=None, replacing=None)
    assert isinstance(previous, SignedIn)
    commits.clear()
    assert isinstance(authentication.sign_in("once@example.com", DEFAULT_PASSWORD, ip=IP, user_agent=None,
                                             replacing=previous.session_token), SignedIn)
    assert len(commits) == 1  # audit, old session ended, new session started
    commits.clear()
    assert authentication.sign_in("once@example.com", "wrong!", ip=IP, user_agent=None, replacing=None) == Refused(
        INVALID_CREDENTIALS)
    assert len(commits) == 1  # the failure's audit row


def test_a_sign_in_that_fails_to_start_its_session_leaves_nothing(make, ctx, monkeypatch):
    make.user("broken@example.com")
    previous = authentication.sign_in("broken@example.com", DEFAULT_PASSWORD, ip=IP, user_agent=None, replacing=None)
    assert isinstance(previous, SignedIn)
    before = events()

    def failing_start(*args, **kwargs):
        raise RuntimeError("no session for you")

    monkeypatch.setattr(sessions, "start", failing_start)
    with pytest.raises(RuntimeError):
        authentication.sign_in("broken@example.com", DEFAULT_PASSWORD, ip=IP, user_agent=None,
                               replacing=previous.session_token)

    assert events() == before  # no sign_in audited for a session that never existed
    assert sessions.load(previous.session_token) is not None  # and the old one was not ended either


# Proving the password again, changing it


def signed_in_session(email: str) -> LoginSession:
    outcome = authentication.sign_in(email, DEFAULT_PASSWORD, ip=IP, user_agent=None, replacing=None)
    assert isinstance(outcome, SignedIn)
    found = sessions.load(outcome.session_token)
    assert found is not None
    return found


def test_reauthentication_renews_auth_time_and_a_wrong_password_is_a_counted_failure(make, ctx, few_failures):
    make.user("again@example.com")
    login_session = signed_in_session("again@example.com")
    make.update(LoginSession, {"id": login_session.id}, auth_time=0)
    db.session.rollback()
    assert not authentication.authenticated_recently(login_session)

    with pytest.raises(ValidationError):
        authentication.reauthenticate(login_session, "", ip=IP, purpose="test")  # no password is no failure
    for _ in range(3):
        with pytest.raises(WrongPasswordError):
            authentication.reauthenticate(login_session, "not it", ip=IP, purpose="test")
    assert [e[:2] + (e[3],) for e in events()[-4:]] == [
        ("reauthentication", "failure", {"purpose": "test"}), ("reauthentication", "failure", {"purpose": "test"}),
        ("reauthentication", "failure", {"purpose": "test"}), ("sign_in.locked_out", "failure",
                                                               {"counters": ["sign_in_account"]})]
    with pytest.raises(Throttled):
        authentication.reauthenticate(login_session, DEFAULT_PASSWORD, ip=IP, purpose="test")
    assert authentication.verify_password("again@example.com", DEFAULT_PASSWORD, ip=IP).reason == THROTTLED

    authentication.throttle().reset()  # the lockout ends
    authentication.reauthenticate(login_session, DEFAULT_PASSWORD, ip=IP, purpose="test")
    db.session.rollback()
    assert authentication.authenticated_recently(db.session.get(LoginSession, login_session.id))


def test_a_recent_sign_in_needs_no_password(make, ctx):
    make.user("recent@example.com")
    login_session = signed_in_session("recent@example.com")
    authentication.confirm_recent_sign_in(login_session, "", ip=IP, purpose="test")  # no ValidationError
    make.update(LoginSession, {"id": login_session.id}, auth_time=0)
    db.session.rollback()
    with pytest.raises(ValidationError):
        authentication.confirm_recent_sign_in(login_session, "", ip=IP, purpose="test")


def test_changing_the_password_keeps_this_session_and_ends_the_others(make, ctx):
    person = make.user("changer@example.com")
    other = signed_in_session("changer@example.com")
    this = signed_in_session("changer@example.com")

    with pytest.raises(WrongPasswordError):
        authentication.change_password(this, "not the current one", "a fresh passphrase", ip=IP)
    with pytest.raises(ValidationError, match="differ"):
        authentication.change_password(this, DEFAULT_PASSWORD, DEFAULT_PASSWORD, ip=IP)
    assert authentication.change_password(this, DEFAULT_PASSWORD, "a fresh passphrase", ip=IP) == 0

    assert [s.id for s in live_sessions()] == [this.id] and other.id != this.id
    assert isinstance(authentication.verify_password("changer@example.com", "a fresh passphrase", ip=IP), Identified)
    assert ("user.password_changed", "success", person.sub, {"actor": person.sub, "api_keys_revoked": 0}) in events()


# Signing out


def test_sign_out_ends_the_session_and_audits_who_and_for_which_client(make, ctx, commits):
    person = make.user("leaving@example.com")
    login_session = signed_in_session("leaving@example.com")
    commits.clear()

    authentication.sign_out(login_session, client_id="a-relying-party")

    assert len(commits) == 1
    assert live_sessions() == []
    assert events()[-1][:3] == ("sign_out", "success", person.sub)
    assert db.session.scalars(select(AuditEvent.client_id).where(AuditEvent.event == "sign_out")).all() == [
        "a-relying-party"]


def test_a_browser_without_a_session_has_nothing_to_sign_out(ctx, commits):
    authentication.sign_out(None)
    assert commits == [] and events() == []


@pytest.mark.parametrize("path", ["/logout", "/oauth/logout"])
def test_both_sign_out_pages_use_the_one_sign_out(app, make, monkeypatch, path):
    make.user("both@example.com")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"login": "both@example.com", "password": DEFAULT_PASSWORD,
                                "csrf_token": csrf_token(page)})
    calls = []
    real = authentication.sign_out
    monkeypatch.setattr(authentication, "sign_out", lambda *args, **kwargs: calls.append(args) or real(*args, **kwargs))

    response = client.post(path, data={"csrf_token": csrf_token(client.get(path).get_data(as_text=True)),
                                       "confirm": "yes"})

    assert response.status_code in (200, 302)
    assert len(calls) == 1 and calls[0][0] is not None
    assert client.get("/account").status_code == 302  # signed out
