"""Every hosted page: not frameable, no script, no console errors, labelled, readable, usable on a phone."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from app.services.clients import create_client
from tests.factories import RegisteredClient

pytestmark = pytest.mark.browser

# WCAG 2.2 §1.4.3 contrast of every visible piece of text against the background it sits on.
CONTRAST_PROBLEMS = """() => {
  const rgba = (css) => {
    const [r, g, b, a] = css.match(/[\\d.]+/g).map(Number);
    return {r, g, b, a: a === undefined ? 1 : a};
  };
  const channel = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.a > 0) return c;
    }
    return rgba(getComputedStyle(document.documentElement).backgroundColor || "rgb(255, 255, 255)");
  };
  const problems = [];
  for (const el of document.body.querySelectorAll("*")) {
    const text = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join("").trim();
    if (!text || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    const l1 = luminance(rgba(style.color)), l2 = luminance(background(el));
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(style.fontSize);
    if (ratio < 4.5) problems.push(`${el.tagName} "${text.slice(0, 30)}": contrast ${ratio.toFixed(2)}`);
    if (size < 14) problems.push(`${el.tagName} "${text.slice(0, 30)}": font ${size}px`);
  }
  return problems;
}"""

UNLABELLED_CONTROLS = """() => [...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
  .filter((el) => !(el.labels && [...el.labels].some((l) => l.textContent.trim())) && !el.getAttribute("aria-label"))
  .map((el) => el.outerHTML)"""

UNNAMED_ACTIONS = """() => [...document.querySelectorAll("button, a, [role=button]")]
  .filter((el) => !(el.innerText || "").trim() && !el.getAttribute("aria-label"))
  .map((el) => el.outerHTML)"""

SCRIPTS = """() => ({
  // Our own static/passkeys.js (under script-src 'self') on the pages that offer passkeys; nothing else.
  scripts: [...document.scripts].filter((s) => !s.src.endsWith("/static/passkeys.js")).length,
  handlers: [...document.querySelectorAll("*")].flatMap((el) =>
    [...el.attributes].filter((a) => a.name.startsWith("on")).map((a) => `${el.tagName}[${a.name}]`)),
  styleAttributes: document.querySelectorAll("[style]").length,
  imagesWithoutAlt: document.querySelectorAll("img:not([alt])").length,
})"""

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  return {
    name: (el.innerText || el.id || el.tagName).trim(),
    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
  };
}"""


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
        else:
            raise AssertionError(f"no way to reach {name}")
        page.wait_for_load_state()

    return go


PAGES = ["login", "login-error", "consent", "consent-resource", "error", "logout", "logout-rp", "logged-out", "home", "home-signed-in"]


@pytest.mark.parametrize("name", PAGES)
def test_page_is_clean_and_accessible(name, page, reach, live_server, browser_log, screenshot):
    reach(name)

    ours = [response for response in browser_log.documents if response.url.startswith(live_server)]
    assert ours
    for response in ours:
        headers = response.all_headers()
        assert headers.get("x-frame-options") == "DENY", response.url
        assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), response.url
        if response.status < 300:
            assert headers.get("cache-control") == "no-store", response.url
    assert browser_log.errors == []

    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.title().endswith("· Ostiary")
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    expect(page.locator("h1")).not_to_have_text("")
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    assert page.evaluate(UNNAMED_ACTIONS) == []
    assert page.evaluate(SCRIPTS) == {"scripts": 0, "handlers": [], "styleAttributes": 0, "imagesWithoutAlt": 0}

    assert page.evaluate(CONTRAST_PROBLEMS) == []
    page.emulate_media(color_scheme="dark")
    assert page.evaluate(CONTRAST_PROBLEMS) == []
    if name in {"login", "consent"}:
        screenshot(page, f"{name}-dark")

    page.set_viewport_size({"width": 360, "height": 740})
    page.emulate_media(color_scheme="light")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for control in page.locator("main button, main a.button, main input:not([type=hidden])").all():
        box = control.bounding_box()
        assert box is not None and box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 360
    if name in {"login", "consent"}:
        screenshot(page, f"{name}-mobile")
    assert browser_log.errors == []


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
    for _ in range(6):
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
