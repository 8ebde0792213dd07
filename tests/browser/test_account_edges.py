"""The account page's smaller edges in headless Chromium: who is signed in (username, roles), a sign-out button,
and keys that no longer work deleted from the list."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import ApiKey, AuditEvent

pytestmark = pytest.mark.browser

EMAIL = "lee@example.com"


@pytest.fixture
def lee(make):
    return make.user(EMAIL, username="lee", roles=["admin", "auditor"], scope="billing:read")


def test_the_account_page_shows_username_and_roles_and_signs_out(page, lee, sign_in, browser_log):
    page.goto("/account")
    sign_in(page, EMAIL)
    expect(page.locator("#username")).to_have_text("lee")
    expect(page.locator("#roles")).to_have_text("admin, auditor")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome to Ostiary")
    page.goto("/account")
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()  # the session is over
    assert browser_log.errors == []


def test_revoked_and_expired_keys_can_be_deleted(app, page, make, lee, sign_in, browser_log):
    live = make.api_key(lee, scope="billing:read", name="Live")
    revoked = make.api_key(lee, scope="billing:read", name="Old")
    expired = make.api_key(lee, scope="billing:read", name="Lapsed", expires_at=int(time.time()) + 3600)
    make.update(ApiKey, {"key_id": expired.client_id}, expires_at=int(time.time()) - 60)
    page.goto("/account/api-keys")
    sign_in(page, EMAIL)
    page.get_by_role("button", name="Revoke “Old”").click()

    items = page.locator("#api-keys > li")
    expect(items).to_have_count(3)
    expect(page.get_by_role("button", name="Delete “Live”")).to_have_count(0)  # revoke it first
    expect(page.get_by_role("button", name="Revoke “Lapsed”")).to_have_count(0)  # it no longer works anyway
    page.get_by_role("button", name="Delete “Old”").click()
    expect(page.get_by_role("status")).to_have_text("The key “Old” was deleted.")
    page.get_by_role("button", name="Delete “Lapsed”").click()
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("Live")

    with app.app_context():
        assert db.session.query(ApiKey).count() == 1
        deleted = db.session.query(AuditEvent.client_id).filter(AuditEvent.event == "api_key.deleted").all()
        assert {row[0] for row in deleted} == {revoked.client_id, expired.client_id}
    assert live.client_id
    assert browser_log.errors == []
