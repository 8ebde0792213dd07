"""Connected apps on the account page, in headless Chromium: what each app may do, since when, and Remove."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.models import Client
from tests.browser.quality import assert_clean_and_usable
from tests.flows import introspect, refresh, tokens_for

pytestmark = pytest.mark.browser

EMAIL = "kim@example.com"


@pytest.fixture
def connected(live_server, make):
    """Kim has allowed two apps; the second may also use the Billing API."""
    make.user(EMAIL, name="Kim")
    make.resource("https://billing.example.com", scope="billing:read", name="Billing API")
    printer = make.client(scope="openid email offline_access")
    ledger = make.client(scope="openid offline_access billing:read", resources=["https://billing.example.com"])
    make.update(Client, {"client_id": printer.client_id}, name="Photo Printer")
    make.update(Client, {"client_id": ledger.client_id}, name="Ledger")
    tokens = {
        "printer": tokens_for(live_server, printer, EMAIL, scope="openid email offline_access"),
        "ledger": tokens_for(live_server, ledger, EMAIL, scope="openid offline_access billing:read"),
    }
    return printer, ledger, tokens


def test_see_what_each_app_may_do_and_remove_one(page, live_server, connected, sign_in, screenshot, browser_log):
    printer, ledger, tokens = connected
    page.goto("/account")
    sign_in(page, EMAIL)
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Connected apps").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Connected apps")

    printer_item = page.locator(f'#connected-apps li[data-client="{printer.client_id}"]')
    expect(printer_item).to_contain_text("Photo Printer")
    expect(printer_item.locator(".scopes li")).to_have_text(
        ["Sign you in and know who you are", "See your email address", "Stay connected when you are not using it"])
    expect(printer_item).to_contain_text("Allowed since")
    ledger_item = page.locator(f'#connected-apps li[data-client="{ledger.client_id}"]')
    expect(ledger_item).to_contain_text("Use Billing API on your behalf (billing:read)")
    screenshot(page, "account-connected-apps")

    printer_item.get_by_role("button", name="Remove “Photo Printer”").click()
    expect(page.get_by_role("status")).to_contain_text("“Photo Printer” was removed")
    expect(page.locator("#connected-apps > li")).to_have_count(1)
    assert refresh(live_server, printer, tokens["printer"]["refresh_token"]).json()["error"] == "invalid_grant"
    assert introspect(live_server, printer, tokens["printer"]["access_token"]) == {"active": False}
    assert refresh(live_server, ledger, tokens["ledger"]["refresh_token"]).status_code == 200

    ledger_item.get_by_role("button", name="Remove “Ledger”").click()
    expect(page.locator("#connected-apps")).to_contain_text("No apps are connected to your account.")
    assert browser_log.errors == []


def test_connected_apps_is_clean_and_accessible(page, connected, sign_in, browser_log):
    """The checks every hosted page passes (tests/browser/test_page_quality.py)."""
    page.goto("/account/apps")
    sign_in(page, EMAIL)
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    assert_clean_and_usable(page)
    assert browser_log.errors == []
