"""Point 4: CSP without script, no framing, nosniff, no cross-origin referrer, HSTS over https, no-store; CORS by allowlist only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from app.config import ConfigError, load_settings
from tests.flows import authorization_params, csrf_token, introspect, pkce_pair, sign_in, tokens_for, userinfo
from tests.mfa.conftest import enrol_totp

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "web" / "templates"
APP_ORIGIN = "https://app.example.com"
HTTPS_ISSUER = "https://id.example.com"


@pytest.fixture
def signed_in(app, make):
    make.user("pages@example.com")
    client = app.test_client()
    assert sign_in(client, "pages@example.com").status_code == 302
    return client


def pages(client, registered) -> dict[str, object]:
    """Every kind of page the server renders, reached the way a browser reaches it."""
    _, challenge = pkce_pair()
    consent = client.get("/oauth/authorize", query_string=authorization_params(registered, challenge))
    return {
        "home": client.get("/"),
        "account": client.get("/account"),
        "sessions": client.get("/account/sessions"),
        "api keys": client.get("/account/api-keys"),
        "consent": consent,
        "rp logout": client.get("/oauth/logout"),
        "error page": client.get("/oauth/authorize?client_id=unknown"),
        "not found": client.get("/no/such/page"),
        "logout": client.get("/logout"),
        "login": client.get("/login"),
    }


# Pages that load our own static/passkeys.js (page_script in the template): script-src and connect-src 'self',
# nothing more.
SCRIPTED_PAGES = {"login"}
SCRIPTED_TEMPLATES = {"login.html", "second_factor.html", "account_security.html"}
PASSKEY_SCRIPT = "{{ page_script('passkeys.js') }}"


def directives_of(response) -> dict[str, str]:
    return dict(d.strip().split(" ", 1) for d in response.headers["Content-Security-Policy"].split(";"))


def test_every_page_carries_the_security_headers(signed_in, make):
    for name, response in pages(signed_in, make.client()).items():
        assert response.mimetype == "text/html", name
        csp = response.headers["Content-Security-Policy"]
        directives = directives_of(response)
        assert directives["default-src"] == "'none'", (name, csp)
        if name in SCRIPTED_PAGES:
            assert directives["script-src"] == directives["connect-src"] == "'self'", (name, csp)
        else:
            assert "script-src" not in directives and "connect-src" not in directives, (name, csp)
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, name
        assert directives["frame-ancestors"] == "'none'", name
        assert response.headers["X-Frame-Options"] == "DENY", name
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        # A same-origin Referer for Flask-WTF's https check; nothing to any other origin.
        assert response.headers["Referrer-Policy"] == "same-origin", name
        assert response.headers["Cache-Control"] == "no-store", name
        assert "Strict-Transport-Security" not in response.headers, name  # plain http: HSTS would be ignored


def test_the_script_policy_follows_the_page_not_the_view(app, make, signed_in):
    """One view may answer with the page that loads passkeys.js or with another: that page, and only it, may run
    the script. The security tab shown again after a wrong password keeps its passkey button working; the app's
    set-up page, and a second step without passkeys, stay script-free."""
    overview = signed_in.get("/account/security")
    token = csrf_token(overview.get_data(as_text=True))
    wrong_password = signed_in.post("/account/security/confirm", data={"csrf_token": token, "password": "wrong"})
    app_set_up = signed_in.post("/account/security/totp", data={"csrf_token": token})
    with app.app_context():
        enrol_totp(make.user("app-only@example.com"))
    second_step = app.test_client()
    assert "/login/second-factor" in sign_in(second_step, "app-only@example.com").headers["Location"]
    answers = {"overview": (overview, True), "wrong password": (wrong_password, True),
               "app set-up": (app_set_up, False), "second step": (second_step.get("/login/second-factor"), False)}
    for name, (response, scripted) in answers.items():
        assert response.status_code in (200, 400), name
        assert ("/static/passkeys.js" in response.get_data(as_text=True)) is scripted, name
        directives = directives_of(response)
        assert ("script-src" in directives and "connect-src" in directives) is scripted, name


def test_templates_hold_no_inline_script_or_style():
    """The CSP would block them anyway; this keeps a page from silently breaking."""
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        if template.name in SCRIPTED_TEMPLATES:
            text = text.replace(PASSKEY_SCRIPT, "")  # our file, under script-src 'self'
        assert not re.search(r"<script|\son[a-z]+\s*=|\sstyle\s*=|javascript:", text, re.IGNORECASE), template.name


def test_hsts_over_https(build_app):
    https = build_app(ISSUER=HTTPS_ISSUER).test_client()
    for path in ("/login", "/.well-known/openid-configuration", "/oauth/token"):
        response = https.get(path, base_url=HTTPS_ISSUER)
        max_age = int(re.search(r"max-age=(\d+)", response.headers["Strict-Transport-Security"]).group(1))
        assert max_age >= 31536000, path


def test_secrets_are_never_cached(live_server, make):
    make.user("cache@example.com")
    registered = make.client()
    tokens = tokens_for(live_server, registered, "cache@example.com")
    token_error = requests.post(f"{live_server}/oauth/token", data={"grant_type": "client_credentials"})
    introspection = requests.post(f"{live_server}/oauth/introspect", data={"token": tokens["access_token"]},
                                  auth=(registered.client_id, registered.client_secret))
    assert introspect(live_server, registered, tokens["access_token"])["active"] is True
    for name, response in {
        "token error": token_error,
        "introspection": introspection,
        "userinfo": userinfo(live_server, tokens["access_token"]),
        "userinfo error": userinfo(live_server, "garbage"),
    }.items():
        assert response.headers["Cache-Control"] == "no-store", name
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
    refreshed = requests.post(f"{live_server}/oauth/token", auth=(registered.client_id, registered.client_secret),
                              data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.headers["Cache-Control"] == "no-store"


@pytest.fixture
def cors_app(build_app):
    return build_app(CORS_ALLOWED_ORIGINS=[APP_ORIGIN, "http://localhost:3000"])


CORS_ENDPOINTS = [
    ("POST", "/oauth/token"),
    ("POST", "/oauth/revoke"),  # oidc-client-ts revokes on sign-out from the app's origin
    ("GET", "/oauth/userinfo"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/.well-known/oauth-authorization-server"),
]


@pytest.mark.parametrize(("method", "path"), CORS_ENDPOINTS)
def test_allowed_origins_may_call_the_browser_endpoints(cors_app, method, path):
    client = cors_app.test_client()
    response = client.open(path, method=method, headers={"Origin": APP_ORIGIN})
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers

    preflight = client.options(path, headers={"Origin": APP_ORIGIN, "Access-Control-Request-Method": method,
                                              "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert method in preflight.headers["Access-Control-Allow-Methods"].split(", ")
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    assert int(preflight.headers["Access-Control-Max-Age"]) > 0


@pytest.mark.parametrize(("method", "path"), CORS_ENDPOINTS)
def test_other_origins_get_no_cors_headers(cors_app, app, method, path):
    for application, origin in ((cors_app, "https://evil.example"), (cors_app, "https://app.example.com.evil"),
                                (cors_app, "null"), (app, APP_ORIGIN)):  # the default allowlist is empty
        client = application.test_client()
        response = client.open(path, method=method, headers={"Origin": origin})
        preflight = client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method})
        for answer in (response, preflight):
            assert not [h for h, _ in answer.headers if h.startswith("Access-Control-")], (origin, path)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/oauth/authorize"), ("POST", "/oauth/authorize"), ("GET", "/login"), ("POST", "/login"), ("GET", "/"),
    ("GET", "/account"), ("POST", "/oauth/introspect"), ("GET", "/oauth/logout"),
    ("GET", "/admin/api/openapi.json"), ("GET", "/admin/api/users"),
])
def test_authorize_the_pages_and_everything_else_never_answer_cross_origin(cors_app, method, path):
    client = cors_app.test_client()
    response = client.open(path, method=method, headers={"Origin": APP_ORIGIN})
    preflight = client.options(path, headers={"Origin": APP_ORIGIN, "Access-Control-Request-Method": method})
    for answer in (response, preflight):
        assert not [h for h, _ in answer.headers if h.startswith("Access-Control-")], path


@pytest.mark.parametrize("origin", ["https://app.example.com/", "https://app.example.com/path", "app.example.com",
                                    "http://app.example.com", "ftp://app.example.com", "*", "https://u@app.example.com"])
def test_a_bad_cors_origin_is_refused_at_start_up(origin):
    with pytest.raises(ConfigError, match="OSTIARY_CORS_ALLOWED_ORIGINS"):
        load_settings({"OSTIARY_CORS_ALLOWED_ORIGINS": origin}, None)


def test_cors_origins_are_read_from_the_environment():
    settings = load_settings({"OSTIARY_CORS_ALLOWED_ORIGINS": "https://a.example.com, http://127.0.0.1:5173"}, None)
    assert settings["CORS_ALLOWED_ORIGINS"] == ["https://a.example.com", "http://127.0.0.1:5173"]

