"""The account page in headless Chromium: create an API key, see it listed, revoke it, sign out another session."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from app.models import LoginSession
from tests.browser.quality import CONTRAST_PROBLEMS, UNLABELLED_CONTROLS, assert_page_quality
from tests.factories import DEFAULT_PASSWORD, RegisteredClient
from tests.flows import (
    Browser,
    assert_oauth_error,
    authorization_params,
    client_credentials,
    exchange_code,
    pkce_pair,
    query_of,
    refresh,
    tokens_for,
)

EMAIL = "kim@example.com"


@pytest.fixture
def kim(make):
    return make.user(EMAIL, name="Kim", scope="billing:read billing:write")


def test_create_list_use_and_revoke_an_api_key(page, live_server, kim, sign_in, screenshot, browser_log):
    page.goto("/login")
    sign_in(page, EMAIL)
    page.get_by_role("link", name="Your account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    page.get_by_role("navigation", name="Account").get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API keys")
    expect(page.locator("#api-keys")).to_contain_text("You have no API keys.")

    page.get_by_label("Name").fill("Nightly export")
    page.get_by_label("billing:read").check()
    page.get_by_label("Expires after").select_option(label="90 days")
    page.get_by_role("button", name="Create key").click()

    key = page.locator("#new-key").inner_text()
    assert re.fullmatch(r"ost_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", key)
    key_id = key.split("_")[1]
    expect(page.get_by_role("status")).to_contain_text("will not be shown again")
    item = page.locator(f'#api-keys li[data-key="{key_id}"]')
    expect(item).to_contain_text("Nightly export")
    expect(item).to_contain_text(f"ost_{key_id}_…")
    expect(item).to_contain_text("billing:read")
    expect(item.locator("dd").nth(3)).to_have_text("never")  # last used
    screenshot(page, "account-api-key-created")

    assert client_credentials(live_server, RegisteredClient(key_id, key, "")).json()["scope"] == "billing:read"
    page.goto("/account/api-keys")
    expect(page.locator("#new-key")).to_have_count(0)
    expect(item.locator("dd").nth(3)).not_to_have_text("never")  # the key was used

    item.get_by_role("button", name="Revoke “Nightly export”").click()
    expect(page.get_by_role("status")).to_have_text("The key “Nightly export” was revoked.")
    expect(page.locator(f'#api-keys li[data-key="{key_id}"] .tag')).to_have_text("Revoked")
    expect(page.get_by_role("button", name="Revoke “Nightly export”")).to_have_count(0)
    assert_oauth_error(client_credentials(live_server, RegisteredClient(key_id, key, "")), "invalid_client", 401)
    screenshot(page, "account-api-key-revoked")
    assert browser_log.errors == []


def test_sign_out_another_session(chromium, page, live_server, kim, sign_in, screenshot, browser_log):
    laptop = chromium.new_context(base_url=live_server, user_agent=(
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"))
    try:
        other = laptop.new_page()
        other.goto("/login")
        sign_in(other, EMAIL)
        expect(other.locator("#signed-in-as")).to_have_text(EMAIL)

        page.goto("/login")
        sign_in(page, EMAIL)
        page.goto("/account/sessions")
        sessions = page.locator("#sessions > li")
        expect(sessions).to_have_count(2)
        this = sessions.filter(has_text="This browser")
        expect(this).to_contain_text("Chrome on Linux")
        expect(this.get_by_role("button")).to_have_count(0)
        firefox = sessions.filter(has_text="Firefox on Linux")
        expect(firefox).to_contain_text("127.0.0.1")
        screenshot(page, "account-sessions")

        firefox.get_by_role("button", name="Sign out this session").click()
        expect(page.get_by_role("status")).to_have_text("That session was signed out.")
        expect(page.locator("#sessions > li")).to_have_count(1)

        other.goto("/account")  # its next request
        expect(other.get_by_role("heading", level=1)).to_have_text("Sign in")
        other.wait_for_load_state("networkidle")
        page.goto("/account")
        expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    finally:
        laptop.close()
    assert browser_log.errors == []


def test_sign_out_another_session_and_disconnect_its_apps(live_server, make, page, kim, sign_in, screenshot,
                                                          browser_log):
    rp = make.client()
    laptop = Browser(live_server)
    laptop.session.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    assert laptop.login(EMAIL).status_code == 302
    verifier, challenge = pkce_pair()
    code = query_of(laptop.authorize(authorization_params(rp, challenge)).headers["Location"])["code"]
    tokens = exchange_code(live_server, rp, code, verifier).json()

    page.goto("/account/sessions")
    sign_in(page, EMAIL)
    firefox = page.locator("#sessions > li").filter(has_text="Firefox on Linux")
    expect(firefox.locator("dd").nth(3)).to_have_text("Test App")
    expect(page.locator("#sessions > li").filter(has_text="This browser").locator("dd").nth(3)).to_have_text("none")
    assert page.evaluate(UNLABELLED_CONTROLS) == [] and page.evaluate(CONTRAST_PROBLEMS) == []
    assert firefox.locator("label.check").bounding_box()["height"] >= 44
    firefox.get_by_label("Also disconnect Test App").check()
    screenshot(page, "account-sessions-disconnect")
    firefox.get_by_role("button", name="Sign out this session").click()
    expect(page.get_by_role("status")).to_have_text("That session was signed out and its apps were disconnected.")
    expect(page.locator("#sessions > li")).to_have_count(1)
    assert_oauth_error(refresh(live_server, rp, tokens["refresh_token"]), "invalid_grant")
    assert laptop.session.get(f"{live_server}/account", allow_redirects=False).status_code == 302
    assert browser_log.errors == []


def test_change_the_profile_name_and_password(page, kim, sign_in, browser_log):
    page.goto("/account")
    sign_in(page, EMAIL)  # /account sent the browser to sign in, and back
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    page.get_by_label("Name").fill("Kim Park")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_have_text("Your profile was saved.")
    expect(page.get_by_label("Name")).to_have_value("Kim Park")

    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password", exact=True).fill("a fresh passphrase")
    page.get_by_label("New password, again").fill("a fresh passphrase")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#current_password-error")).to_have_text("The current password is not correct.")
    expect(page.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    assert browser_log.errors == []


def change_password(page, current: str, new: str = "a fresh passphrase"):
    page.get_by_label("Current password").fill(current)
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("New password, again").fill(new)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/account/password")) as posted:
        page.get_by_role("button", name="Change password").click()
    return posted.value


def test_a_new_password_disconnects_apps_and_can_revoke_api_keys(live_server, make, page, kim, sign_in, screenshot,
                                                                 browser_log):
    rp = make.client()
    tokens = tokens_for(live_server, rp, EMAIL)
    key = make.api_key(kim, scope="billing:read", name="Laptop")
    page.goto("/account")
    sign_in(page, EMAIL)
    page.get_by_label("Also revoke my 1 API key").check()
    screenshot(page, "account-password-revoke-keys")
    assert change_password(page, DEFAULT_PASSWORD).status == 302
    expect(page.get_by_role("status")).to_have_text(
        "Your password was changed. Your other sessions were signed out, and your apps will ask you to sign in "
        "again. 1 API key was revoked.")
    expect(page.get_by_label("Also revoke my 1 API key")).to_have_count(0)  # no live key left to offer
    assert_oauth_error(refresh(live_server, rp, tokens["refresh_token"]), "invalid_grant")
    assert_oauth_error(client_credentials(live_server, key), "invalid_client", 401)
    assert browser_log.errors == []


def test_an_old_sign_in_confirms_the_password_before_creating_a_key(app, make, page, kim, sign_in, screenshot,
                                                                   browser_log):
    page.goto("/account/api-keys")
    sign_in(page, EMAIL)
    make.update(LoginSession, {"user_id": kim.id}, auth_time=int(time.time()) - app.config["REAUTHENTICATE_SECONDS"])
    page.reload()
    page.get_by_label("Name").fill("Deploy bot")
    page.get_by_label("billing:write").check()
    expect(page.get_by_label("Your password")).to_have_accessible_description(
        "You signed in more than 5 minutes ago: enter your password to create a key.")
    page.get_by_label("Your password").fill("not my password")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("alert")).to_have_text("the password is not correct")
    expect(page.locator("#new-key")).to_have_count(0)

    page.get_by_label("Name").fill("Deploy bot")
    page.get_by_label("Your password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key")).to_contain_text("ost_")
    expect(page.get_by_label("Your password")).to_have_count(0)  # proved again just now
    screenshot(page, "account-api-key-reauthenticated")
    assert browser_log.errors == []


def test_a_person_sees_the_cap_on_live_keys_and_is_told_when_it_is_reached(app, make, page, kim, sign_in,
                                                                           browser_log):
    cap = app.config["LIVE_API_KEYS_PER_PERSON"]
    for number in range(cap - 1):
        make.api_key(kim, name=f"key {number}")
    page.goto("/account/api-keys")
    sign_in(page, EMAIL)
    expect(page.locator("#key-count")).to_have_text(f"You have {cap - 1} live keys of the {cap} you may hold at once.")
    for name in ("The last one", "One too many"):
        page.get_by_label("Name").fill(name)
        page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("alert")).to_have_text(
        f"at most {cap} live API keys per person: revoke one before creating another")
    expect(page.locator("#new-key")).to_have_count(0)
    page.get_by_role("button", name="Revoke “key 0”").click()
    page.get_by_label("Name").fill("One too many")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key")).to_contain_text("ost_")
    assert browser_log.errors == []


def test_the_current_password_cannot_be_guessed_from_a_session(app, page, kim, sign_in, screenshot, browser_log):
    page.goto("/account")
    sign_in(page, EMAIL)
    for _ in range(app.config["SIGN_IN_FAILURES_PER_ACCOUNT"]):
        assert change_password(page, "a guess at it").status == 400
        expect(page.locator("#current_password-error")).to_have_text("The current password is not correct.")

    locked = change_password(page, DEFAULT_PASSWORD)
    assert locked.status == 429 and int(locked.headers["retry-after"]) > 0
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    expect(page.locator("#current_password-error")).to_have_text(
        "Too many failed sign-in attempts. Try again in 15 minutes.")
    expect(page.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "account-password-locked")
    assert browser_log.errors == []


@pytest.mark.parametrize("path", ["/account", "/account/sessions", "/account/api-keys"])
def test_account_pages_are_clean_and_accessible(chromium, page, live_server, make, kim, sign_in, browser_log, path):
    """The checks every hosted page passes (tests/browser/quality.py), with every element shown."""
    make.api_key(kim, scope="billing:read", name="Shown")
    second = chromium.new_context(base_url=live_server)
    try:
        other = second.new_page()
        other.goto("/login")
        sign_in(other, EMAIL)
        other.wait_for_load_state("networkidle")  # the favicon too: closing mid-response leaves a file open
    finally:
        second.close()
    page.goto(path)
    sign_in(page, EMAIL)
    assert_page_quality(page, browser_log, live_server)
