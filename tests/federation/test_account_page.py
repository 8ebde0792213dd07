"""Linking from the account page (README "Federation"): a signed-in person links another way in after a recent
sign-in or with the password; an identity linked to another account stays there; the upstream's answer links
only into the account that set out, in the browser that set out."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, FederatedIdentity, User
from tests.factories import DEFAULT_PASSWORD
from tests.federation.conftest import FederatedBrowser
from tests.federation.test_attacks import START, reason
from tests.federation.test_linking import answer_racing_a_link, identities
from tests.flows import Browser, csrf_token


def signed_in_as(browser: FederatedBrowser, make, email: str) -> str:
    """Signs `email` in with a password in this browser: its Linked sign-ins page."""
    make.user(email, email_verified=True)
    assert Browser(browser.base_url, browser.session).login(email).status_code == 302
    return linked_page(browser)


def linked_page(browser: FederatedBrowser) -> str:
    return browser.session.get(f"{browser.base_url}/account/linked").text


def link(browser: FederatedBrowser, page: str, **form: str) -> requests.Response:
    return browser.session.post(f"{browser.base_url}/account/linked/upstream/link",
                                data={"csrf_token": csrf_token(page), **form}, allow_redirects=False)


def audited(app, prefix: str) -> list[tuple[str, dict]]:
    with app.app_context():
        return [(event.event, event.details) for event in db.session.scalars(
            select(AuditEvent).where(AuditEvent.event.startswith(prefix)).order_by(AuditEvent.id))]


def signed_in_sub(app, email: str) -> str:
    with app.app_context():
        return db.session.scalar(select(User.sub).where(User.email == email))


def causes(app) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [(event.details["reason"], event.details.get("cause")) for event in db.session.scalars(
            select(AuditEvent).where(AuditEvent.event == "federation.sign_in"))]


def test_a_recent_sign_in_links_another_way_in_and_a_password_lets_it_go(app, make, browser, provider):
    page = signed_in_as(browser, make, "erin@example.com")
    assert 'name="password"' not in page
    back = browser.back(browser.through_upstream(link(browser, page)))
    assert back.status_code == 302 and back.headers["Location"] == "/account/linked"
    assert identities(app) == [("erin@example.com", "upstream")]
    page = linked_page(browser)
    assert "Unlink Upstream" in page  # Erin has a password: the provider is not her last way in
    with app.app_context():
        identity_id = db.session.scalar(select(FederatedIdentity.id))
    removed = browser.session.post(f"{browser.base_url}/account/linked/{identity_id}/remove",
                                   data={"csrf_token": csrf_token(page)})
    assert "Upstream is no longer linked to your account." in removed.text and identities(app) == []
    assert audited(app, "federation.") == [
        ("federation.linked", {"provider": "upstream", "how": "account_page"}),
        ("federation.unlinked", {"provider": "upstream", "actor": signed_in_sub(app, "erin@example.com")})]


def test_nobody_unlinks_another_persons_identity(app, make, browser, provider):
    assert FederatedBrowser(browser.base_url, browser.upstream).sign_in(START).status_code == 302  # Alice's
    with app.app_context():
        alices = db.session.scalar(select(FederatedIdentity.id))
    page = signed_in_as(browser, make, "erin@example.com")
    response = browser.session.post(f"{browser.base_url}/account/linked/{alices}/remove",
                                    data={"csrf_token": csrf_token(page)})
    assert response.status_code == 200 and "no such linked sign-in" in response.text
    assert identities(app) == [("alice@upstream.example", "upstream")]


def test_an_identity_linked_to_another_account_stays_there(app, make, browser, provider):
    assert FederatedBrowser(browser.base_url, browser.upstream).sign_in(START).status_code == 302  # Alice's account
    page = signed_in_as(browser, make, "erin@example.com")
    response = browser.back(browser.through_upstream(link(browser, page)))
    assert (response.status_code, reason(response)) == (409, "linked_elsewhere")
    assert identities(app) == [("alice@upstream.example", "upstream")]
    assert causes(app) == [("linked_elsewhere", None)]


@pytest.mark.parametrize(("password", "status"), [("", 400), ("not it", 400), (DEFAULT_PASSWORD, 302)])
def test_an_older_sign_in_links_only_with_the_password(app, make, browser, provider, monkeypatch, password, status):
    signed_in_as(browser, make, "erin@example.com")
    monkeypatch.setitem(app.config, "REAUTHENTICATE_SECONDS", 0)
    page = linked_page(browser)
    assert 'name="password"' in page
    response = link(browser, page, password=password)
    assert response.status_code == status, response.text[:300]
    if status == 302:
        assert response.headers["Location"].startswith(browser.upstream.url)
    else:
        assert 'id="password-error"' in response.text
    assert identities(app) == []


@pytest.mark.parametrize("meanwhile", ["signed out", "another person signed in"])
def test_the_answer_links_only_into_the_account_that_set_out(app, make, browser, provider, meanwhile):
    page = signed_in_as(browser, make, "erin@example.com")
    callback = browser.through_upstream(link(browser, page))
    if meanwhile == "signed out":
        browser.session.post(f"{browser.base_url}/logout", data={"csrf_token": csrf_token(page)})
    else:
        make.user("mallory@example.com")
        assert Browser(browser.base_url, browser.session).login("mallory@example.com").status_code == 302
    response = browser.back(callback)
    assert (response.status_code, reason(response)) == (400, "invalid_state")
    # The browser's binding went with the session it set out in: its answer is no longer this browser's.
    assert identities(app) == [] and causes(app) == [("invalid_state", "state")]


@pytest.mark.parametrize(("winner", "status", "expected"), [
    ("erin@example.com", 302, None),  # a double submit: linked once
    ("alice@upstream.example", 409, "linked_elsewhere"),  # another account linked it first: it stays there
])
def test_a_link_made_by_a_concurrent_request_is_never_a_server_error(app, make, browser, provider, concurrent_writers,
                                                                     winner, status, expected):
    page = signed_in_as(browser, make, "erin@example.com")
    make.user(email="alice@upstream.example", email_verified=True)
    callback = browser.through_upstream(link(browser, page))
    with app.app_context():
        winner_id = db.session.scalar(select(User.id).where(User.email == winner))
    response = answer_racing_a_link(app, browser, callback, winner_id, "alice@upstream.example")
    assert response.status_code == status, response.text[:300]
    if expected:
        assert reason(response) == expected
    assert identities(app) == [(winner, "upstream")]
