"""Self-service accounts in headless Chromium: sign up through prompt=create with the mail delivered to a real
SMTP server, a forgotten password, an email change and a deletion."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from app.mail.transports import transport_for
from app.services.mail_delivery import deliver_due
from tests.accounts.conftest import PASSWORD, link_in, mails
from tests.browser.conftest import browser_context
from tests.factories import DEFAULT_PASSWORD
from tests.flows import exchange_code, query_of
from tests.mail.conftest import smtp  # noqa: F401 - the fixture
from tests.mail.smtp_server import SmtpServer

pytestmark = pytest.mark.browser
NEW_PASSWORD = "a brand new passphrase here"


def test_sign_up_verify_and_sign_in_to_a_client(page, app, rp_client, live_server, authorization_request, sign_in,
                                                smtp: SmtpServer, screenshot, browser_log):  # noqa: F811
    request = authorization_request(rp_client, prompt="create")
    page.goto(request.url)
    expect(page).to_have_url(re.compile(r"/signup\?next="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    page.get_by_label("Email").fill("Chromium.Person@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password, again").fill(PASSWORD)
    screenshot(page, "signup")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your mail")

    with app.app_context():
        deliver_due(transport_for(app.config))
    message = smtp.inbox.wait_for(1)[0].message
    assert message["To"] == "chromium.person@example.com"
    link = re.search(r"http://\S+/verify-email\?token=[A-Za-z0-9_-]{43}", message.get_body(("plain",)).get_content())
    page.goto(link.group(0))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your email address")
    page.get_by_role("button", name="Confirm email address").click()

    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("status")).to_have_text("Your email address is confirmed.")
    sign_in(page, "chromium.person@example.com", PASSWORD)
    expect(page).to_have_url(re.compile(r"/oauth/authorize\?"))
    with page.expect_request(lambda sent: sent.url.startswith(rp_client.redirect_uri + "?")) as callback:
        page.get_by_role("button", name="Allow", exact=True).click()
    query = query_of(callback.value.url)
    tokens = exchange_code(live_server, rp_client, query["code"], request.verifier).json()
    userinfo = requests.get(f"{live_server}/oauth/userinfo",
                            headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert userinfo["email"] == "chromium.person@example.com" and userinfo["email_verified"] is True
    assert browser_log.errors == []


def test_forgot_password_signs_out_the_old_sessions(chromium, page, app, make, live_server, sign_in, browser_log):
    make.user("forgetful@example.com")
    with browser_context(chromium, live_server, browser_log) as elsewhere:
        old = elsewhere.new_page()
        old.goto("/login")
        sign_in(old, "forgetful@example.com")
        old.goto("/account")
        expect(old.get_by_role("heading", level=1)).to_have_text("Your account")

        page.goto("/login")
        page.get_by_role("link", name="Forgot password?").click()
        page.get_by_label("Email").fill("forgetful@example.com")
        page.get_by_role("button", name="Send link").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your mail")
        page.goto(link_in(mails(app, "forgetful@example.com", "password_reset")[0]))
        page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("New password, again").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Save password").click()
        expect(page).to_have_url(re.compile(r"/login\?login_hint="))

        old.goto("/account")
        expect(old).to_have_url(re.compile(r"/login\?next=/account"))  # that session is gone
    sign_in(page, "forgetful@example.com", NEW_PASSWORD)
    page.goto("/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")


def test_change_email_then_delete_the_account(page, app, make, sign_in, browser_log):
    make.user("before@example.com", email_verified=True)
    page.goto("/login?next=/account")
    sign_in(page, "before@example.com")
    page.get_by_label("New email address").fill("after@example.com")
    page.locator("#email_password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Change email address").click()
    expect(page.get_by_role("status")).to_contain_text("We sent a link to after@example.com")
    page.goto(link_in(mails(app, "after@example.com", "email_change")[0]))
    page.get_by_role("button", name="Use this address").click()
    expect(page.locator("#signed-in-as")).to_have_text("after@example.com")

    page.get_by_role("link", name="Delete your account and everything in it").click()
    page.get_by_label("Your password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account was deleted")
    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/login"))
