"""An OAuth flow helper over real HTTP: pkce_pair(), login(), authorize(), exchange_code(), refresh()."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import requests

from tests.factories import DEFAULT_PASSWORD, RegisteredClient

Params = Mapping[str, str] | Sequence[tuple[str, str]]

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def csrf_token(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found, "page has no CSRF token"
    return found.group(1)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


@dataclass
class Browser:
    """A requests.Session that signs in and walks the authorize → consent → redirect steps."""

    base_url: str
    session: requests.Session = field(default_factory=requests.Session)

    def login(self, login: str, password: str = DEFAULT_PASSWORD, next_url: str = "/") -> requests.Response:
        page = self.session.get(f"{self.base_url}/login")
        return self.session.post(
            f"{self.base_url}/login",
            data={"login": login, "password": password, "csrf_token": csrf_token(page.text), "next": next_url},
            allow_redirects=False,
        )

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


def signed_in(base_url: str, login: str) -> Browser:
    browser = Browser(base_url)
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


def exchange_code(base_url: str, client: RegisteredClient, code: str, verifier: str, **extra: str) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": client.redirect_uri,
            "code_verifier": verifier, **extra}
    return requests.post(f"{base_url}/oauth/token", data=data, auth=client_auth(client, data))


def code_for(base_url: str, client: RegisteredClient, user_email: str, **extra: str) -> tuple[str, str, dict[str, str]]:
    """Sign in, consent, and return (code, verifier, redirect query)."""
    browser = Browser(base_url)
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


def refresh(base_url: str, client: RegisteredClient, refresh_token: str, **extra: str) -> requests.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    return requests.post(f"{base_url}/oauth/token", data=data, auth=client_auth(client, data))


def introspect(base_url: str, client: RegisteredClient, token: str) -> dict:
    """RFC 7662 as a confidential client (the only kind allowed to introspect)."""
    response = requests.post(f"{base_url}/oauth/introspect", data={"token": token},
                             auth=(client.client_id, client.client_secret or ""))
    assert response.status_code == 200, response.text
    return response.json()


def tokens_for(base_url: str, client: RegisteredClient, user_email: str, **extra: str) -> dict:
    """A full authorization code flow: the token response body."""
    code, verifier, _ = code_for(base_url, client, user_email, **extra)
    response = exchange_code(base_url, client, code, verifier)
    assert response.status_code == 200, response.text
    return response.json()


def redirect_error(response: requests.Response) -> dict[str, str]:
    """The query of an authorization error redirect; fails if the server did not redirect."""
    assert response.status_code == 302, (response.status_code, response.text[:300])
    query = query_of(response.headers["Location"])
    assert "error" in query, response.headers["Location"]
    return query


def revoke(base_url: str, client: RegisteredClient, token: str, **extra: str) -> requests.Response:
    data = {"token": token, **extra}
    return requests.post(f"{base_url}/oauth/revoke", data=data, auth=client_auth(client, data))


def userinfo(base_url: str, access_token: str, method: str = "GET") -> requests.Response:
    return requests.request(method, f"{base_url}/oauth/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def client_credentials(
    base_url: str, client: RegisteredClient, method: str = "basic", **extra: str
) -> requests.Response:
    """RFC 6749 §4.4 with client_secret_basic, or client_secret_post (method="post")."""
    data = {"grant_type": "client_credentials", **extra}
    if method == "post":
        data |= {"client_id": client.client_id, "client_secret": client.client_secret or ""}
        return requests.post(f"{base_url}/oauth/token", data=data)
    return requests.post(f"{base_url}/oauth/token", data=data, auth=(client.client_id, client.client_secret or ""))
