"""Signing out in a real browser: our own sign-out page and OpenID Connect RP-Initiated Logout."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import requests
from playwright.sync_api import expect

from tests.flows import exchange_code, query_of


def session_cookies(context) -> list[str]:
    return [cookie["name"] for cookie in context.cookies() if cookie["name"].endswith("ostiary_session")]


def expect_signed_out_home(page, live_server: str) -> None:
    page.goto(f"{live_server}/")
    expect(page.locator("main")).to_contain_text("You are not signed in.")
    expect(page.locator("main").get_by_role("link", name="Sign in", exact=True)).to_be_visible()


def test_sign_out_from_the_logout_page(page, context, live_server, make, sign_in, screenshot, browser_log):
    make.user("erin@example.com", name="Erin")
    page.goto("/login")
    sign_in(page, "erin@example.com")
    expect(page).to_have_url(f"{live_server}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Erin")
    expect(page.locator("#signed-in-as")).to_have_text("erin@example.com")
    assert session_cookies(context)
    screenshot(page, "home-signed-in")

    page.locator("main").get_by_role("link", name="Sign out").click()
    expect(page).to_have_url(f"{live_server}/logout")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign out")
    expect(page.locator("main")).to_contain_text("erin@example.com")
    screenshot(page, "logout")
    page.get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(f"{live_server}/")
    expect(page.locator("main")).to_contain_text("You are not signed in.")
    screenshot(page, "home")
    assert session_cookies(context) == []
    assert browser_log.errors == []


def test_logout_page_can_be_left_without_signing_out(page, live_server, make, sign_in):
    make.user("fay@example.com")
    page.goto("/login")
    sign_in(page, "fay@example.com")
    page.goto("/logout")
    page.get_by_role("link", name="Stay signed in").click()
    expect(page).to_have_url(f"{live_server}/")
    expect(page.locator("#signed-in-as")).to_have_text("fay@example.com")


def test_rp_initiated_logout_without_id_token_hint_asks_first(
    page, context, live_server, make, rp_client, relying_party, sign_in, screenshot, browser_log
):
    make.user("gus@example.com")
    page.goto("/login")
    sign_in(page, "gus@example.com")
    params = {"client_id": rp_client.client_id, "post_logout_redirect_uri": f"{relying_party}/signed-out",
              "state": "bye-1"}
    page.goto(f"/oauth/logout?{urlencode(params)}")

    expect(page.get_by_role("heading", level=1)).to_have_text("Sign out")
    expect(page.locator("main")).to_contain_text("Test App asked to sign you out")
    expect(page.locator("main")).to_contain_text("gus@example.com")
    assert session_cookies(context)  # nothing happens before the person confirms
    screenshot(page, "logout-rp")
    page.get_by_role("button", name="Sign out").click()

    # Without an ID token the OP cannot trust the redirect (RP-Initiated Logout §3): it stays here.
    expect(page).to_have_url(re.compile("^" + re.escape(f"{live_server}/oauth/logout")))
    expect(page.get_by_role("heading", level=1)).to_have_text("You are signed out")
    screenshot(page, "logged-out")
    assert session_cookies(context) == []
    expect_signed_out_home(page, live_server)
    assert browser_log.errors == []


def test_rp_initiated_logout_with_id_token_hint_returns_to_the_relying_party(
    page, context, live_server, make, rp_client, relying_party, sign_in, authorization_request
):
    make.user("hal@example.com")
    request = authorization_request(rp_client)
    page.goto(request.url)
    sign_in(page, "hal@example.com")
    with page.expect_request(lambda sent: sent.url.startswith(rp_client.redirect_uri + "?")) as callback:
        page.get_by_role("button", name="Allow").click()
    code = query_of(callback.value.url)["code"]
    id_token = exchange_code(live_server, rp_client, code, request.verifier).json()["id_token"]

    params = {"id_token_hint": id_token, "post_logout_redirect_uri": f"{relying_party}/signed-out", "state": "bye-2"}
    with page.expect_request(lambda sent: sent.url.startswith(f"{relying_party}/signed-out")) as landed:
        page.goto(f"/oauth/logout?{urlencode(params)}")
    assert query_of(landed.value.url) == {"state": "bye-2"}
    assert session_cookies(context) == []
    expect_signed_out_home(page, live_server)


def test_rp_initiated_logout_when_not_signed_in_just_says_so(page, live_server, rp_client):
    page.goto(f"/oauth/logout?client_id={rp_client.client_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("You are signed out")


def test_rp_initiated_logout_by_cross_site_post_ends_the_session(
    page, context, live_server, make, rp_client, relying_party, sign_in, authorization_request, browser_log
):
    """§2 allows POST. A cross-site POST carries no SameSite=Lax cookie, yet it must end the real session."""
    make.user("ivy@example.com")
    request = authorization_request(rp_client)
    page.goto(request.url)
    sign_in(page, "ivy@example.com")
    with page.expect_request(lambda sent: sent.url.startswith(rp_client.redirect_uri + "?")) as callback:
        page.get_by_role("button", name="Allow").click()
    id_token = exchange_code(live_server, rp_client, query_of(callback.value.url)["code"], request.verifier).json()[
        "id_token"]
    [cookie] = [c for c in context.cookies() if c["name"].endswith("ostiary_session")]

    # The relying party's page is on another site (localhost is not 127.0.0.1) and posts the request itself.
    rp_site = relying_party.replace("127.0.0.1", "localhost")
    fields = {"action": f"{live_server}/oauth/logout", "id_token_hint": id_token,
              "post_logout_redirect_uri": f"{relying_party}/signed-out", "state": "bye-3"}
    with page.expect_request(lambda sent: sent.url.startswith(f"{relying_party}/signed-out")) as landed:
        page.goto(f"{rp_site}/auto-post?{urlencode(fields)}")
    assert query_of(landed.value.url) == {"state": "bye-3"}

    # The session is over on the server, not just forgotten by this browser.
    replayed = requests.get(f"{live_server}/account", cookies={cookie["name"]: cookie["value"]}, allow_redirects=False)
    assert replayed.status_code == 302 and replayed.headers["Location"].startswith("/login")
    assert session_cookies(context) == []
    expect_signed_out_home(page, live_server)
    assert browser_log.errors == []
