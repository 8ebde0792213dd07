"""End-user error pages in headless Chromium: one per situation, in plain words with what to do, a way back to the
app only when it is known and its redirect URI verified, the technical detail folded away; never a stock page."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from tests.browser.quality import assert_clean_and_usable

pytestmark = pytest.mark.browser


def _authorize(rp_client, **changes: str) -> str:
    params = {"response_type": "code", "client_id": rp_client.client_id, "redirect_uri": rp_client.redirect_uri,
              "scope": "openid", "state": "s1", **changes}
    return "/oauth/authorize?" + urlencode(params)


def _auto_post(relying_party: str, live_server: str, path: str, **fields: str) -> str:
    """A page of another site that POSTs a form to one of ours as soon as it loads."""
    return f"{relying_party}/auto-post?" + urlencode({"action": live_server + path, **fields})


# situation: (how to get there, status, title, error code)
SITUATIONS = {
    "unknown app": (lambda rp, *_: _authorize(rp, client_id="no-such-app"), 400,
                    "This app is not known here", "invalid_client"),
    "invalid request, unverified redirect": (
        lambda rp, *_: _authorize(rp, redirect_uri="https://evil.example/callback"), 400,
        "The app sent an invalid request", "invalid_request"),
    "invalid request, verified redirect": (
        lambda rp, *_: _authorize(rp) + "&state=again", 400, "The app sent an invalid request", "invalid_request"),
    "page not found": (lambda *_: "/no/such/page", 404, "Page not found", "not_found"),
    "method not allowed": (lambda rp, live, other: _auto_post(other, live, "/"), 405,
                           "This page cannot be opened this way", "invalid_request"),
    "form expired": (lambda rp, live, other: _auto_post(other, live, "/login", login="a", password="b"), 400,
                     "The form expired", "invalid_request"),
}


@pytest.mark.parametrize("situation", SITUATIONS)
def test_each_situation_has_its_own_page(situation, page, live_server, relying_party, rp_client, browser_log,
                                         screenshot):
    where, status, title, error = SITUATIONS[situation]
    with page.expect_response(lambda r: r.url.startswith(live_server) and r.request.resource_type == "document") \
            as answered:
        page.goto(where(rp_client, live_server, relying_party))
    assert answered.value.status == status

    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    assert page.title() == f"{title} · Ostiary"
    expect(page.locator("#error-explanation")).not_to_be_empty()
    expect(page.locator("#error-advice")).not_to_be_empty()
    expect(page.get_by_role("link", name="Go to the start page")).to_be_visible()
    details = page.locator("details.developer-details")
    expect(page.locator("#error-code")).not_to_be_visible()  # folded away for the app's developer
    details.locator("summary").click()
    expect(page.locator("#error-code")).to_have_text(error)
    expect(page.locator("#request-id")).to_have_text(answered.value.headers["x-request-id"])
    screenshot(page, f"error-{situation.replace(' ', '-').replace(',', '')}")

    back = page.locator("#back-to-app")
    if situation == "invalid request, verified redirect":
        expect(back).to_have_text("Back to Test App")
        back.click()
        assert page.url == relying_party + "/"  # the app's site, with no protocol message forged
    else:
        expect(back).to_have_count(0)
    assert browser_log.errors == []


def test_the_error_page_is_clean_and_accessible(page, browser_log):
    page.goto("/no/such/page")
    page.locator("details.developer-details summary").click()
    assert_clean_and_usable(page, targets="main a.button, main summary")
    assert browser_log.errors == []


def test_error_pages_speak_the_browsers_language(chromium, live_server, browser_log):
    context = chromium.new_context(base_url=live_server, locale="de-DE")
    try:
        page = context.new_page()
        page.goto("/no/such/page")
        expect(page.get_by_role("heading", level=1)).to_have_text("Seite nicht gefunden")
        expect(page.get_by_role("link", name="Zur Startseite")).to_be_visible()
        expect(page.locator("summary")).to_have_text("Details für die Entwickler der App")
    finally:
        context.close()
