"""The checks every hosted page passes: not frameable and not cached, no script, no console errors, one
language and title, labelled, named, readable in light and dark, usable on a phone. assert_page_quality(page)."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import BrowserLog

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

# Among the actions on screen: innerText is empty for one not rendered (in a closed <details>, say), named or not.
UNNAMED_ACTIONS = """() => [...document.querySelectorAll("button, a, [role=button]")]
  .filter((el) => el.checkVisibility() && !(el.innerText || "").trim() && !el.getAttribute("aria-label"))
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

NO_SCRIPT = {"scripts": 0, "handlers": [], "styleAttributes": 0, "imagesWithoutAlt": 0}
# What a thumb presses: at least 44 px high (WCAG 2.2 §2.5.8, Apple's guideline) and inside a 360 px screen.
TOUCH_TARGETS = "main button, main a.button, main input:not([type=hidden]):not([type=checkbox]), main select, label.check"
PHONE = {"width": 360, "height": 740}


def assert_readable(page: Page) -> None:
    """WCAG contrast and size of every text, in the light and the dark scheme; left in the light one."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        assert page.evaluate(CONTRAST_PROBLEMS) == [], scheme
    page.emulate_media(color_scheme="light")


def assert_fits_a_phone(page: Page, targets: str = TOUCH_TARGETS) -> None:
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for control in page.locator(targets).all():
        box = control.bounding_box()
        assert box is not None and box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def assert_clean_and_usable(page: Page, targets: str = TOUCH_TARGETS) -> None:
    """The checks of the page as it is, without its headers: labelled controls, named actions, no script,
    readable in both colour schemes, and on a phone no sideways scrolling and touch targets inside the screen."""
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    assert page.evaluate(UNNAMED_ACTIONS) == []
    assert page.evaluate(SCRIPTS) == NO_SCRIPT
    assert_readable(page)
    assert_fits_a_phone(page, targets)


def assert_page_quality(page: Page, browser_log: BrowserLog, base_url: str | None = None, title: str = "· Ostiary",
                        screenshot: Callable[[Page, str], None] | None = None, shots: str | None = None) -> None:
    """The page as it stands (and, given our base_url, every document it loaded from us) passes every check.
    With `shots`, screenshot(page, f"{shots}-dark") and f"{shots}-mobile" are taken along the way."""
    if base_url is not None:
        ours = [response for response in browser_log.documents if response.url.startswith(base_url)]
        assert ours
        for response in ours:
            headers = response.all_headers()
            assert headers.get("x-frame-options") == "DENY", response.url
            assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), response.url
            if response.status < 300:
                assert headers.get("cache-control") == "no-store", response.url
    assert browser_log.errors == []

    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.title().endswith(title)
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    expect(page.locator("h1")).not_to_have_text("")
    if screenshot and shots:
        page.emulate_media(color_scheme="dark")
        screenshot(page, f"{shots}-dark")
        page.emulate_media(color_scheme="light")
    assert_clean_and_usable(page)
    if screenshot and shots:
        screenshot(page, f"{shots}-mobile")
    assert browser_log.errors == []
