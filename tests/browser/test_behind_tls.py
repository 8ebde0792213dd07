"""The production set-up in Chromium: an https issuer behind a TLS-terminating proxy, one trusted hop.

Over https Flask-WTF also wants a same-origin Referer on every form POST (WTF_CSRF_SSL_STRICT), so every
form a person submits is tried here: sign-in, consent, an account form and both ways of signing out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import jwt
import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import BrowserLog, authorization_request_to, browser_context, launched_chromium
from tests.flows import exchange_code, query_of
from tests.ops.https_proxy import TlsDeployment, behind_tls_proxy

EMAIL = "tess@example.com"


@pytest.fixture(scope="module")
def deployment(app, database_url: str, keys_dir, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsDeployment]:
    """`ostiary serve` on the suite's database and keys (migrated by the `app` fixture), behind the proxy."""
    with behind_tls_proxy(database_url, keys_dir, tmp_path_factory.mktemp("tls")) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def chromium_any_certificate(playwright_driver) -> Iterator[object]:
    """The proxy's certificate is self-signed."""
    with launched_chromium(playwright_driver, "--ignore-certificate-errors") as browser:
        yield browser


@pytest.fixture
def tls_context(chromium_any_certificate, deployment: TlsDeployment, browser_log: BrowserLog) -> Iterator[object]:
    with browser_context(chromium_any_certificate, deployment.url, browser_log) as context:
        yield context


def session_cookies(context) -> list[dict]:
    return [cookie for cookie in context.cookies() if cookie["name"].endswith("ostiary_session")]


def test_every_form_works_over_https_behind_the_proxy(
    tls_context, deployment, make, relying_party, sign_in, browser_log, monkeypatch
):
    make.user(EMAIL, name="Tess")
    rp = make.client(redirect_uris=[f"{relying_party}/callback"],
                     post_logout_redirect_uris=[f"{relying_party}/signed-out"])
    page = tls_context.new_page()
    request = authorization_request_to(deployment.url, rp)

    page.goto(request.url)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    sign_in(page, EMAIL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Test App wants to access your account")
    [cookie] = session_cookies(tls_context)
    assert cookie["name"] == "__Host-ostiary_session" and cookie["secure"] and cookie["httpOnly"]

    with page.expect_request(lambda sent: sent.url.startswith(rp.redirect_uri + "?")) as callback:
        page.get_by_role("button", name="Allow").click()
    query = query_of(callback.value.url)
    assert query["iss"] == deployment.url and query["state"] == request.params["state"]
    assert "referer" not in callback.value.all_headers()  # the consent page's URL never reaches the client
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(deployment.cert_path))  # the relying party trusts the proxy
    tokens = exchange_code(deployment.url, rp, query["code"], request.verifier)
    assert tokens.status_code == 200, tokens.text
    assert jwt.decode(tokens.json()["id_token"], options={"verify_signature": False})["iss"] == deployment.url

    page.goto("/account")
    page.get_by_label("Name").fill("Tess Tester")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_have_text("Your profile was saved.")
    expect(page.get_by_label("Name")).to_have_value("Tess Tester")

    # RP-initiated logout without a hint: the person confirms on our page.
    params = {"client_id": rp.client_id, "post_logout_redirect_uri": f"{relying_party}/signed-out"}
    page.goto(f"/oauth/logout?{urlencode(params)}")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are signed out")
    assert session_cookies(tls_context) == []

    page.goto("/login")
    sign_in(page, EMAIL)
    expect(page.locator("#signed-in-as")).to_have_text(EMAIL)
    page.goto("/logout")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("main")).to_contain_text("You are not signed in.")
    assert session_cookies(tls_context) == []
    assert browser_log.errors == []


def test_no_host_a_client_sends_through_the_proxy_is_echoed(deployment, monkeypatch):
    """The proxy passes the client's Host and X-Forwarded-Host on; the issuer's host is the only one served."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(deployment.cert_path))
    forwarded = requests.get(f"{deployment.url}//oauth//authorize?client_id=x",
                             headers={"X-Forwarded-Host": "evil.example"}, allow_redirects=False)
    assert forwarded.status_code == 404 and "Location" not in forwarded.headers
    for path, status in (("/login", 400), ("/oauth/authorize", 400), ("/healthz", 200), ("/readyz", 200)):
        answer = requests.get(f"{deployment.url}{path}", headers={"Host": "evil.example"}, allow_redirects=False)
        assert answer.status_code == status and "evil.example" not in answer.text, path
