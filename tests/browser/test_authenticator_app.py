"""An authenticator app in headless Chromium: set up on the account page from the key it shows (pyotp plays the
app), a wrong first code and then the right one, the recovery codes shown once; then a sign-in with the app's
code, and one with a recovery code, which is mailed. Each page, the security tab with its passkey script
included, passes the checks of every hosted page."""

from __future__ import annotations

import re
import time

import pyotp
from playwright.sync_api import expect

from app.services import second_factors
from tests.accounts.conftest import mails
from tests.browser.quality import assert_page_quality

EMAIL = "ana@example.com"


def sign_out(page) -> None:
    page.goto("/logout")
    page.get_by_role("button", name="Sign out").click()


def test_set_up_then_sign_in_with_the_app_then_with_a_recovery_code(app, page, live_server, make, sign_in,
                                                                     browser_log):
    user = make.user(EMAIL)
    page.goto("/login?next=/account/security")
    sign_in(page, EMAIL)
    expect(page.locator("#totp-status")).to_have_text("Off.")
    page.wait_for_function("document.querySelector('form[data-passkey]').hidden === false")  # passkeys.js ran
    assert_page_quality(page, browser_log, live_server)
    page.get_by_role("button", name="Set up an authenticator app").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Set up an authenticator app")
    expect(page.locator("#totp-qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    assert f"secret={secret}" in page.locator("#totp-uri").get_attribute("href")
    assert_page_quality(page, browser_log, live_server)
    app_codes = pyotp.TOTP(secret)
    page.get_by_label("Code from the app").fill("000000" if app_codes.now() != "000000" else "111111")
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#error")).to_contain_text("that code is not correct")
    browser_log.errors.clear()  # the 400 of the wrong code, reported by Chromium as a console error
    page.get_by_label("Code from the app").fill(app_codes.now())
    page.get_by_role("button", name="Turn on").click()

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(set(codes)) == 10 and all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", code) for code in codes)
    assert_page_quality(page, browser_log, live_server)
    page.get_by_role("link", name="I have saved them").click()
    expect(page.locator("#totp-status")).to_contain_text("On")
    sign_out(page)

    # The app's code of the next step: the one of this step confirmed the set-up, and is spent.
    page.goto("/login?next=/account")
    sign_in(page, EMAIL)
    expect(page.get_by_role("heading", name="Confirm it’s you")).to_be_visible()
    assert_page_quality(page, browser_log, live_server)
    page.get_by_label("Code from your authenticator app").fill(app_codes.at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#signed-in-as")).to_have_text(EMAIL)
    sign_out(page)

    page.goto("/login?next=/account")
    sign_in(page, EMAIL)
    page.get_by_text("Use a recovery code").click()
    assert_page_quality(page, browser_log, live_server)  # now with the recovery code's form on screen
    page.get_by_label("Recovery code").fill(codes[0].upper())
    page.get_by_role("button", name="Use recovery code").click()
    expect(page.locator("#signed-in-as")).to_have_text(EMAIL)
    with app.app_context():
        assert second_factors.remaining_recovery_codes(user) == 9
    assert [message.template for message in mails(app, EMAIL)] == ["recovery_code_used"]
    assert browser_log.errors == []
