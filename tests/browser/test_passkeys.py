"""Passkeys in headless Chromium with a virtual authenticator (DevTools WebAuthn domain): registered on the account
page, then used as the second step after a password and alone (discoverable credential, user verification) from
the sign-in page; a replayed assertion and a counter gone backwards are refused. WebAuthn needs a domain for the
relying party id, so this app's issuer is http://localhost (a secure context), on the suite's database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass
class Authenticator:
    """The page's virtual authenticator, through the DevTools session that added it."""

    devtools: object
    authenticator_id: str

    def presence(self, enabled: bool) -> None:
        """Whether the authenticator answers by itself, as a person touching it would."""
        self.devtools.send("WebAuthn.setAutomaticPresenceSimulation",
                           {"authenticatorId": self.authenticator_id, "enabled": enabled})


@pytest.fixture
def with_authenticator(chromium, base_url: str, browser_log: BrowserLog) -> Iterator[tuple[object, Authenticator]]:
    """A page with a virtual authenticator that verifies the person (a platform passkey with a PIN)."""
    with browser_context(chromium, base_url, browser_log) as context:
        page = context.new_page()
        devtools = context.new_cdp_session(page)
        devtools.send("WebAuthn.enable")
        added = devtools.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
        yield page, Authenticator(devtools, added["authenticatorId"])


# Chromium's virtual authenticator answers a conditional request at once, where a person would first pick a
# passkey from the autofill list: the page of a test about the button or the password behaves as a browser
# without passkey autofill, so that no autofill signs in first.
WITHOUT_AUTOFILL = "PublicKeyCredential.isConditionalMediationAvailable = async () => false;"


@pytest.fixture
def autofill_page(with_authenticator) -> object:
    """A page whose browser offers passkeys in autofill (conditional mediation)."""
    return with_authenticator[0]


@pytest.fixture
def page(with_authenticator) -> object:
    with_authenticator[0].add_init_script(script=WITHOUT_AUTOFILL)
    return with_authenticator[0]


@pytest.fixture
def authenticator(with_authenticator) -> Authenticator:
    return with_authenticator[1]


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
    claims = id_token_claims(base_url, client, query_of(page.url)["code"], request.verifier)
    assert claims["acr"] == ACR_PHISHING_RESISTANT and claims["amr"] == ["hwk", "user", "mfa"]

    # The same assertion again, from the same browser (its cookies, a fresh CSRF token): its challenge is spent.
    fields = dict(parse_qsl(posted[0]))
    fields["csrf_token"] = csrf_token(page.context.request.get(f"{base_url}/login").text())
    replay = page.context.request.post(f"{base_url}/login/passkey", form=fields, max_redirects=0)
    assert replay.status == 401 and "ostiary_session" not in replay.headers.get("set-cookie", "")
    with app.app_context():
        refused = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "passkey.challenge_refused")).one()
    assert refused.outcome == "failure"


def id_token_claims(base_url: str, client, code: str, verifier: str) -> dict:
    token = exchange_code(base_url, client, code, verifier).json()
    jwks = jwt.PyJWKClient(f"{base_url}/.well-known/jwks.json")
    return jwt.decode(token["id_token"], jwks.get_signing_key_from_jwt(token["id_token"]).key, algorithms=["RS256"],
                      audience=client.client_id, issuer=base_url)


def test_a_password_session_steps_up_with_its_passkey_alone(localhost_app, page, make, base_url):
    """The session that added the passkey began with the password: acr_values phr asks for the passkey only
    (no password, no code), and the new session records both factors."""
    app, _ = localhost_app
    make.user("step@example.com")
    page.goto("/login")
    sign_in_with_password(page, "step@example.com")
    register_passkey(page)
    client = make.client(redirect_uris=[f"{base_url}/callback"])
    request = authorization_request_to(base_url, client, acr_values=ACR_PHISHING_RESISTANT)
    page.goto(request.url)
    expect(page.locator("#step-up")).to_be_visible()
    expect(page.locator("#totp-code")).to_have_count(0)
    page.get_by_role("button", name="Use a passkey").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{base_url}/callback?**")
    assert session_amr(app, page) == ["pwd", "hwk", "user", "mfa"]
    claims = id_token_claims(base_url, client, query_of(page.url)["code"], request.verifier)
    assert claims["acr"] == ACR_PHISHING_RESISTANT and claims["amr"] == ["pwd", "hwk", "user", "mfa"]


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



# Every navigator.credentials.get() the page makes, reported to the test as it happens (and when its signal aborts):
# an init script runs before the page's own, outside its CSP.
RECORD_GET = """(() => {
  const get = navigator.credentials.get.bind(navigator.credentials);
  let count = 0;
  navigator.credentials.get = (options) => {
    const number = count++;
    const publicKey = options.publicKey;
    window.passkeyRequest({number, mediation: options.mediation || null, rpId: publicKey.rpId,
                           userVerification: publicKey.userVerification,
                           allowCredentials: (publicKey.allowCredentials || []).length});
    if (options.signal) options.signal.addEventListener("abort", () => window.passkeyAborted(number));
    return get(options);
  };
})()"""


def recorded_requests(page) -> tuple[list[dict], list[int]]:
    """The page's credential requests and the numbers of those aborted."""
    requests: list[dict] = []
    aborted: list[int] = []
    page.expose_function("passkeyRequest", lambda request: requests.append(request))
    page.expose_function("passkeyAborted", lambda number: aborted.append(number))
    page.add_init_script(script=RECORD_GET)
    return requests, aborted


def test_the_sign_in_page_offers_passkeys_in_the_username_autofill(localhost_app, autofill_page, make, browser_log):
    """Chromium's virtual authenticator answers a conditional request at once (as if the person picked the
    passkey from the autofill list): the same passwordless sign-in as the button's."""
    app, _ = localhost_app
    page = autofill_page
    with_a_passkey(page, make, "auto@example.com")
    requests, _ = recorded_requests(page)
    page.goto("/login?next=/account")
    expect(page.locator("#signed-in-as")).to_have_text("auto@example.com")
    assert len(requests) == 1 and requests[0] == {"number": 0, "mediation": "conditional", "rpId": "localhost",
                           "userVerification": "required", "allowCredentials": 0}
    assert session_amr(app, page) == ["hwk", "user", "mfa"]
    assert browser_log.errors == []


def test_the_button_aborts_the_pending_autofill_request(localhost_app, autofill_page, authenticator, make):
    """A person who does not pick from the list: the conditional request waits (the authenticator does not
    answer by itself), and the button aborts it before its own, modal ceremony with a challenge of its own."""
    app, _ = localhost_app
    page = autofill_page
    with_a_passkey(page, make, "both@example.com")
    authenticator.presence(False)
    requests, aborted = recorded_requests(page)
    page.goto("/login")
    expect(page.get_by_label("Email or username")).to_have_attribute("autocomplete", "username webauthn")
    page.wait_for_function("document.querySelector('form[data-passkey]').hidden === false")
    page.wait_for_timeout(500)
    assert [request["mediation"] for request in requests] == ["conditional"] and aborted == []
    authenticator.presence(True)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("#signed-in-as")).to_have_text("both@example.com")
    assert [request["mediation"] for request in requests] == ["conditional", None] and aborted == [0]
    assert session_amr(app, page) == ["hwk", "user", "mfa"]
