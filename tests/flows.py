"""An OAuth flow helper: pkce_pair(), login(), authorize(), exchange_code(), refresh(), against a Site (in this
process) or a base URL (real HTTP, tests/site.py); the forms of the pages (csrf_token(), login_form(), sign_in() for
Flask's test client) and the one OAuth error check, assert_oauth_error()."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import requests
from flask.testing import FlaskClient

from tests.factories import DEFAULT_PASSWORD, RegisteredClient
from tests.site import Site, as_site

Params = Mapping[str, str] | Sequence[tuple[str, str]]

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
ERROR_DESCRIPTION = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 §5.2


class AnyResponse(Protocol):
    """What requests' and Flask's test client's responses share."""

    status_code: int
    headers: Any

    @property
    def text(self) -> str: ...


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def csrf_token(page: str) -> str:
    found = CSRF_INPUT.search(page)
    assert found, "page has no CSRF token"
    return found.group(1)


def login_form(page: str, login: str, password: str = DEFAULT_PASSWORD, next_url: str = "/") -> dict[str, str]:
    """The sign-in form as a browser submits it, with the CSRF token of the page it was read from."""
    return {"login": login, "password": password, "csrf_token": csrf_token(page), "next": next_url}


def sign_in(client: FlaskClient, login: str, password: str = DEFAULT_PASSWORD, next_url: str = "/"):
    """POST the sign-in form through Flask's test client the way a browser does: GET it for the CSRF token first."""
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login", data=login_form(page, login, password, next_url))


def assert_no_store(response: AnyResponse) -> None:
    """RFC 6749 §5.1: no cache keeps an answer that carries a token (or an error about one)."""
    assert response.headers["Cache-Control"] == "no-store", response.headers
    assert response.headers["Pragma"] == "no-cache", response.headers


def assert_oauth_error(response: AnyResponse, error: str, status: int = 400) -> dict:
    """The one shape of every OAuth error (RFC 6749 §5.2, RFC 6750 §3, RFC 7009, RFC 7662): the status, a JSON
    body with `error` and an `error_description` of the allowed characters, never cached; a 401 carries a
    challenge, and a Bearer challenge that names an error names this one. Returns the body."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = json.loads(response.text)
    assert body["error"] == error, body
    assert ERROR_DESCRIPTION.fullmatch(body["error_description"]), body
    challenge = response.headers.get("WWW-Authenticate", "")
    if status == 401:
        assert challenge, "a 401 without a WWW-Authenticate challenge"
    if challenge.startswith("Bearer"):  # a resource server's refusal (RFC 6750 §3)
        assert response.headers["Cache-Control"] == "no-store", response.headers
        if challenge != "Bearer":  # a bare challenge answers a request that carried no token (§3.1)
            assert f'error="{error}"' in challenge, challenge
    else:  # the authorization server's endpoints (RFC 6749 §5.1, and §5.2 for invalid_client)
        assert_no_store(response)
        if status == 401:
            assert challenge.startswith("Basic "), challenge
    return body


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


class Browser:
    """A requests.Session that signs in and walks the authorize → consent → redirect steps."""

    def __init__(self, site: Site | str, session: requests.Session | None = None) -> None:
        self.site = as_site(site)
        self.base_url = self.site.base_url
        self.session = session if session is not None else self.site.session()

    def login(self, login: str, password: str = DEFAULT_PASSWORD, next_url: str = "/") -> requests.Response:
        page = self.session.get(f"{self.base_url}/login")
        return self.session.post(f"{self.base_url}/login", data=login_form(page.text, login, password, next_url),
                                 allow_redirects=False)

    def authorize(
        self, params: Params, decision: str | None = "allow", method: str = "GET"
    ) -> requests.Response:
        """GET (or POST) /oauth/authorize; if a consent page comes back and a decision is given, submit it."""
        url = f"{self.base_url}/oauth/authorize"
        if method == "GET":
            response = self.session.get(url, params=params, allow_redirects=False)
        else:
            response = self.session.post(url, data=params, allow_redirects=False)
        if response.status_code == 200 and decision and is_consent_page(response.text):
            form = consent_form(response.text)
            form["decision"] = decision
            response = self.session.post(url, data=form, allow_redirects=False)
        return response

    def follow(self, response: requests.Response) -> requests.Response:
        """Follow one same-site redirect (login, back to authorize) without following the client's."""
        location = response.headers["Location"]
        if location.startswith("/"):
            location = self.base_url + location
        return self.session.get(location, allow_redirects=False)


def is_consent_page(page: str) -> bool:
    return 'name="decision"' in page


def consent_form(page: str) -> dict[str, str]:
    """The hidden fields of the consent form, as the browser would submit them."""
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    return {k: html.unescape(v) for k, v in form.items()}


def signed_in(site: Site | str, login: str) -> Browser:
    browser = Browser(site)
    assert browser.login(login).status_code == 302
    return browser


def authorization_params(client: RegisteredClient, challenge: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": "openid profile email offline_access",
        "state": "state-" + secrets.token_urlsafe(8),
        "nonce": "nonce-" + secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return params


def exchange_code(site: Site | str, client: RegisteredClient, code: str, verifier: str, **extra: str
                  ) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": client.redirect_uri,
            "code_verifier": verifier, **extra}
    return as_site(site).post("/oauth/token", data=data, auth=client_auth(client, data))


def code_for(site: Site | str, client: RegisteredClient, user_email: str, **extra: str
             ) -> tuple[str, str, dict[str, str]]:
    """Sign in, consent, and return (code, verifier, redirect query)."""
    browser = Browser(site)
    assert browser.login(user_email).status_code == 302
    verifier, challenge = pkce_pair()
    response = browser.authorize(authorization_params(client, challenge, **extra))
    assert response.status_code == 302, response.text
    query = query_of(response.headers["Location"])
    return query["code"], verifier, query


def client_auth(client: RegisteredClient, data: dict[str, str]) -> tuple[str, str] | None:
    """client_secret_basic for confidential clients; client_id in the body for public ones (RFC 6749 §2.3)."""
    if client.client_secret:
        return client.client_id, client.client_secret
    data["client_id"] = client.client_id
    return None


def refresh(site: Site | str, client: RegisteredClient, refresh_token: str, **extra: str) -> requests.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    return as_site(site).post("/oauth/token", data=data, auth=client_auth(client, data))


def introspect(site: Site | str, client: RegisteredClient, token: str) -> dict:
    """RFC 7662 as a confidential client (the only kind allowed to introspect)."""
    response = as_site(site).post("/oauth/introspect", data={"token": token},
                                  auth=(client.client_id, client.client_secret or ""))
    assert response.status_code == 200, response.text
    return response.json()


def tokens_for(site: Site | str, client: RegisteredClient, user_email: str, **extra: str) -> dict:
    """A full authorization code flow: the token response body."""
    code, verifier, _ = code_for(site, client, user_email, **extra)
    response = exchange_code(site, client, code, verifier)
    assert response.status_code == 200, response.text
    return response.json()


def redirect_error(response: requests.Response) -> dict[str, str]:
    """The query of an authorization error redirect; fails if the server did not redirect."""
    assert response.status_code == 302, (response.status_code, response.text[:300])
    query = query_of(response.headers["Location"])
    assert "error" in query, response.headers["Location"]
    return query


def revoke(site: Site | str, client: RegisteredClient, token: str, **extra: str) -> requests.Response:
    data = {"token": token, **extra}
    return as_site(site).post("/oauth/revoke", data=data, auth=client_auth(client, data))


def userinfo(site: Site | str, access_token: str, method: str = "GET") -> requests.Response:
    """GET or POST with the token in the Authorization header (RFC 6750 §2.1); method "POST body": in a
    form-encoded POST body (§2.2)."""
    if method == "POST body":
        return as_site(site).post("/oauth/userinfo", data={"access_token": access_token})
    return as_site(site).request(method, "/oauth/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def client_credentials(
    site: Site | str, client: RegisteredClient, method: str = "basic", **extra: str
) -> requests.Response:
    """RFC 6749 §4.4 with client_secret_basic, or client_secret_post (method="post")."""
    data = {"grant_type": "client_credentials", **extra}
    if method == "post":
        data |= {"client_id": client.client_id, "client_secret": client.client_secret or ""}
        return as_site(site).post("/oauth/token", data=data)
    return as_site(site).post("/oauth/token", data=data, auth=(client.client_id, client.client_secret or ""))


def machine_token(site: Site | str, client: RegisteredClient, **extra: str) -> str:
    """A client_credentials access token, asserted to be issued (a new connection each time, as requests.post does,
    so that requests spread over a server's workers)."""
    response = client_credentials(site, client, **extra)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]
