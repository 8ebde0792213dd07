"""Issue 15 point 5: a deployment in its own brand. No page says "Ostiary"; name, logo, colour, support and
footer links come from OSTIARY_BRAND_*, and the pages stay readable and script-free in that colour."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.browser.conftest import BrowserLog, another_app, authorization_request_to, browser_context
from tests.browser.quality import SCRIPTS, assert_readable
from tests.settings import installation

BRAND_COLOR = "#00a86b"  # a light green: white text on it would fail contrast, so the buttons get black text
LOGO = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 32"><rect width="64" height="32" fill="#00a86b"/></svg>'
FOOTER = [("Privacy policy", "https://acme.example/privacy"), ("Terms of use, cookies", "https://acme.example/terms")]


def branded_overrides(port: int, database_url: str, keys_dir, tmp_path_factory) -> dict:
    logo = tmp_path_factory.mktemp("brand") / "acme.svg"
    logo.write_text(LOGO)
    return installation(
        database_url, keys_dir, f"http://127.0.0.1:{port}", MAIL_DIR=str(tmp_path_factory.mktemp("brand-mail")),
        BRAND_NAME="Acme Login", BRAND_LOGO_URL=str(logo), BRAND_PRIMARY_COLOR=BRAND_COLOR,
        BRAND_SUPPORT_URL="mailto:help@acme.example", BRAND_FOOTER_LINKS=FOOTER,
    )


@pytest.fixture(scope="module")
def branded_server(app: Flask, database_url: str, keys_dir, tmp_path_factory) -> Iterator[str]:
    """A second app in the Acme brand, on the suite's database, over real HTTP."""
    with another_app(lambda port: branded_overrides(port, database_url, keys_dir, tmp_path_factory)) as (_, port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def branded_page(chromium, branded_server: str, browser_log: BrowserLog) -> Iterator[object]:
    with browser_context(chromium, branded_server, browser_log) as context:
        page = context.new_page()
        yield page


def visit_every_page(page, branded_server, make, rp_client, sign_in) -> Iterator[str]:
    """Each hosted page a person meets, in the order they meet them; yields its name once it is shown."""
    make.user("pat@example.com", name="Pat")
    page.goto("/")
    yield "home"
    page.goto(authorization_request_to(branded_server, rp_client).url)
    yield "login"
    sign_in(page, "pat@example.com", "not the password")
    yield "login-error"
    sign_in(page, "pat@example.com")
    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    yield "consent"
    page.goto("/account")
    yield "account"
    page.goto("/account/sessions")
    yield "sessions"
    page.goto(f"/oauth/authorize?{urlencode({'client_id': 'nope', 'response_type': 'code'})}")
    yield "error"
    page.goto("/logout")
    yield "logout"
    page.get_by_role("button", name="Sign out").click()
    page.goto("/oauth/logout")
    yield "logged-out"


def test_every_page_wears_the_deployers_brand_and_never_says_ostiary(
    branded_page, branded_server, make, rp_client, sign_in, browser_log, screenshot
):
    page = branded_page
    for name in visit_every_page(page, branded_server, make, rp_client, sign_in):
        page.wait_for_load_state()
        assert page.title().endswith("· Acme Login"), name
        assert "ostiary" not in page.locator("body").inner_text().lower(), name
        expect(page.locator("header.brand")).to_have_text("Acme Login")
        logo = page.locator("header.brand img")
        expect(logo).to_have_attribute("src", re.compile(r"^/brand/logo\?v="))
        assert logo.evaluate("img => img.complete && img.naturalWidth > 0"), name
        assert page.locator("link[rel=icon]").get_attribute("href") == logo.get_attribute("src")
        footer = page.locator("footer")
        expect(footer.get_by_role("link", name="Help")).to_have_attribute("href", "mailto:help@acme.example")
        for label, url in FOOTER:
            expect(footer.get_by_role("link", name=label)).to_have_attribute("href", url)
        assert page.evaluate(SCRIPTS)["styleAttributes"] == 0, name
        assert_readable(page)
        if name == "consent":
            allow = page.get_by_role("button", name="Allow")
            assert allow.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(0, 168, 107)"
            assert allow.evaluate("b => getComputedStyle(b).color") == "rgb(0, 0, 0)"
            screenshot(page, "consent-branded")
    assert browser_log.errors == []


def test_another_brand_without_a_logo_shows_its_name_alone(app, client, monkeypatch):
    """Ostiary's own logo belongs beside its own name only."""
    monkeypatch.setitem(app.config, "BRAND_NAME", "Acme Login")
    page = client.get("/login").get_data(as_text=True)
    assert "<img" not in page and "logo.svg" not in page and "Ostiary" not in page
    assert '<span id="brand-name">Acme Login</span>' in page
