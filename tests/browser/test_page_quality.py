"""Every hosted page: not frameable, no script, no console errors, labelled, readable, usable on a phone
(tests/browser/quality.py); focus always visible; confirmations laid out as they are read."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from app.services import password_reset, signup
from app.services.clients import create_client
from tests.accounts.conftest import link_in, mails
from tests.browser.quality import (
    FOCUSED,
    assert_page_quality,
)
from tests.factories import RegisteredClient


def _sign_in_at_home(page, make, sign_in) -> None:
    make.user("pat@example.com", name="Pat")
    page.goto("/login")
    sign_in(page, "pat@example.com")


@pytest.fixture
def reach(page, make, rp_client, sign_in, authorization_request):
    """reach("consent") puts the page on that hosted page, the way a person would get there."""

    def go(name: str) -> None:
        if name == "login":
            page.goto(authorization_request(rp_client).url)
        elif name == "login-error":
            page.goto("/login")
            sign_in(page, "nobody@example.com", "not the password")
        elif name == "consent":
            make.user("pat@example.com")
            page.goto(authorization_request(rp_client).url)
            sign_in(page, "pat@example.com")
        elif name == "consent-resource":
            make.user("pat@example.com")
            make.resource("https://billing.example.com", scope="billing:read", name="Billing API")
            client = make.client(redirect_uris=[rp_client.redirect_uri], scope="openid billing:read",
                                 resources=["https://billing.example.com"])
            page.goto(authorization_request(client, scope="openid billing:read",
                                            resource="https://billing.example.com").url)
            sign_in(page, "pat@example.com")
        elif name == "error":
            params = {"response_type": "code", "client_id": "nope", "redirect_uri": rp_client.redirect_uri}
            page.goto(f"/oauth/authorize?{urlencode(params)}")
        elif name == "logout":
            _sign_in_at_home(page, make, sign_in)
            page.goto("/logout")
        elif name == "logout-rp":
            _sign_in_at_home(page, make, sign_in)
            page.goto(f"/oauth/logout?{urlencode({'client_id': rp_client.client_id})}")
        elif name == "logged-out":
            page.goto("/oauth/logout")
        elif name == "home":
            page.goto("/")
        elif name == "home-signed-in":
            _sign_in_at_home(page, make, sign_in)
        elif name in SELF_SERVICE_PAGES:
            _reach_self_service(name, page, make, sign_in)
        else:
            raise AssertionError(f"no way to reach {name}")
        page.wait_for_load_state()

    return go


# The self-service pages (app/web/self_service.py), each as a person reaches it: a link from a page, or a mailed one.
SELF_SERVICE_PAGES = {"signup": "/signup", "forgot-password": "/forgot-password", "account-delete": "/account/delete",
                      "verify-email": "verify_email", "reset-password": "password_reset", "account": "/account"}


def _reach_self_service(name: str, page, make, sign_in) -> None:
    target = SELF_SERVICE_PAGES[name]
    if target.startswith("/account"):
        _sign_in_at_home(page, make, sign_in)
        page.goto(target)
    elif target.startswith("/"):
        page.goto(target)
    else:
        make.user("pat@example.com")
        with make.app.test_request_context():
            if target == "verify_email":
                signup.resend("pat@example.com", ip=None)
            else:
                password_reset.request_reset("pat@example.com", ip=None)
        page.goto(link_in(mails(make.app, "pat@example.com", target)[-1]))


PAGES = ["login", "login-error", "consent", "consent-resource", "error", "logout", "logout-rp", "logged-out", "home",
         "home-signed-in", *SELF_SERVICE_PAGES]


@pytest.mark.parametrize("name", PAGES)
def test_page_is_clean_and_accessible(name, page, reach, live_server, browser_log, screenshot):
    reach(name)
    assert_page_quality(page, browser_log, live_server, screenshot=screenshot,
                        shots=name if name in {"login", "consent"} else None)


@pytest.mark.parametrize(
    ("name", "controls"),
    [
        ("login", ["password", "Sign in", "Ostiary"]),
        ("consent", ["Deny", "Allow", "Ostiary"]),
        ("logout", ["Stay signed in", "Sign out", "Ostiary"]),
    ],
)
def test_keyboard_focus_is_always_visible(name, controls, page, reach):
    reach(name)
    seen = []
    for _ in range(10):  # past every control of the busiest page (sign-in: form, links, passkey, providers)
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is not None:
            assert focused["outline"], f"no visible focus on {focused['name']}"
            seen.append(focused["name"])
    assert set(controls) <= set(seen), seen


def test_pages_cannot_be_framed_by_another_site(page, context, live_server, relying_party):
    with context.expect_console_message(lambda message: "frame-ancestors 'none'" in message.text):
        page.goto(f"{relying_party}/frame?{urlencode({'src': f'{live_server}/login'})}")
    assert page.locator("iframe").content_frame.locator("#login").count() == 0


def test_names_from_the_database_are_shown_as_text(
    page, app, make, relying_party, sign_in, authorization_request, browser_log, screenshot
):
    hostile = '<img src=x onerror="document.title=1"> "Very Long Company Name Incorporated International" & Co'
    with app.app_context():
        registration = create_client(hostile, redirect_uris=[f"{relying_party}/callback"])
        client = RegisteredClient(registration.client.client_id, registration.client_secret, f"{relying_party}/callback")
    make.user("quinn.with.a.rather.long.address@subdomain.example.com")

    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(authorization_request(client).url)
    expect(page.locator("#client-name")).to_have_text(hostile)
    sign_in(page, "quinn.with.a.rather.long.address@subdomain.example.com")
    expect(page.locator("#client-name")).to_have_text(hostile)
    assert page.locator("main img").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "consent-long-name-mobile")
    assert browser_log.errors == []


# The two choices of a confirmation, in document (and so keyboard) order, with their boxes.
ACTION_BOXES = """() => [...document.querySelectorAll("main .actions > *")].map((el) => {
  const box = el.getBoundingClientRect();
  return {name: el.innerText.trim(), x: box.x, y: box.y, width: box.width, height: box.height};
})"""

FOCUSED_ACTION = """() => {
  const el = document.activeElement;
  return el && el.closest("main .actions") ? el.innerText.trim() : null;
}"""


def _reading_order(boxes: list[dict]) -> list[str]:
    """Top to bottom, then left to right, as the eye reads them (sub-pixel differences are one line)."""
    return [box["name"] for box in sorted(boxes, key=lambda box: (round(box["y"]), box["x"]))]


@pytest.mark.parametrize("width", [1024, 360])
@pytest.mark.parametrize(("name", "choices"), [("consent", {"Deny", "Allow"}), ("logout", {"Stay signed in", "Sign out"})])
def test_confirmation_buttons_match_in_size_alignment_and_order(name, choices, width, page, reach, screenshot):
    """Issue 15 point 3: the same height, aligned, and the order the eye reads them is the order Tab reaches them."""
    page.set_viewport_size({"width": width, "height": 900})
    reach(name)
    boxes = page.evaluate(ACTION_BOXES)
    assert {box["name"] for box in boxes} == choices
    first, second = boxes
    assert abs(first["height"] - second["height"]) < 1, boxes
    side_by_side = abs(first["y"] - second["y"]) < 1
    if not side_by_side:  # stacked: one column, the same width
        assert abs(first["x"] - second["x"]) < 1 and abs(first["width"] - second["width"]) < 1, boxes
    focus_order: list[str] = []
    for _ in range(20):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED_ACTION)
        if focused and focused not in focus_order:
            focus_order.append(focused)
    assert focus_order == _reading_order(boxes), (focus_order, boxes)
    screenshot(page, f"{name}-actions-{width}")
