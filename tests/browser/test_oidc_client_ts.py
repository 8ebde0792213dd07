"""oidc-client-ts, the OpenID Connect library of single-page apps, in headless Chromium with its defaults: discovery,
the code flow with PKCE from a public client, userinfo, and revokeTokens() on sign-out, all from the app's own
origin, cross-origin to Ostiary (OAuth 2.0 for Browser-Based Apps §6.1)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.flows import refresh, userinfo

# Its lock file lives with the other relying-party libraries; .ci/run installs it there.
PACKAGE = Path(__file__).parents[1] / "relying_parties" / "oidc_client_ts"
LIBRARY = PACKAGE / "node_modules" / "oidc-client-ts" / "dist" / "browser" / "oidc-client-ts.js"
PAGE = ("<!doctype html><html lang=en><title>Photo app</title><link rel=icon href=data:,>"
        "<script src=/oidc-client-ts.js></script><script src=/settings.js></script><script src=/app.js defer></script>"
        "<button id=sign-in>Sign in</button> <button id=sign-out>Revoke and sign out</button><p id=status></p>")
APP = """
const manager = new oidc.UserManager({
  ...settings, redirect_uri: location.origin + '/callback', response_type: 'code',
  scope: 'openid profile offline_access', loadUserInfo: true, revokeTokenTypes: ['access_token', 'refresh_token'],
});
const show = (text) => { document.getElementById('status').textContent = text; };
if (location.pathname === '/callback') {
  manager.signinRedirectCallback().then((user) => {
    window.signedIn = {sub: user.profile.sub, name: user.profile.name, access_token: user.access_token,
                       refresh_token: user.refresh_token};
    show('signed in');
  }, (error) => show('error: ' + error.message));
}
document.getElementById('sign-in').addEventListener('click', () => manager.signinRedirect());
document.getElementById('sign-out').addEventListener('click', () =>
  manager.revokeTokens().then(() => show('revoked'), (error) => show('error: ' + error.message)));
"""


@dataclass
class SinglePageApp:
    origin: str
    settings: dict[str, str]  # oidc-client-ts's UserManager settings, read on every page load


def _handler(settings: dict[str, str]) -> type[BaseHTTPRequestHandler]:
    library = LIBRARY.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            files = {"/oidc-client-ts.js": ("text/javascript", library),
                     "/settings.js": ("text/javascript", f"const settings = {json.dumps(settings)};".encode()),
                     "/app.js": ("text/javascript", APP.encode())}
            content_type, body = files.get(self.path.split("?")[0], ("text/html; charset=utf-8", PAGE.encode()))
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def single_page_app() -> Iterator[SinglePageApp]:
    """A browser app on an origin of its own, serving oidc-client-ts (from the lock file), its settings and itself."""
    if not LIBRARY.exists():
        pytest.fail(f"{LIBRARY} is missing: run `npm ci` in {PACKAGE}")
    settings: dict[str, str] = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(settings))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SinglePageApp(f"http://127.0.0.1:{server.server_port}", settings)
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_single_page_app_signs_in_reads_userinfo_and_revokes_its_tokens(
        app, make, page, live_server, single_page_app, sign_in, monkeypatch, browser_log):
    alice = make.user("alice@example.com", name="Alice")
    spa = make.client(public=True, redirect_uris=[f"{single_page_app.origin}/callback"],
                      scope="openid profile offline_access")
    single_page_app.settings.update(authority=live_server, client_id=spa.client_id)
    # OSTIARY_CORS_ALLOWED_ORIGINS names the app's origin (read on every request).
    monkeypatch.setitem(app.config, "CORS_ALLOWED_ORIGINS", [single_page_app.origin])

    page.goto(single_page_app.origin)
    page.get_by_role("button", name="Sign in", exact=True).click()  # discovery, then off to Ostiary with PKCE
    sign_in(page, "alice@example.com")
    page.get_by_role("button", name="Allow").click()
    expect(page.locator("#status")).to_have_text("signed in")  # code exchanged and userinfo read, cross-origin
    signed_in = page.evaluate("window.signedIn")
    assert (signed_in["sub"], signed_in["name"]) == (alice.sub, "Alice")
    assert userinfo(live_server, signed_in["access_token"]).status_code == 200

    page.get_by_role("button", name="Revoke and sign out").click()
    expect(page.locator("#status")).to_have_text("revoked")  # /oauth/revoke answered with CORS
    assert userinfo(live_server, signed_in["access_token"]).status_code == 401
    assert refresh(live_server, spa, signed_in["refresh_token"]).json()["error"] == "invalid_grant"
    assert browser_log.errors == []


def test_revocation_refuses_cors_to_an_origin_not_allowed(live_server, make, app, monkeypatch):
    """The same request from an origin not on OSTIARY_CORS_ALLOWED_ORIGINS: no CORS headers, so no browser app
    there can read the answer."""
    monkeypatch.setitem(app.config, "CORS_ALLOWED_ORIGINS", ["http://127.0.0.1:1"])
    spa = make.client(public=True)
    response = requests.post(f"{live_server}/oauth/revoke", data={"token": "x", "client_id": spa.client_id},
                             headers={"Origin": "https://evil.example"})
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response.headers
