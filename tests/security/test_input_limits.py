"""Point 9: oversized bodies get 413, overlong parameters a clear 400, and hostile strings anywhere never a 5xx."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest

from tests.admin.conftest import admin_headers
from tests.flows import assert_oauth_error, authorization_params, csrf_token, pkce_pair, sign_in

HOSTILE = [
    "\x00", "a\x00b", "\r\nSet-Cookie: stolen=1", "\x07\x1b[31m", "' OR '1'='1' --", "'; DROP TABLE users; --",
    "\" OR \"\"=\"", "1; SELECT pg_sleep(5)", "ünïcødé", "😀🔐", "\u202egnp.exe", "\ufeffbom", "%00", "%0d%0a",
    "../../../../etc/passwd", "<script>alert(1)</script>", "\\", "{{7*7}}", "${jndi:ldap://x}", "a" * 300, " ",
]
XSS = "<script>alert(1)</script>"


def no_server_error(response, *context: object) -> None:
    assert response.status_code < 500, (response.status_code, *context)
    location = response.headers.get("Location", "")
    assert not any(c in location for c in "\r\n\x00"), (location, *context)
    if response.mimetype == "text/html":
        assert XSS not in response.get_data(as_text=True), context  # escaped wherever a page echoes input


# Every endpoint that reads a form body. (Bearer endpoints refuse a request without a token before reading it.)
@pytest.mark.parametrize(("path", "json_answer"), [
    ("/oauth/token", True), ("/oauth/revoke", True), ("/oauth/introspect", True),
    ("/login", False), ("/oauth/authorize", False), ("/oauth/logout", False), ("/logout", False),
])
def test_an_oversized_body_is_413_in_the_shape_the_caller_reads(app, path, json_answer):
    limit = app.config["MAX_CONTENT_LENGTH_BYTES"]
    response = app.test_client().post(path, data=b"x=" + b"y" * limit,
                                      content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    if json_answer:
        assert response.json == {"error": "invalid_request", "error_description": "request body is too large"}
    else:
        assert response.mimetype == "text/html" and "request body is too large" in response.get_data(as_text=True)


def test_overlong_parameters_are_a_clear_400(app, make):
    registered = make.client()
    client = app.test_client()
    _, challenge = pkce_pair()
    authorize = client.get("/oauth/authorize",
                           query_string=authorization_params(registered, challenge, state="s" * 5000))
    assert authorize.status_code == 400 and "parameter &#39;state&#39; is too long" in authorize.get_data(as_text=True)
    token = client.post("/oauth/token", data={"grant_type": "authorization_code", "code": "c" * 5000})
    assert token.status_code == 400
    assert token.json == {"error": "invalid_request", "error_description": "parameter 'code' is too long"}
    logout = client.get("/oauth/logout", query_string={"state": "s" * 5000})
    assert logout.status_code == 400


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_logins_and_passwords(app, make, value):
    make.user("hostile@example.com")
    client = app.test_client()
    for login, password in ((value, "whatever-password"), ("hostile@example.com", value), (value, value)):
        response = sign_in(client, login, password)
        no_server_error(response, login, password)
        assert response.status_code in (401, 400)


@pytest.mark.fuzz  # every hostile string in every parameter, signed in and out: over a thousand requests
@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", ["client_id", "redirect_uri", "scope", "state", "nonce", "login_hint", "prompt",
                                   "response_type", "code_challenge", "resource", "max_age"])
def test_hostile_authorization_parameters(app, make, field, value):
    make.user("authz@example.com")
    registered = make.client()
    _, challenge = pkce_pair()
    params = authorization_params(registered, challenge, **{field: value})
    for client in (app.test_client(), _signed_in(app)):
        no_server_error(client.get("/oauth/authorize", query_string=params), field, value)
        no_server_error(client.post("/oauth/authorize", data=params), field, value)


def _signed_in(app):
    client = app.test_client()
    sign_in(client, "authz@example.com")
    return client


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_token_revocation_introspection_and_userinfo_requests(app, make, value):
    registered = make.client()
    machine = make.machine()
    client = app.test_client()
    basic = base64.b64encode(f"{value}:{value}".encode()).decode()
    requests = [
        ("/oauth/token", {"grant_type": value}),
        ("/oauth/token", {"grant_type": "authorization_code", "code": value, "redirect_uri": value,
                          "code_verifier": value, "client_id": registered.client_id}),
        ("/oauth/token", {"grant_type": "refresh_token", "refresh_token": value, "scope": value,
                          "client_id": value, "client_secret": value}),
        ("/oauth/token", {"grant_type": "client_credentials", "scope": value, "resource": value,
                          "client_id": machine.client_id, "client_secret": machine.client_secret}),
        ("/oauth/revoke", {"token": value, "token_type_hint": value, "client_id": value}),
        ("/oauth/introspect", {"token": value, "token_type_hint": value}),
    ]
    for path, data in requests:
        no_server_error(client.post(path, data=data), path, data)
        no_server_error(client.post(path, data=data, headers={"Authorization": f"Basic {basic}"}), path, data)
    no_server_error(client.post("/oauth/introspect", data={"token": value},
                                auth=(registered.client_id, registered.client_secret)), value)
    if not any(c in value for c in "\r\n\x00"):  # not representable in a header at all
        no_server_error(client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {value}"}), value)
    no_server_error(client.post("/oauth/userinfo", data={"access_token": value}), value)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_logout_and_sign_in_page_parameters(app, value):
    client = app.test_client()
    for params in ({"id_token_hint": value}, {"client_id": value}, {"post_logout_redirect_uri": value, "state": value}):
        no_server_error(client.get("/oauth/logout", query_string=params), params)
    no_server_error(client.get("/login", query_string={"next": value, "login_hint": value}), value)
    no_server_error(client.get("/login", query_string={"next": f"/oauth/authorize?client_id={value}"}), value)
    form = csrf_token(client.get("/login").get_data(as_text=True))
    no_server_error(client.post("/logout", data={"csrf_token": form, "next": value}), value)


@pytest.mark.parametrize("path", ["/admin/api/users/%00", "/admin/api/clients/a%00b", "/admin/api/api-keys?owner=%00",
                                  "/admin/api/service-accounts/%00", "/admin/api/resources/x%00"])
def test_nul_bytes_in_admin_api_paths_and_filters_never_get_a_5xx(app, make, path):
    """PostgreSQL refuses NUL in text: the one mapping in app/web/errors.py turns that into a 400, never a 500."""
    response = app.test_client().get(path, headers=admin_headers(app, make, "nul"))
    assert response.status_code < 500
    if response.status_code >= 400:
        assert {"error", "error_description"} <= set(response.json)


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
def test_a_nul_byte_in_a_basic_client_id_is_a_plain_authentication_failure(app, path):
    basic = base64.b64encode(b"client\x00id:secret").decode()
    response = app.test_client().post(path, data={"grant_type": "client_credentials", "token": "t"},
                                      headers={"Authorization": f"Basic {basic}"})
    assert_oauth_error(response, "invalid_client", 401)


def not_a_form(client, path: str, fields: dict[str, str], auth: tuple[str, str], body: str):
    """The same fields in another body than a form: multipart (which Flask would parse), JSON or mislabelled text."""
    if body == "multipart":
        return client.post(path, data=fields, content_type="multipart/form-data", auth=auth)
    if body == "json":
        return client.post(path, json=fields, auth=auth)
    encoded = urlencode(fields).encode()
    return client.post(path, data=encoded, content_type="text/plain" if body == "text" else None, auth=auth)


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
@pytest.mark.parametrize("body", ["multipart", "json", "text", "no content type"])
def test_token_revocation_and_introspection_accept_only_form_bodies(app, make, path, body):
    """RFC 6749 §3.2, RFC 7009 §2.1, RFC 7662 §2.1: application/x-www-form-urlencoded, or invalid_request."""
    machine = make.machine()
    client, auth = app.test_client(), (machine.client_id, machine.client_secret)
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=auth).json["access_token"]
    fields = {"grant_type": "client_credentials"} if path == "/oauth/token" else {"token": token}

    response = not_a_form(client, path, fields, auth, body)

    body = assert_oauth_error(response, "invalid_request")
    assert body["error_description"] == "the request body must be application/x-www-form-urlencoded"
    # A refused revocation revoked nothing.
    assert client.post("/oauth/introspect", data={"token": token}, auth=auth).json["active"] is True


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
def test_parameters_in_the_query_string_are_refused_at_every_form_endpoint(app, make, path):
    machine = make.machine()
    response = app.test_client().post(path, query_string={"token_type_hint": "access_token"},
                                      data={"grant_type": "client_credentials", "token": "t"},
                                      auth=(machine.client_id, machine.client_secret))
    assert response.json == {"error": "invalid_request",
                             "error_description": "request parameters belong in the request body"}


def test_a_form_with_a_charset_parameter_is_a_form(app, make):
    machine = make.machine()
    response = app.test_client().post("/oauth/token", data=b"grant_type=client_credentials",
                                      content_type="application/x-www-form-urlencoded; charset=UTF-8",
                                      auth=(machine.client_id, machine.client_secret))
    assert response.status_code == 200, response.json
