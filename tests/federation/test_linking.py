"""The linking and provisioning rules (README "Federation"), each proven against the real upstream: never by an
unverified email, never into an unverified account, otherwise only by proof (password, mailed link) or an
operator's trusted domain; just-in-time accounts only when the provider allows them."""

from __future__ import annotations

import html
import re
import sqlite3
import threading
import time
from contextlib import closing

import pytest
import requests
from sqlalchemy import insert, select

from app.extensions import db
from app.models import AuditEvent, FederatedIdentity, LoginSession, OutboxMessage, UpstreamProvider, User
from tests.factories import DEFAULT_PASSWORD
from tests.federation.conftest import TOKEN, USERINFO, FederatedBrowser, Tamper, merged
from tests.federation.test_attacks import START, reason
from tests.flows import csrf_token
from tests.protocol.test_token_families import waiting_for_the_row


def identities(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [(i.user.email, i.provider.name) for i in db.session.scalars(select(FederatedIdentity))]


def accounts(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(select(User.email)))


@pytest.mark.parametrize(("local", "upstream_login", "status", "expected"), [
    # An upstream email it does not vouch for never finds an account (account takeover), nor makes one.
    ({"email": "bob@upstream.example", "email_verified": True}, "bob@upstream.example", 409, "account_exists"),
    (None, "bob@upstream.example", 400, "no_verified_email"),
    # An account whose own email was never verified never captures an identity (pre-hijacking).
    ({"email": "carol@upstream.example", "email_verified": False}, "carol@upstream.example", 409, "account_exists"),
    # A disabled account stays shut, whatever the upstream says.
    ({"email": "carol@upstream.example", "email_verified": True, "is_active": False}, "carol@upstream.example", 409,
     "account_exists"),
])
def test_no_link_without_proof(app, make, browser, provider, local, upstream_login, status, expected):
    before = []
    if local:
        active = local.pop("is_active", True)
        user = make.user(**local)
        if not active:
            with app.app_context():
                db.session.get(User, user.id).is_active = False
                db.session.commit()
        before = [user.email]
    response = browser.sign_in(START, login=upstream_login)
    assert (response.status_code, reason(response)) == (status, expected)
    assert identities(app) == [] and accounts(app) == before


@pytest.mark.parametrize(("policy", "allowed_domains", "settings", "login", "refused"), [
    ("open", [], {}, "alice@upstream.example", None),
    ("open", [], {"allow_sign_up": False}, "alice@upstream.example", "provider"),
    ("closed", [], {}, "alice@upstream.example", "sign_up_policy"),
    ("invite", [], {}, "alice@upstream.example", "sign_up_policy"),
    ("open", ["other.example"], {}, "alice@upstream.example", "sign_up_policy"),
    ("open", ["upstream.example"], {}, "alice@upstream.example", None),
    # A provider authoritative for a domain makes its people's accounts whatever OSTIARY_SIGNUP says...
    ("closed", [], {"trusted_domains": ["corp.example"]}, "dave@corp.example", None),
    # ... and only theirs; --no-sign-up still refuses.
    ("closed", [], {"trusted_domains": ["corp.example"]}, "alice@upstream.example", "sign_up_policy"),
    ("closed", [], {"trusted_domains": ["corp.example"], "allow_sign_up": False}, "dave@corp.example", "provider"),
])
def test_accounts_made_just_in_time_follow_the_sign_up_policy(app, browser, add_provider, monkeypatch, policy,
                                                              allowed_domains, settings, login, refused):
    monkeypatch.setitem(app.config, "SIGNUP", policy)
    monkeypatch.setitem(app.config, "SIGNUP_ALLOWED_DOMAINS", allowed_domains)
    add_provider(**settings)
    response = browser.sign_in(START, login=login)
    if refused is None:
        assert response.status_code == 302 and accounts(app) == [login] and identities(app) == [(login, "upstream")]
        return
    assert (response.status_code, reason(response)) == (400, "sign_up_closed")
    assert "cannot be used to create one" in response.text and accounts(app) == [] and identities(app) == []
    with app.app_context():
        audited = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "federation.sign_in"))
        assert (audited.details["reason"], audited.details["cause"]) == ("sign_up_closed", refused)


def _link_page(browser: FederatedBrowser, make) -> str:
    make.user(email="carol@upstream.example", email_verified=True)
    response = browser.sign_in(START, login="carol@upstream.example")
    assert response.status_code == 200 and 'id="account-email"' in response.text, response.text[:400]
    return response.text


def test_the_password_of_the_existing_account_links_it(app, make, browser, provider):
    page = _link_page(browser, make)
    link = f"{browser.base_url}/federation/link"
    wrong = browser.session.post(link, data={"password": "not it", "csrf_token": csrf_token(page)},
                                 allow_redirects=False)
    assert wrong.status_code == 401 and identities(app) == []
    # Another browser has no pending link, even with the right password.
    other = FederatedBrowser(browser.base_url, browser.upstream)
    other_page = other.session.get(f"{browser.base_url}/login").text
    assert other.session.post(link, data={"password": DEFAULT_PASSWORD, "csrf_token": csrf_token(other_page)},
                              allow_redirects=False).status_code == 400
    right = browser.session.post(link, data={"password": DEFAULT_PASSWORD, "csrf_token": csrf_token(wrong.text)},
                                 allow_redirects=False)
    assert right.status_code == 302 and right.headers["Location"] == "/account"
    assert identities(app) == [("carol@upstream.example", "upstream")]
    with app.app_context():
        session = db.session.scalar(select(LoginSession))
        assert (session.amr, session.idp) == ("pwd fed", "upstream")
    # From now on the upstream alone signs carol in.
    again = FederatedBrowser(browser.base_url, browser.upstream).sign_in(START, login="carol@upstream.example")
    assert again.status_code == 302


def test_a_link_mailed_to_the_existing_account_links_it(app, make, browser, provider):
    page = _link_page(browser, make)
    mailed = browser.session.post(f"{browser.base_url}/federation/link/mail", data={"csrf_token": csrf_token(page)})
    assert mailed.status_code == 200 and "carol@upstream.example" in mailed.text and identities(app) == []
    with app.app_context():
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "carol@upstream.example"))
        link = re.search(r"http://\S+/federation/link/confirm\?token=[A-Za-z0-9_-]+", message.text_body).group(0)
    # Read in the mail program (another browser): the GET only shows what would be linked.
    reader = FederatedBrowser(browser.base_url, browser.upstream)
    shown = reader.session.get(link)
    assert shown.status_code == 200 and identities(app) == []
    token = html.unescape(re.search(r'name="token" value="([^"]+)"', shown.text).group(1))
    confirmed = reader.session.post(f"{browser.base_url}/federation/link/confirm",
                                    data={"token": token, "csrf_token": csrf_token(shown.text)})
    assert confirmed.status_code == 200 and 'id="linked"' in confirmed.text
    assert identities(app) == [("carol@upstream.example", "upstream")]
    # Used once.
    assert reader.session.get(link).status_code == 400
    # The pending link of the first browser no longer links anything else.
    assert FederatedBrowser(browser.base_url, browser.upstream).sign_in(
        START, login="carol@upstream.example").status_code == 302


def test_a_trusted_domain_links_a_verified_account_at_once(app, make, browser, add_provider):
    make.user(email="dave@corp.example", email_verified=True)
    add_provider(trusted_domains=["corp.example"])
    response = browser.sign_in(START, login="dave@corp.example")
    assert response.status_code == 302
    assert identities(app) == [("dave@corp.example", "upstream")] and accounts(app) == ["dave@corp.example"]


@pytest.mark.parametrize(("groups", "roles"), [
    (None, []),  # the upstream asserts no groups
    (["staff", "guests"], ["admin", "staff-reader"]),
    (["guests"], []),  # a group the mapping does not name gives nothing
    (["Staff", "admin"], []),  # names match exactly; an upstream group named like a role is no role
    ("staff", []),  # not a list
    ([{"name": "staff"}, 7, None], []),
])
def test_groups_map_to_roles_only_through_the_mapping(app, browser, add_provider, upstream_proxy, groups, roles):
    add_provider(role_mapping={"staff": "admin", "guests": "staff-reader"} if roles else {"staff": "admin"})
    if groups is not None:
        upstream_proxy.tamper(USERINFO, Tamper(json=merged(groups=groups)))
    assert browser.sign_in(START).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(User)).roles == roles


def test_mapped_roles_are_given_only_to_accounts_made_just_in_time(app, make, browser, add_provider, upstream_proxy):
    """An existing account linked through the provider keeps its roles: the mapping provisions, it never promotes."""
    make.user(email="dave@corp.example", email_verified=True)
    add_provider(trusted_domains=["corp.example"], role_mapping={"staff": "admin"})
    upstream_proxy.tamper(USERINFO, Tamper(json=merged(groups=["staff"])))
    assert browser.sign_in(START, login="dave@corp.example").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(User)).roles == []


def test_the_last_way_in_cannot_be_unlinked(app, browser, provider):
    assert browser.sign_in(START).status_code == 302  # an account made just in time: no password
    with app.app_context():
        identity_id = db.session.scalar(select(FederatedIdentity.id))
    assert "cannot be unlinked" in browser.session.get(f"{browser.base_url}/account/linked").text
    profile = browser.session.get(f"{browser.base_url}/account")  # no Unlink form to take a CSRF token from
    response = browser.session.post(f"{browser.base_url}/account/linked/{identity_id}/remove",
                                    data={"csrf_token": csrf_token(profile.text)})
    assert response.status_code == 200 and "only way to sign in" in response.text
    assert identities(app) == [("alice@upstream.example", "upstream")]


def _upstream_sub(upstream, email: str) -> str:
    """The subject the upstream asserts for this person: its own account's sub."""
    path = upstream.env["OSTIARY_DATABASE_URL"].removeprefix("sqlite:///")
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("SELECT sub FROM users WHERE email = ?", (email,)).fetchone()[0]


def answer_racing_a_link(app, browser: FederatedBrowser, callback: str, user_id: int, email: str) -> requests.Response:
    """Opens the upstream's answer about `email` while another request has linked that identity to `user_id`
    without committing yet; commits it once the answer waits for the row (the concurrent_writers fixture)."""
    answers: list[requests.Response] = []
    with app.app_context(), db.engine.connect() as other:
        other.execute(insert(FederatedIdentity).values(
            user_id=user_id, provider_id=db.session.scalar(select(UpstreamProvider.id)),
            subject=_upstream_sub(browser.upstream, email), created_at=int(time.time())))
        returning = threading.Thread(target=lambda: answers.append(browser.back(callback)))
        returning.start()
        waiting_for_the_row(other)
        other.commit()
        returning.join(timeout=30)
    assert not returning.is_alive()
    return answers[0]


@pytest.mark.parametrize("winner", [
    "dave@corp.example",  # another tab of the same person linked it a moment earlier
    "erin@example.com",  # another account linked it first: the identity signs in to that account, as it would later
])
def test_an_identity_linked_by_a_concurrent_sign_in_is_never_a_server_error(app, make, browser, add_provider,
                                                                            concurrent_writers, winner):
    """Two answers for one upstream identity at once (two tabs, a double submit): the (provider, sub) constraint
    decides, and the request that loses decides again."""
    ids = {email: make.user(email=email, email_verified=True).id for email in ("dave@corp.example", "erin@example.com")}
    add_provider(trusted_domains=["corp.example"])  # Dave's verified email would link his account at once
    callback = browser.upstream_answer(START, login="dave@corp.example")
    response = answer_racing_a_link(app, browser, callback, ids[winner], "dave@corp.example")
    assert response.status_code == 302, response.text[:300]
    with app.app_context():
        signed_in = db.session.scalar(select(LoginSession.user_id))
    assert identities(app) == [(winner, "upstream")] and signed_in == ids[winner]


@pytest.mark.parametrize(("case", "local_verified", "upstream_verified"), [
    ("an account never confirmed (pre-hijacking)", False, True),
    ("an email the upstream does not vouch for", True, False),
])
def test_a_trusted_domain_links_only_verified_emails_on_both_sides(app, make, browser, add_provider, upstream_proxy,
                                                                   case, local_verified, upstream_verified):
    make.user(email="dave@corp.example", email_verified=local_verified)
    add_provider(trusted_domains=["corp.example"])
    if not upstream_verified:
        upstream_proxy.tamper(TOKEN, Tamper(claims=lambda claims: claims | {"email_verified": False}))
        upstream_proxy.tamper(USERINFO, Tamper(json=merged(email_verified=False)))
    response = browser.sign_in(START, login="dave@corp.example")
    assert (response.status_code, reason(response)) == (409, "account_exists"), case
    assert identities(app) == [] and accounts(app) == ["dave@corp.example"]
