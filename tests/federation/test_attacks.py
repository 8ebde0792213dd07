"""Hostile answers on the upstream leg, as tables: each is a readable refusal with its reason, audited, and
leaves no account, identity or session behind."""

from __future__ import annotations

import base64
import re
import secrets
import time
from urllib.parse import urlencode, urlsplit

import pytest
from joserfc.jwk import OctKey, RSAKey
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, FederatedIdentity, LoginSession, User
from tests.federation.conftest import TOKEN, FederatedBrowser, Tamper, merged, without
from tests.flows import query_of

START = "/federation/upstream/start?next=/account"
FOREIGN_KEY = RSAKey.generate_key(2048)


def reason(response) -> str:
    found = re.search(r'<code id="error-code">([a-z_]+)</code>', response.text)
    assert found, (response.status_code, response.text[:500])
    return found.group(1)


def with_query(url: str, **changes: str | None) -> str:
    query = query_of(url)
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"


def assert_nothing_created(app) -> None:
    with app.app_context():
        assert db.session.scalar(select(User.id)) is None
        assert db.session.scalar(select(FederatedIdentity.id)) is None
        assert db.session.scalar(select(LoginSession.id)) is None
        refused = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "federation.sign_in")).all()
        assert [event.outcome for event in refused] == ["failure"]


@pytest.mark.parametrize(("case", "status", "expected"), [
    ("wrong state", 400, "invalid_state"),
    ("no state", 400, "invalid_state"),
    ("another browser", 400, "invalid_state"),
    ("another provider's callback path (mix-up)", 400, "invalid_state"),
    ("iss of another issuer", 400, "upstream_failed"),
    ("no iss though the upstream always sends it", 400, "upstream_failed"),
    ("no code", 400, "upstream_failed"),
])
def test_a_tampered_callback_is_refused(app, browser, provider, add_provider, case, status, expected):
    add_provider("other")
    callback = browser.upstream_answer(START)
    tampered = {
        "wrong state": lambda url: (browser, with_query(url, state=secrets.token_urlsafe(32))),
        "no state": lambda url: (browser, with_query(url, state=None)),
        "another browser": lambda url: (FederatedBrowser(browser.base_url, browser.upstream), url),
        "another provider's callback path (mix-up)": lambda url: (browser, url.replace("/upstream/", "/other/")),
        "iss of another issuer": lambda url: (browser, with_query(url, iss="https://evil.example")),
        "no iss though the upstream always sends it": lambda url: (browser, with_query(url, iss=None)),
        "no code": lambda url: (browser, with_query(url, code=None)),
    }[case]
    who, url = tampered(callback)
    response = who.back(url)
    assert (response.status_code, reason(response)) == (status, expected)
    assert_nothing_created(app)


def test_a_replayed_callback_is_refused(app, browser, provider):
    callback = browser.upstream_answer(START)
    assert browser.back(callback).status_code == 302
    replayed = browser.back(callback)
    assert (replayed.status_code, reason(replayed)) == (400, "invalid_state")


def _later(claims: dict, **changes) -> dict:
    return claims | changes


def _unsigned(answer: dict) -> dict:
    """The upstream's own ID token, its claims intact, as an unsecured JWT (RFC 7519 §6: alg none, no signature)."""
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return answer | {"id_token": f"{header}.{answer['id_token'].split('.')[1]}."}


@pytest.mark.parametrize(("case", "tamper"), [
    ("ID token for another audience", Tamper(claims=lambda c: _later(c, aud="someone-else"))),
    ("ID token for several audiences without azp", Tamper(claims=lambda c: _later(c, aud=[c["aud"], "other"]))),
    ("nonce mismatch", Tamper(claims=lambda c: _later(c, nonce="not-the-nonce"))),
    ("no nonce", Tamper(claims=lambda c: {k: v for k, v in c.items() if k != "nonce"})),
    ("ID token from another issuer", Tamper(claims=lambda c: _later(c, iss="https://evil.example"))),
    ("expired ID token", Tamper(claims=lambda c: _later(c, exp=int(time.time()) - 600, iat=int(time.time()) - 900))),
    ("bad signature (a key the upstream never published)", Tamper(claims=lambda c: c, key=FOREIGN_KEY)),
    ("at_hash of another access token", Tamper(claims=lambda c: _later(c, at_hash="AAAAAAAAAAAAAAAAAAAAAA"))),
    ("user-info about someone else", Tamper(claims=lambda c: _later(c, sub="someone-else"))),
    ("no ID token from an OpenID provider", Tamper(json=without("id_token"))),
    ("token endpoint refuses the code", Tamper(body=b'{"error": "invalid_grant"}', status=400)),
    ("an error answered with 200", Tamper(body=b'{"error": "invalid_grant"}', status=200)),
    ("an ID token that is not a JWT", Tamper(json=merged(id_token="not.a.jwt"))),
    ("an ID token that is a number", Tamper(json=merged(id_token=12345))),
    ("an ID token of 20 KB", Tamper(json=merged(id_token="e" * 20_000))),
    ("an unsigned ID token (alg none)", Tamper(json=_unsigned)),
    ("an HMAC-signed ID token (HS256)", Tamper(claims=lambda c: c, key=OctKey.import_key(b"k" * 32), alg="HS256")),
])
def test_a_forged_or_refused_token_response_is_refused(app, browser, provider, upstream_proxy, case, tamper):
    upstream_proxy.tamper(TOKEN, tamper)
    response = browser.sign_in(START)
    assert (response.status_code, reason(response)) == (400, "upstream_failed"), case
    assert_nothing_created(app)


@pytest.mark.parametrize(("case", "tamper"), [
    ("malformed JSON", Tamper(body=b"{not json")),
    ("a JSON array", Tamper(body=b"[1, 2]")),
    ("oversized", Tamper(body=b'{"access_token": "' + b"x" * 200_000 + b'"}')),
    ("a server error", Tamper(body=b"<html>oops</html>", status=500)),
    ("a redirect to another host", Tamper(body=b"", status=302, headers={"Location": "http://169.254.169.254/"})),
    ("no access token", Tamper(body=b'{"token_type": "Bearer"}')),
    ("an access token that is a number", Tamper(json=merged(access_token=12345))),
])
def test_a_broken_token_endpoint_is_unavailable(app, browser, provider, upstream_proxy, case, tamper):
    upstream_proxy.tamper(TOKEN, tamper)
    response = browser.sign_in(START)
    assert (response.status_code, reason(response)) == (503, "upstream_unavailable"), case
    assert_nothing_created(app)


def test_a_cancelled_sign_in_is_a_readable_page(app, browser, provider):
    response = browser.sign_in(START, login="frank@upstream.example", decision="deny")
    assert (response.status_code, reason(response)) == (400, "upstream_denied")
    assert "did not sign you in" in response.text
    assert_nothing_created(app)


def test_an_upstream_that_is_down_is_a_readable_page(app, browser, add_provider):
    from tests.processes import free_port

    add_provider("down", issuer=f"http://127.0.0.1:{free_port()}")
    response = browser.session.get(f"{browser.base_url}/federation/down/start", allow_redirects=False)
    assert (response.status_code, reason(response)) == (503, "upstream_unavailable")


@pytest.mark.parametrize("path", ["/federation/nobody/start", "/federation/Upstream/start",
                                  "/federation/%00/start", "/federation/disabled/start"])
def test_an_unknown_or_disabled_provider_is_refused(browser, add_provider, path):
    add_provider("disabled", enabled=False)
    response = browser.session.get(browser.base_url + path, allow_redirects=False)
    assert (response.status_code, reason(response)) == (400, "unknown_provider")
