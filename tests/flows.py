"""An OAuth flow helper over real HTTP: pkce_pair(), login(), authorize(), exchange_code()."""

from __future__ import annotations

import base64
import html
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import requests

from tests.factories import DEFAULT_PASSWORD, RegisteredClient

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

    def login(self, login: str, password: str = DEFAULT_PASSWORD) -> requests.Response:
        page = self.session.get(f"{self.base_url}/login")
        return self.session.post(
            f"{self.base_url}/login",
            data={"login": login, "password": password, "csrf_token": csrf_token(page.text), "next": "/"},
            allow_redirects=False,
        )

    def authorize(self, params: dict[str, str], decision: str | None = "allow") -> requests.Response:
        """GET /oauth/authorize; if a consent page comes back and a decision is given, submit it."""
        response = self.session.get(f"{self.base_url}/oauth/authorize", params=params, allow_redirects=False)
        if response.status_code == 200 and decision and 'name="decision"' in response.text:
            form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', response.text))
            form = {k: html.unescape(v) for k, v in form.items()}
            form["decision"] = decision
            response = self.session.post(f"{self.base_url}/oauth/authorize", data=form, allow_redirects=False)
        return response


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
    auth = None
    if client.client_secret:
        auth = (client.client_id, client.client_secret)
    else:
        data["client_id"] = client.client_id
    return requests.post(f"{base_url}/oauth/token", data=data, auth=auth)


def code_for(base_url: str, client: RegisteredClient, user_email: str, **extra: str) -> tuple[str, str, dict[str, str]]:
    """Sign in, consent, and return (code, verifier, redirect query)."""
    browser = Browser(base_url)
    assert browser.login(user_email).status_code == 302
    verifier, challenge = pkce_pair()
    response = browser.authorize(authorization_params(client, challenge, **extra))
    assert response.status_code == 302, response.text
    query = query_of(response.headers["Location"])
    return query["code"], verifier, query
