"""Self-service flows through the pages (Flask client), with the mailed links read from the outbox."""

from __future__ import annotations

import statistics
import time

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, LoginSession, OneTimeToken, User
from app.services import users
from app.web import self_service
from tests.accounts.conftest import PASSWORD, code_in, link_in, mails
from tests.factories import DEFAULT_PASSWORD

NEW_PASSWORD = "another quite long passphrase"


def _user(app, email):
    with app.app_context():
        found = users.find_by_email(email)
        db.session.expunge_all()
        return found


def _token(link: str) -> str:
    return link.split("token=")[1]


def test_sign_up_then_verify_in_the_same_browser_then_sign_in(app, client, sign_up, post):
    assert sign_up("New.Person@Example.COM", name="New").status_code == 302
    assert "new.person@example.com" in client.get("/signup/sent").get_data(as_text=True)
    pending = _user(app, "new.person@example.com")
    assert pending.registration_pending and not pending.email_verified
    # Not before the address is confirmed, and only with the right password is that said.
    refused = post("/login", login="new.person@example.com", password=PASSWORD)
    assert refused.status_code == 403 and "Confirm your email address first" in refused.get_data(as_text=True)
    assert post("/login", login="new.person@example.com", password="wrong password").status_code == 401
    link = link_in(mails(app, "new.person@example.com", "verify_email")[0])
    page = client.get(link).get_data(as_text=True)
    assert 'name="password"' not in page  # the browser that signed up confirms with one click
    assert post("/verify-email", page=link, token=_token(link)).status_code == 302
    verified = _user(app, "new.person@example.com")
    assert verified.email_verified and not verified.registration_pending
    assert post("/login", login="new.person@example.com", password=PASSWORD).status_code == 302


def test_the_code_confirms_on_the_sign_up_browser(app, client, sign_up, post):
    sign_up("coder@example.com")
    code = code_in(mails(app, "coder@example.com", "verify_email")[0])
    assert post("/signup/sent", code="000000" if code != "000000" else "111111").status_code == 400
    assert post("/signup/sent", code=code).status_code == 302
    assert _user(app, "coder@example.com").email_verified


def test_a_taken_address_gets_the_same_answer_and_a_notice(app, client, make, sign_up):
    make.user("taken@example.com", email_verified=True)
    first = sign_up("taken@example.com")
    second = sign_up("free@example.com")
    assert first.status_code == second.status_code == 302 and first.location == second.location
    assert [m.template for m in mails(app, "taken@example.com")] == ["signup_existing"]
    assert [m.template for m in mails(app, "free@example.com")] == ["verify_email"]
    with app.app_context():
        assert users.find_by_email("taken@example.com").password_hash  # untouched
        assert db.session.scalar(select(User).where(User.email == "taken@example.com")).registration_pending is False


def test_pre_hijacking_an_unsolicited_link_cannot_complete_the_attackers_registration(app, make, client, sign_up):
    """The rule: an unverified registration never keeps its address against the mailbox's owner."""
    attacker = app.test_client()
    attacker.post("/signup", data={})  # a session of its own
    from tests.accounts.conftest import csrf
    attacker.post("/signup", data={"csrf_token": csrf(attacker, "/signup"), "email": "victim@example.com",
                                   "password": PASSWORD, "confirm_password": PASSWORD})
    link = link_in(mails(app, "victim@example.com", "verify_email")[0])
    # The victim's browser did not sign up: the password chosen at sign-up is asked for, and the link stays usable.
    page = client.get(link).get_data(as_text=True)
    assert 'name="password"' in page and "cancel" in page
    token = _token(link)
    assert client.post("/verify-email", data={"csrf_token": csrf(client, link), "token": token,
                                              "password": "a guess at it"}).status_code == 400
    assert _user(app, "victim@example.com").registration_pending
    # "I did not sign up": the registration is gone, and the victim's own sign-up takes the address.
    client.post("/verify-email", data={"csrf_token": csrf(client, link), "token": token, "decision": "cancel"})
    assert _user(app, "victim@example.com") is None
    sign_up("victim@example.com", password=NEW_PASSWORD)
    assert _user(app, "victim@example.com").registration_pending


def test_guesses_at_the_registrants_password_count_as_failed_sign_ins(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "SIGN_IN_FAILURES_PER_ACCOUNT", 2)
    attacker = app.test_client()
    from tests.accounts.conftest import csrf
    attacker.post("/signup", data={"csrf_token": csrf(attacker, "/signup"), "email": "guessed@example.com",
                                   "password": PASSWORD, "confirm_password": PASSWORD})
    link = link_in(mails(app, "guessed@example.com", "verify_email")[0])
    form = {"csrf_token": csrf(client, link), "token": _token(link), "password": "a guess"}
    assert [client.post("/verify-email", data=form).status_code for _ in range(3)] == [400, 400, 429]
    assert _user(app, "guessed@example.com").registration_pending


def test_pre_hijacking_a_later_sign_up_replaces_the_pending_one(app, client, sign_up):
    other = app.test_client()
    from tests.accounts.conftest import csrf
    other.post("/signup", data={"csrf_token": csrf(other, "/signup"), "email": "owner@example.com",
                                "password": PASSWORD, "confirm_password": PASSWORD})
    first = _user(app, "owner@example.com")
    sign_up("owner@example.com", password=NEW_PASSWORD)
    second = _user(app, "owner@example.com")
    assert second.sub != first.sub
    old_link, new_link = (link_in(m) for m in mails(app, "owner@example.com", "verify_email"))
    assert client.get(old_link).status_code == 400  # the first registrant's link is void
    assert client.get(new_link).status_code == 200


def test_pre_hijacking_an_invitation_or_reset_claims_a_pending_registration(app, client, post, sign_up):
    other = app.test_client()
    from tests.accounts.conftest import csrf
    other.post("/signup", data={"csrf_token": csrf(other, "/signup"), "email": "invited@example.com",
                                "password": PASSWORD, "confirm_password": PASSWORD})
    with app.app_context():
        from app.services import invitations
        invitations.invite("invited@example.com", actor="admin")
    link = link_in(mails(app, "invited@example.com", "invitation")[0])
    assert post("/invitation", page=link, token=_token(link), new_password=NEW_PASSWORD,
                confirm_password=NEW_PASSWORD).status_code == 302
    account = _user(app, "invited@example.com")
    assert account.email_verified and not account.registration_pending
    assert post("/login", login="invited@example.com", password=PASSWORD).status_code == 401
    assert post("/login", login="invited@example.com", password=NEW_PASSWORD).status_code == 302


def test_forgot_password_answers_alike_and_mails_real_accounts_only(app, make, post):
    make.user("real@example.com")
    real = post("/forgot-password", email="Real@Example.com")
    unknown = post("/forgot-password", email="nobody@example.com")
    assert real.status_code == unknown.status_code == 200
    assert real.get_data(as_text=True).replace("real", "x") == unknown.get_data(as_text=True).replace("real", "x")
    assert [m.recipient for m in mails(app)] == ["real@example.com"]


@pytest.mark.slow
def test_forgot_password_takes_as_long_for_an_unknown_address(app, make, client, monkeypatch):
    monkeypatch.setattr(self_service, "MIN_ANSWER_SECONDS", 0.5)
    make.user("timed@example.com")
    from tests.accounts.conftest import csrf
    token = csrf(client, "/forgot-password")
    took: dict[str, list[float]] = {"timed@example.com": [], "untimed@example.com": []}
    for _ in range(3):
        for email, times in took.items():
            started = time.monotonic()
            client.post("/forgot-password", data={"csrf_token": token, "email": email})
            times.append(time.monotonic() - started)
    known, unknown = (statistics.median(times) for times in took.values())
    assert min(known, unknown) >= 0.5 and abs(known - unknown) < 0.1


def test_a_reset_signs_out_everywhere_and_never_signs_in(app, make, client, post):
    make.user("reset@example.com")
    browser = app.test_client()
    from tests.accounts.conftest import csrf
    browser.post("/login", data={"csrf_token": csrf(browser), "login": "reset@example.com",
                                 "password": DEFAULT_PASSWORD})
    assert browser.get("/account").status_code == 200
    post("/forgot-password", email="reset@example.com")
    link = link_in(mails(app, "reset@example.com", "password_reset")[0])
    answer = post("/reset-password", page=link, token=_token(link), new_password=NEW_PASSWORD,
                  confirm_password=NEW_PASSWORD)
    assert answer.status_code == 302 and answer.location.startswith("/login")
    assert client.get("/account").status_code == 302  # not signed in by the link
    assert browser.get("/account").status_code == 302  # the old session is gone
    with app.app_context():
        assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.event == "user.password_reset"))
    # Used once: the same link, and the same message for every kind of bad link.
    assert client.get(link).status_code == 400
    assert post("/login", login="reset@example.com", password=NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("token", ["", "x" * 43, "A" * 42, "A" * 43, "\x00" * 43, "é" * 43, "A" * 5000])
def test_bad_links_get_one_readable_page(client, token):
    for path in ("/reset-password", "/verify-email", "/invitation", "/account/email/confirm"):
        answer = client.get(path, query_string={"token": token})
        assert answer.status_code == 400 and "invalid or has expired" in answer.get_data(as_text=True), path


def test_a_newer_reset_link_supersedes_and_a_password_change_voids(app, make, client, post):
    make.user("twice@example.com")
    post("/forgot-password", email="twice@example.com")
    post("/forgot-password", email="twice@example.com")
    first, second = (link_in(m) for m in mails(app, "twice@example.com", "password_reset"))
    assert client.get(first).status_code == 400 and client.get(second).status_code == 200
    with app.app_context():
        users.set_password(users.find_by_email("twice@example.com"), NEW_PASSWORD, actor="admin")
    assert client.get(second).status_code == 400


def test_reset_links_are_built_on_the_issuer_never_the_host_header(app, make, client):
    make.user("host@example.com")
    from tests.accounts.conftest import csrf
    token = csrf(client, "/forgot-password")
    client.post("/forgot-password", data={"csrf_token": token, "email": "host@example.com"},
                headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
    body = mails(app, "host@example.com")
    assert all("evil" not in m.text_body and app.config["ISSUER"] in m.text_body for m in body)


def test_email_change_confirms_the_new_address_and_notifies_the_old(app, make, client, post):
    make.user("old@example.com", email_verified=True)
    other = app.test_client()
    from tests.accounts.conftest import csrf
    other.post("/login", data={"csrf_token": csrf(other), "login": "old@example.com", "password": DEFAULT_PASSWORD})
    post("/login", login="old@example.com", password=DEFAULT_PASSWORD)
    answer = post("/account/email", page="/account", email="New@Example.com", password=DEFAULT_PASSWORD)
    assert answer.status_code == 302
    assert _user(app, "old@example.com") is not None  # nothing changes before the link is used
    assert [m.template for m in mails(app, "old@example.com")] == ["email_change_notice"]
    link = link_in(mails(app, "new@example.com", "email_change")[0])
    assert post("/account/email/confirm", page=link, token=_token(link)).status_code == 302
    changed = _user(app, "new@example.com")
    assert changed is not None and changed.email_verified and _user(app, "old@example.com") is None
    assert client.get("/account").status_code == 200  # the confirming session stays
    assert other.get("/account").status_code == 302  # the others end: the change is a factor change


def test_email_change_needs_the_password_once_the_sign_in_is_old(app, make, client, post):
    make.user("slow@example.com")
    post("/login", login="slow@example.com", password=DEFAULT_PASSWORD)
    with app.app_context():
        db.session.execute(LoginSession.__table__.update().values(auth_time=0))
        db.session.commit()
    post("/account/email", page="/account", email="elsewhere@example.com", password="not it")
    assert mails(app, "elsewhere@example.com") == []


def test_account_deletion_needs_the_password_and_takes_everything(app, make, client, post):
    user = make.user("leaving@example.com")
    post("/login", login="leaving@example.com", password=DEFAULT_PASSWORD)
    assert post("/account/delete", password="wrong one").status_code == 400
    assert _user(app, "leaving@example.com") is not None
    answer = post("/account/delete", password=DEFAULT_PASSWORD)
    assert answer.status_code == 302 and client.get(answer.location).status_code == 200
    assert _user(app, "leaving@example.com") is None
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "user.deleted"))
        assert event.user_sub == user.sub and "leaving" not in str(event.details)
        assert db.session.scalar(select(LoginSession.id)) is None
        assert db.session.scalar(select(OneTimeToken.id)) is None


@pytest.mark.parametrize("email", ["not-an-address", "a@b", "аdmin@example.com", "ａ́@example.com",
                                   "x@localhost", "a\r\nBcc: x@example.com", "a" * 400 + "@example.com"])
def test_malformed_and_confusable_addresses_are_refused(app, sign_up, email):
    answer = sign_up(email)
    assert answer.status_code == 400 and "valid email address" in answer.get_data(as_text=True)
    assert mails(app) == []


def test_compatibility_forms_fold_and_a_look_alike_domain_is_stored_in_its_xn_form(app, sign_up):
    sign_up("ｕｓｅｒ@Example.com")  # full-width letters: NFKC makes them plain, as sign-in does
    sign_up("me@exаmple.com")  # a Cyrillic a: never stored or shown as the Latin example.com
    assert [m.recipient for m in mails(app)] == ["user@example.com", "me@xn--exmple-4nf.com"]


@pytest.mark.parametrize("policy, status", [("closed", 403), ("invite", 403)])
def test_sign_up_policy(app, sign_up, monkeypatch, policy, status):
    monkeypatch.setitem(app.config, "SIGNUP", policy)
    assert sign_up("closed@example.com").status_code == status
    assert mails(app) == []


def test_allowed_domains(app, sign_up, monkeypatch):
    monkeypatch.setitem(app.config, "SIGNUP_ALLOWED_DOMAINS", ["example.org"])
    assert sign_up("me@example.com").status_code == 400
    assert sign_up("me@example.org").status_code == 302


def test_mail_forms_are_rate_limited_per_address(app, make, post, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_REQUESTS_PER_ADDRESS", 2)
    statuses = [post("/forgot-password", email="limited@example.com").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_expired_and_foreign_links_are_refused_alike(app, make, client, post, sign_up):
    make.user("expiring@example.com")
    post("/forgot-password", email="expiring@example.com")
    sign_up("foreign@example.com")
    reset = link_in(mails(app, "expiring@example.com", "password_reset")[0])
    verification = link_in(mails(app, "foreign@example.com", "verify_email")[0])
    # A verification token at the reset page, and the reverse: another purpose is no token at all.
    assert client.get("/reset-password?token=" + _token(verification)).status_code == 400
    assert client.get("/verify-email?token=" + _token(reset)).status_code == 400
    with app.app_context():
        db.session.execute(OneTimeToken.__table__.update().values(expires_at=1))
        db.session.commit()
    for link in (reset, verification):
        assert client.get(link).status_code == 400
    assert post("/reset-password", page="/login", token=_token(reset), new_password=NEW_PASSWORD,
                confirm_password=NEW_PASSWORD).status_code == 400
