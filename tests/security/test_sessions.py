"""Point 3: no session fixation, idle and absolute timeouts, server-side sign-out, hardened cookies."""

from __future__ import annotations

import time

import pytest
from flask import Flask

from app.models import LoginSession
from app.security.secrets import digest
from tests.flows import csrf_token, sign_in

HTTPS_ISSUER = "https://id.example.com"


def session_cookie(response, name: str = "ostiary_session") -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


def value_of(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


def signed_in_as(app: Flask, cookie_value: str | None) -> bool:
    client = app.test_client()
    if cookie_value is not None:
        client.set_cookie("ostiary_session", cookie_value)
    return client.get("/account").status_code == 200


def stored(make, cookie_value: str) -> LoginSession | None:
    with make.app.app_context():
        return make.model(LoginSession, session_hash=digest(cookie_value))


def test_sign_in_replaces_a_planted_session_and_ends_it(app, make):
    make.user("attacker@example.com")
    make.user("victim@example.com")
    planted = value_of(session_cookie(sign_in(app.test_client(), "attacker@example.com")))

    victim = app.test_client()
    victim.set_cookie("ostiary_session", planted)  # e.g. through a sibling subdomain, without __Host-
    fresh = value_of(session_cookie(sign_in(victim, "victim@example.com")))

    assert fresh != planted
    assert signed_in_as(app, fresh)
    assert not signed_in_as(app, planted)
    assert stored(make, planted).revoked_at is not None


def test_an_unknown_session_id_is_never_adopted(app, make):
    make.user("someone@example.com")
    client = app.test_client()
    client.set_cookie("ostiary_session", "chosen-by-the-attacker")
    fresh = value_of(session_cookie(sign_in(client, "someone@example.com")))
    assert fresh != "chosen-by-the-attacker" and len(fresh) >= 43
    assert not signed_in_as(app, "chosen-by-the-attacker")


def test_a_session_ends_after_its_idle_timeout(app, make):
    make.user("idle@example.com")
    cookie = value_of(session_cookie(sign_in(app.test_client(), "idle@example.com")))
    idle = app.config["SESSION_IDLE_TTL_SECONDS"]
    make.update(LoginSession, {"session_hash": digest(cookie)}, last_seen_at=int(time.time()) - idle + 5)
    assert signed_in_as(app, cookie)  # still inside the idle window, and using it renews it
    make.update(LoginSession, {"session_hash": digest(cookie)}, last_seen_at=int(time.time()) - idle - 1)
    assert not signed_in_as(app, cookie)


def test_a_session_ends_at_its_absolute_timeout_however_active(app, make):
    make.user("busy@example.com")
    response = sign_in(app.test_client(), "busy@example.com")
    cookie = value_of(session_cookie(response))
    assert f"Max-Age={app.config['SESSION_ABSOLUTE_TTL_SECONDS']}" in session_cookie(response)
    make.update(LoginSession, {"session_hash": digest(cookie)}, expires_at=int(time.time()) - 1,
                last_seen_at=int(time.time()))
    assert not signed_in_as(app, cookie)


@pytest.mark.parametrize("path", ["/logout", "/oauth/logout"])
def test_sign_out_ends_the_session_on_the_server(app, make, path):
    make.user("leaving@example.com")
    client = app.test_client()
    cookie = value_of(session_cookie(sign_in(client, "leaving@example.com")))
    form = csrf_token(client.get(path).get_data(as_text=True))
    response = client.post(path, data={"csrf_token": form, "confirm": "yes"})

    assert "ostiary_session=;" in session_cookie(response)  # the browser forgets it ...
    assert not signed_in_as(app, cookie)  # ... and a copy kept elsewhere is dead too
    assert stored(make, cookie).revoked_at is not None


def test_cookies_over_http_are_httponly_and_samesite_lax(app, make):
    make.user("plain@example.com")
    cookie = session_cookie(sign_in(app.test_client(), "plain@example.com"))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "samesite"} <= attributes
    assert "SameSite=Lax" in cookie and "Path=/" in cookie and "Domain" not in cookie


def test_cookies_over_https_are_secure_and_host_prefixed(build_app, make):
    make.user("secure@example.com")
    https = build_app(ISSUER=HTTPS_ISSUER).test_client()
    page = https.get("/login", base_url=HTTPS_ISSUER)
    csrf_cookie = session_cookie(page, "__Host-ostiary_csrf")
    # Over https Flask-WTF also wants a same-origin Referer (WTF_CSRF_SSL_STRICT): a browser sends one only
    # if the page's Referrer-Policy allows it (tests/browser/test_behind_tls.py proves it in Chromium).
    referer = {} if page.headers["Referrer-Policy"] == "no-referrer" else {"Referer": f"{HTTPS_ISSUER}/login"}
    response = https.post("/login", base_url=HTTPS_ISSUER, headers=referer, data={
        "login": "secure@example.com", "password": "correct horse battery staple",
        "csrf_token": csrf_token(page.get_data(as_text=True)),
    })
    assert response.status_code == 302
    for cookie in (session_cookie(response, "__Host-ostiary_session"), csrf_cookie):
        # RFC 6265bis §4.1.3.2: __Host- requires Secure, Path=/ and no Domain.
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Path=/" in cookie and "Domain" not in cookie
