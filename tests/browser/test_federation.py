"""Continue with an upstream provider (OpenID Connect, and plain OAuth 2.0), in Chromium, end to end: relying
party → Ostiary → another Ostiary's sign-in and consent → back → our consent → code → tokens verified offline;
then the account page's linked sign-ins. No script on any of our pages (the strict CSP would report one)."""

from __future__ import annotations

import re

import jwt
import pytest
from playwright.sync_api import expect

from tests.factories import DEFAULT_PASSWORD
from tests.federation.conftest import (  # noqa: F401
    add_oauth2_provider,
    add_provider,
    loopback_egress,
    provider,
    upstream,
    upstream_proxy,
)
from tests.flows import exchange_code, query_of

pytestmark = pytest.mark.browser


def allow_at_upstream_unless_given(page, upstream_url: str, live_server: str) -> None:
    """The upstream asks for consent unless this person gave it before (the upstream outlives one test)."""
    page.wait_for_url(re.compile("^(" + re.escape(live_server) + "|" + re.escape(upstream_url) + "/oauth/authorize)"))
    if page.url.startswith(upstream_url):
        page.get_by_role("button", name="Allow", exact=True).click()


@pytest.mark.parametrize("kind", ["oidc", "oauth2"])
def test_continue_with_upstream_end_to_end(page, request, kind, upstream, rp_client,  # noqa: F811
                                           live_server, authorization_request, screenshot, browser_log):
    """An OpenID provider (an ID token) and a plain OAuth 2.0 one (the same upstream, its ID token stripped by the
    proxy: the person from user-info) take the same way."""
    if kind == "oidc":
        name = request.getfixturevalue("provider")["name"]
    else:
        name = request.getfixturevalue("add_oauth2_provider")()["name"]
    authorization = authorization_request(rp_client)
    page.goto(authorization.url)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    screenshot(page, f"login-with-upstream-{kind}")
    page.get_by_role("link", name="Continue with Upstream").click()

    # The upstream's own sign-in page, on its own host.
    expect(page).to_have_url(re.compile("^" + re.escape(upstream.url) + "/login"))
    page.get_by_label("Email or username").fill("alice@upstream.example")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    allow_at_upstream_unless_given(page, upstream.url, live_server)

    # Back at ours, signed in as the account made just in time: our consent page.
    expect(page).to_have_url(re.compile("^" + re.escape(live_server) + "/oauth/authorize"))
    expect(page.locator("main")).to_contain_text("alice@upstream.example")
    with page.expect_request(lambda r: r.url.startswith(rp_client.redirect_uri + "?")) as callback:
        page.get_by_role("button", name="Allow", exact=True).click()
    query = query_of(callback.value.url)
    assert query["state"] == authorization.params["state"] and query["iss"] == live_server

    tokens = exchange_code(live_server, rp_client, query["code"], authorization.verifier).json()
    key = jwt.PyJWKClient(f"{live_server}/.well-known/jwks.json").get_signing_key_from_jwt(tokens["id_token"])
    claims = jwt.decode(tokens["id_token"], key.key, algorithms=["RS256"], audience=rp_client.client_id,
                        issuer=live_server)
    assert claims["amr"] == ["fed"] and claims["idp"] == name

    # The account page lists the linked sign-in; it is the only way in, so it cannot be unlinked.
    page.goto(f"{live_server}/account/linked")
    expect(page.locator("#identities")).to_contain_text("Upstream")
    expect(page.locator("#identities")).to_contain_text("alice@upstream.example")
    expect(page.get_by_role("button", name="Unlink Upstream")).to_have_count(0)
    screenshot(page, f"linked-sign-ins-{kind}")
    assert browser_log.errors == []


def test_link_and_unlink_from_the_account_page(page, make, provider, upstream, live_server, sign_in,  # noqa: F811
                                               browser_log):
    make.user("erin@example.com")
    page.goto(f"{live_server}/account/linked")
    sign_in(page, "erin@example.com")
    expect(page.locator("#no-identities")).to_be_visible()
    page.get_by_role("button", name="Link Upstream").click()  # a fresh sign-in: no password asked
    page.get_by_label("Email or username").fill("alice@upstream.example")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    allow_at_upstream_unless_given(page, upstream.url, live_server)
    expect(page).to_have_url(f"{live_server}/account/linked")
    expect(page.locator("main")).to_contain_text("Upstream is now linked to your account.")
    expect(page.locator("#identities")).to_contain_text("alice@upstream.example")
    page.get_by_role("button", name="Unlink Upstream").click()
    expect(page.locator("main")).to_contain_text("Upstream is no longer linked to your account.")
    expect(page.locator("#no-identities")).to_be_visible()
    assert browser_log.errors == []
