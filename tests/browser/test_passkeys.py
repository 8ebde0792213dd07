"""Passkeys in headless Chromium with a virtual authenticator (DevTools WebAuthn domain): registered on the account
page, then used as the second step after a password and alone (discoverable credential, user verification) from
the sign-in page; a replayed assertion and a counter gone backwards are refused. WebAuthn needs a domain for the
relying party id, so this app's issuer is http://localhost (a secure context), on the suite's database."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl

import jwt
import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select, update

from app.assurance import ACR_PHISHING_RESISTANT
from app.extensions import db
from app.models import AuditEvent, LoginSession, Passkey
from app.security.secrets import digest
from tests.browser.conftest import BrowserLog, another_app, authorization_request_to, browser_context
from tests.browser.quality import SCRIPTS
from tests.factories import DEFAULT_PASSWORD
from tests.flows import csrf_token, exchange_code, query_of

pytestmark = pytest.mark.browser

AUTHENTICATOR = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
                 "isUserVerified": True, "automaticPresenceSimulation": True}


@pytest.fixture(scope="module")
def localhost_app(app: Flask, database_url: str, keys_dir, tmp_path_factory) -> Iterator[tuple[Flask, str]]:
    mail_dir = str(tmp_path_factory.mktemp("passkey-mail"))

    def settings(port: int) -> dict:
        return {"DATABASE_URL": database_url, "KEYS_DIR": str(keys_dir), "ISSUER": f"http://localhost:{port}",
                "MAIL_DIR": mail_dir, "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
                "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 1024, "ARGON2_PARALLELISM": 1}

    with another_app(settings) as (served, port):
        yield served, f"http://localhost:{port}"


@pytest.fixture
def base_url(localhost_app) -> str:
    return localhost_app[1]


@pytest.fixture
def page(chromium, base_url: str, browser_log: BrowserLog) -> Iterator[object]:
    """A page with a virtual authenticator that verifies the person (a platform passkey with a PIN)."""
    with browser_context(chromium, base_url, browser_log) as context:
        page = context.new_page()
        devtools = context.new_cdp_session(page)
        devtools.send("WebAuthn.enable")
        devtools.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
        yield page


def sign_in_with_password(page, login: str) -> None:
    page.get_by_label("Email or username").fill(login)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def register_passkey(page, name: str = "Laptop") -> None:
    page.goto("/account/security")
    expect(page.locator("#passkeys")).to_contain_text("You have no passkeys.")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="I have saved them").click()
    expect(page.locator("#passkeys")).to_contain_text(name)


def sign_out(page) -> None:
    page.goto("/logout")
    page.get_by_role("button", name="Sign out").click()


def session_amr(app: Flask, page) -> list[str]:
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "ostiary_session")
    with app.app_context():
        found = db.session.scalar(select(LoginSession).where(LoginSession.session_hash == digest(cookie)))
        return found.amr.split()


def passkey_row(app: Flask) -> Passkey:
    with app.app_context():
        found = db.session.scalars(select(Passkey)).one()
        db.session.expunge(found)
        return found


def with_a_passkey(page, make, email: str) -> None:
    """A new account signs in with its password, adds a passkey on the account page, and signs out."""
    make.user(email)
    page.goto("/login")
    sign_in_with_password(page, email)
    register_passkey(page)
    sign_out(page)


def test_register_then_use_as_the_second_step(localhost_app, page, make, browser_log):
    app, _ = localhost_app
    with_a_passkey(page, make, "pia@example.com")
    stored = passkey_row(app)
    assert stored.user_verified and stored.device_type == "single_device" and stored.name == "Laptop"

    page.goto("/login?next=/account")
    sign_in_with_password(page, "pia@example.com")
    expect(page.get_by_role("heading", name="Confirm it’s you")).to_be_visible()
    assert page.evaluate(SCRIPTS)["scripts"] == 0  # passkeys.js only, from our origin
    csp = page.context.request.get(page.url).headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.locator("#signed-in-as")).to_have_text("pia@example.com")
    assert session_amr(app, page) == ["pwd", "hwk", "user", "mfa"]
    assert passkey_row(app).last_used_at is not None
    assert browser_log.errors == []


def test_passwordless_sign_in_gives_a_phishing_resistant_id_token(localhost_app, page, make, base_url):
    app, _ = localhost_app
    with_a_passkey(page, make, "pax@example.com")

    client = make.client(redirect_uris=[f"{base_url}/callback"])
    request = authorization_request_to(base_url, client)
    page.goto(request.url)
    posted = []
    page.on("request", lambda r: posted.append(r.post_data) if r.url.endswith("/login/passkey") else None)
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{base_url}/callback?**")
    assert session_amr(app, page) == ["hwk", "user", "mfa"]
    code = query_of(page.url)["code"]
    token = exchange_code(base_url, client, code, request.verifier).json()
    jwks = jwt.PyJWKClient(f"{base_url}/.well-known/jwks.json")
    claims = jwt.decode(token["id_token"], jwks.get_signing_key_from_jwt(token["id_token"]).key, algorithms=["RS256"],
                        audience=client.client_id, issuer=base_url)
    assert claims["acr"] == ACR_PHISHING_RESISTANT and claims["amr"] == ["hwk", "user", "mfa"]

    # The same assertion again, from the same browser (its cookies, a fresh CSRF token): its challenge is spent.
    fields = dict(parse_qsl(posted[0]))
    fields["csrf_token"] = csrf_token(page.context.request.get(f"{base_url}/login").text())
    replay = page.context.request.post(f"{base_url}/login/passkey", form=fields, max_redirects=0)
    assert replay.status == 401 and "ostiary_session" not in replay.headers.get("set-cookie", "")
    with app.app_context():
        refused = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "passkey.challenge_refused")).one()
    assert refused.outcome == "failure"


def test_a_counter_gone_backwards_is_refused_as_a_clone(localhost_app, page, make):
    app, _ = localhost_app
    with_a_passkey(page, make, "clone@example.com")
    with app.app_context():
        db.session.execute(update(Passkey).values(sign_count=1_000_000))
        db.session.commit()
    page.goto("/login")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("#error")).to_contain_text("Signing in with a passkey did not work")
    with app.app_context():
        events = db.session.scalars(select(AuditEvent.event).where(AuditEvent.outcome == "failure")).all()
    assert "passkey.clone_suspected" in events
