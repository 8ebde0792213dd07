"""Endpoints declare their audience once: machine APIs answer errors in JSON, pages with a readable page, and a
path no route matched is answered like the routes around it. A new endpoint needs no edit of a central list."""

from __future__ import annotations

import pytest
from flask import Blueprint, jsonify
from sqlalchemy import event

from app.extensions import db
from app.web.view_options import API, PAGE, any_host, api, audience, audience_of_path, cors, no_store
from tests.flows import sign_in

APP_ORIGIN = "https://app.example.com"
DECLARED = {
    "oauth.token": API, "oauth.revoke": API, "oauth.introspect": API, "oauth.metadata": API, "oauth.jwks": API,
    "oidc.userinfo": API, "health.healthz": API, "health.readyz": API, "metrics.scrape": API,
    "admin_api.list_users": API, "admin_api.openapi": API,
    "oauth.authorize": PAGE, "oidc.end_session": PAGE, "pages.home": PAGE, "pages.login": PAGE,
    "pages.logout": PAGE, "account.profile": PAGE, "account.create_key": PAGE, "static": PAGE,
}


def audience_of(app, endpoint: str) -> str:
    rule = next(rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint)
    path = rule.rule.replace("<path:filename>", "style.css").replace("<sub>", "x")
    with app.test_request_context(path, method=min((rule.methods or set()) - {"HEAD", "OPTIONS"})):
        return audience()


@pytest.mark.parametrize(("endpoint", "expected"), DECLARED.items())
def test_every_endpoint_has_the_audience_it_serves(app, endpoint, expected):
    assert audience_of(app, endpoint) == expected


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/admin/api/no-such-collection", API), ("GET", "/.well-known/no-such-document", API),
    ("GET", "/oauth/token/more", API), ("GET", "/oauth/token", API), ("PUT", "/oauth/userinfo", API),
    ("GET", "/oauth/no-such-endpoint", PAGE), ("GET", "/no/such/page", PAGE), ("PUT", "/login", PAGE),
    ("GET", "/account/no-such-section", PAGE), ("DELETE", "/", PAGE),
])
def test_routing_errors_are_answered_like_the_routes_around_them(app, method, path, expected):
    response = app.test_client().open(path, method=method)
    assert response.status_code in (404, 405)
    with app.test_request_context(path):
        assert audience_of_path(path) == expected
    if expected == API:
        assert response.mimetype == "application/json" and response.headers["Cache-Control"] == "no-store"
        assert set(response.get_json()) == {"error", "error_description"}
    else:
        assert response.mimetype == "text/html" and "<h1" in response.get_data(as_text=True)


def test_a_new_machine_endpoint_declares_itself_and_nothing_else_changes(build_app):
    """What registering, say, pushed authorization requests (RFC 9126) takes: a blueprint and @api, no list."""
    application = build_app(CORS_ALLOWED_ORIGINS=[APP_ORIGIN])
    par = Blueprint("par", __name__, url_prefix="/oauth/par")

    @par.post("")
    @api
    def push():
        raise ValueError("not implemented")  # an unexpected failure: still answered in the API's own dialect

    @par.get("/requests/<request_id>")
    @api
    @cors
    @no_store
    def show(request_id: str):
        return jsonify(request_id=request_id)

    application.register_blueprint(par)
    client = application.test_client()

    failed = client.post("/oauth/par", data={"client_id": "x"}, headers={"Origin": APP_ORIGIN})  # and no CSRF token
    assert (failed.status_code, failed.get_json()["error"]) == (500, "server_error")
    wrong_method = client.get("/oauth/par")
    assert (wrong_method.status_code, wrong_method.get_json()["error"]) == (405, "invalid_request")
    unknown = client.get("/oauth/par/no-such")
    assert (unknown.status_code, unknown.get_json()["error"]) == (404, "not_found")
    assert client.get("/oauth/no-such").mimetype == "text/html"  # /oauth/ holds pages too

    shown = client.get("/oauth/par/requests/r1", headers={"Origin": APP_ORIGIN})
    assert shown.get_json() == {"request_id": "r1"} and shown.headers["Cache-Control"] == "no-store"
    assert shown.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "Access-Control-Allow-Origin" not in failed.headers  # push() declared no CORS


@pytest.fixture
def session_lookups(app):
    """The statements that read login_sessions while the test runs."""
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "FROM login_sessions" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_the_session_is_looked_up_only_by_a_page_that_asks(app, make, session_lookups):
    """Loaded lazily: machine APIs never see it, and a page that does not need it costs no query."""
    make.user("lazy@example.com")
    client = app.test_client()
    assert sign_in(client, "lazy@example.com").status_code == 302
    session_lookups.clear()
    for path in ("/.well-known/openid-configuration", "/.well-known/jwks.json", "/healthz", "/login"):
        assert client.get(path).status_code == 200, path
    assert client.post("/oauth/token", data={"grant_type": "client_credentials"}).status_code == 401
    assert session_lookups == []
    assert client.get("/account").status_code == 200
    assert len(session_lookups) == 1  # asked twice (sign-in check, then the page), looked up once


def test_a_view_answers_another_host_only_when_it_declares_any_host(build_app):
    application = build_app()
    probes = Blueprint("probes", __name__)

    @probes.get("/livez")
    @api
    @any_host
    def livez():
        return jsonify(status="ok")

    @probes.get("/startupz")
    @api
    def startupz():
        return jsonify(status="ok")

    application.register_blueprint(probes)
    client = application.test_client()
    assert client.get("/livez", headers={"Host": "10.1.2.3:8000"}).status_code == 200
    refused = client.get("/startupz", headers={"Host": "10.1.2.3:8000"})
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_request"
