"""Headless Chromium (Debian's, never a downloaded build) driven by Playwright's sync API."""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from tests.factories import DEFAULT_PASSWORD, RegisteredClient
from tests.flows import authorization_params, pkce_pair

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Set to a folder to keep a PNG of every page a test names (see the `screenshot` fixture).
SCREENSHOT_DIR = os.environ.get("OSTIARY_SCREENSHOT_DIR")

RP_PAGE = "<!doctype html><html lang=en><title>Relying party</title><link rel=icon href=data:,><p>{}</p>"
RP_FRAME = "<!doctype html><html lang=en><title>Framing</title><link rel=icon href=data:,><iframe src={}></iframe>"
RP_AUTO_POST = ("<!doctype html><html lang=en><title>Posting</title><link rel=icon href=data:,>"
                '<form method=post action="{}">{}</form><script>document.forms[0].submit()</script>')


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[object]:
    """One Playwright driver for the session: its sync API allows only one per thread, however many browsers."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        yield playwright
    finally:
        playwright.stop()


@contextmanager
def launched_chromium(playwright_driver, *extra_args: str) -> Iterator[object]:
    """Debian's Chromium, headless, with CHROMIUM_ARGS and any extra switches."""
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *extra_args]
    )
    try:
        yield browser
    finally:
        browser.close()


@contextmanager
def another_app(settings: Callable[[int], dict]) -> Iterator[tuple[Flask, int]]:
    """A second app on the suite's database (migrated by `app`), over real HTTP on loopback; `settings(port)`
    gives its create_app overrides, which may name the port (the issuer does)."""
    server = make_server("127.0.0.1", 0, Flask(__name__), threaded=True)
    server.app = create_app(settings(server.server_port))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.app, server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        with server.app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def chromium(playwright_driver) -> Iterator[object]:
    with launched_chromium(playwright_driver) as browser:
        yield browser


class _RelyingPartyPage(BaseHTTPRequestHandler):
    """Any path: a tiny page. /frame?src=URL: a page that tries to put URL in an iframe.
    /auto-post?action=URL&name=value...: a page that POSTs the other fields to URL as soon as it loads."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/frame":
            body = RP_FRAME.format(html.escape(query["src"][0], quote=True))
        elif parts.path == "/auto-post":
            fields = "".join(
                f'<input type=hidden name="{html.escape(name, quote=True)}" value="{html.escape(values[0], quote=True)}">'
                for name, values in query.items() if name != "action"
            )
            body = RP_AUTO_POST.format(html.escape(query["action"][0], quote=True), fields)
        else:
            body = RP_PAGE.format(html.escape(parts.path))
        encoded = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def relying_party() -> Iterator[str]:
    """A relying party's web server on loopback, where the browser lands after authorize and logout."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RelyingPartyPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def rp_client(make, relying_party: str) -> RegisteredClient:
    """A confidential client whose redirect URIs point at the relying party's server."""
    return make.client(
        redirect_uris=[f"{relying_party}/callback"], post_logout_redirect_uris=[f"{relying_party}/signed-out"]
    )


@dataclass
class BrowserLog:
    """What one browser context saw: console errors, uncaught errors, CSP violations and every page loaded."""

    errors: list[str] = field(default_factory=list)
    documents: list = field(default_factory=list)  # Playwright Response objects, headers read on demand

    def on_console(self, message) -> None:
        if message.type == "error" and not _is_status_report(message.text):
            self.errors.append(f"{message.location.get('url', '')}: {message.text}")

    def on_web_error(self, web_error) -> None:
        self.errors.append(f"uncaught: {web_error.error}")

    def on_response(self, response) -> None:
        if response.request.resource_type == "document":
            self.documents.append(response)
        elif response.status >= 400:
            self.errors.append(f"{response.url}: {response.request.resource_type} answered {response.status}")


def _is_status_report(text: str) -> bool:
    # Chromium logs every 4xx response as a console error. A 401 page after a wrong password is intended;
    # a failing stylesheet or image is caught by on_response instead.
    return text.startswith("Failed to load resource: the server responded with a status of 4")


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@contextmanager
def browser_context(browser, base_url: str, browser_log: BrowserLog) -> Iterator[object]:
    """A fresh profile (no cookies) on base_url, reporting to browser_log."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1024, "height": 760}, locale="en-GB")
    context.set_default_timeout(10_000)
    context.on("console", browser_log.on_console)
    context.on("weberror", browser_log.on_web_error)
    context.on("response", browser_log.on_response)
    yield context
    context.close()


@pytest.fixture
def context(chromium, live_server: str, browser_log: BrowserLog) -> Iterator[object]:
    """A fresh profile (no cookies) per test."""
    with browser_context(chromium, live_server, browser_log) as context:
        yield context


@pytest.fixture
def page(context) -> Iterator[object]:
    page = context.new_page()
    yield page
    page.close()


@pytest.fixture
def screenshot() -> Callable[[object, str], None]:
    """screenshot(page, "login") writes login.png into OSTIARY_SCREENSHOT_DIR when it is set."""

    def take(page, name: str) -> None:
        if SCREENSHOT_DIR:
            Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def sign_in() -> Callable[..., object]:
    """Fill the login form the page shows, submit it the way a person does; return the POST's response."""

    def submit(page, login: str, password: str = DEFAULT_PASSWORD):
        page.get_by_label("Email or username").fill(login)
        page.get_by_label("Password").fill(password)
        with page.expect_event("load"), page.expect_response(_is_login_post) as posted:
            page.get_by_role("button", name="Sign in", exact=True).click()
        return posted.value

    return submit


def _is_login_post(response) -> bool:
    return response.request.method == "POST" and urlsplit(response.url).path == "/login"


@dataclass
class AuthorizationRequest:
    url: str
    params: dict[str, str]
    verifier: str


def authorization_request_to(base_url: str, client: RegisteredClient, **extra: str) -> AuthorizationRequest:
    """A relying party's authorization URL at base_url with PKCE S256, state and nonce."""
    verifier, challenge = pkce_pair()
    params = authorization_params(client, challenge, **extra)
    return AuthorizationRequest(f"{base_url}/oauth/authorize?{urlencode(params)}", params, verifier)


@pytest.fixture
def authorization_request(live_server: str) -> Callable[..., AuthorizationRequest]:
    """authorization_request(client, **extra): an authorization URL at the live server."""
    return partial(authorization_request_to, live_server)
