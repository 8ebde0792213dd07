"""A real upstream: a second Ostiary, served by `ostiary serve` on `localhost` (our test server is 127.0.0.1, so
the browsers' cookies of the two never mix), and a proxy in front of its token endpoint that can tamper with
answers, re-signing ID tokens with the upstream's own key (bad audience, nonce, issuer, expiry) or a foreign one."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from joserfc import jwt
from joserfc.jwk import RSAKey

from app.egress import AddressPolicy, Egress
from app.services import providers
from app.services.upstream import CACHE
from tests.factories import DEFAULT_PASSWORD
from tests.flows import consent_form, csrf_token, is_consent_page
from tests.processes import free_port, ostiary_env, serve


@dataclass
class Upstream:
    url: str
    env: dict[str, str]
    client_id: str
    client_secret: str
    keys_dir: Path

    def signing_key(self) -> RSAKey:
        pem = max(self.keys_dir.glob("*.pem")).read_bytes()
        return RSAKey.import_key(pem)


# One process sets the upstream up (each `ostiary` command would start Python again): schema, client, people.
SETUP = """
import json, sys
from flask_migrate import upgrade
from app import create_app
from app.services.clients import create_client
from app.services.users import create_user
redirect_uris, people, password = json.loads(sys.argv[1])
app = create_app()
with app.app_context():
    upgrade()
    registration = create_client("Downstream Ostiary", redirect_uris=redirect_uris, scope="openid profile email")
    for email, verified in people:
        create_user(email, password, email_verified=verified)
    print(json.dumps([registration.client.client_id, registration.client_secret]))
"""
PEOPLE = (("alice@upstream.example", True), ("bob@upstream.example", False), ("carol@upstream.example", True),
          ("dave@corp.example", True), ("frank@upstream.example", True))  # frank never consents


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory, port: int) -> Iterator[Upstream]:
    home = tmp_path_factory.mktemp("upstream")
    upstream_port = free_port()
    env = ostiary_env(f"sqlite:///{home / 'upstream.db'}", home / "keys", upstream_port,
                      ISSUER=f"http://localhost:{upstream_port}")
    ours = f"http://127.0.0.1:{port}/federation"
    redirect_uris = [f"{ours}/{name}/callback" for name in ("upstream", "other", "plain")]
    result = subprocess.run([sys.executable, "-c", SETUP, json.dumps([redirect_uris, PEOPLE, DEFAULT_PASSWORD])],
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    client_id, client_secret = json.loads(result.stdout.strip().splitlines()[-1])
    with serve(env, home / "serve.log", workers=1):
        yield Upstream(env["OSTIARY_ISSUER"], env, client_id, client_secret, home / "keys")


@dataclass
class Tamper:
    """What the proxy does to the next token responses: `claims` changes the ID token's claims (re-signed with
    `key`, the upstream's unless set), `body` replaces the whole answer, `status` its status."""

    claims: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    key: Any = None
    body: bytes | None = None
    status: int | None = None
    strip_id_token: bool = False
    headers: dict[str, str] = field(default_factory=dict)


class TokenProxy:
    """Forwards POST /token to the upstream's token endpoint and tampers with the answer as told."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.tamper = Tamper()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                forwarded = requests.post(f"{proxy.upstream.url}/oauth/token", data=self.rfile.read(length),
                                          headers={k: v for k, v in self.headers.items()
                                                   if k.lower() in ("authorization", "content-type", "accept")},
                                          timeout=10)
                body, status = proxy.rewrite(forwarded)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in proxy.tamper.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/token"

    def rewrite(self, forwarded: requests.Response) -> tuple[bytes, int]:
        tamper = self.tamper
        if tamper.body is not None:
            return tamper.body, tamper.status or 200
        token = forwarded.json()
        if tamper.strip_id_token:
            token.pop("id_token", None)
        if tamper.claims is not None and "id_token" in token:
            claims = tamper.claims(dict(jwt.decode(token["id_token"], self.upstream.signing_key()).claims))
            key = tamper.key or self.upstream.signing_key()
            token["id_token"] = jwt.encode({"alg": "RS256", "kid": key.thumbprint()}, claims, key)
        return json.dumps(token).encode(), tamper.status or forwarded.status_code


@pytest.fixture(scope="session")
def token_proxy(upstream: Upstream) -> Iterator[TokenProxy]:
    proxy = TokenProxy(upstream)
    thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.server.shutdown()
    proxy.server.server_close()


@pytest.fixture
def loopback_egress(app: Flask) -> Iterator[None]:
    """The address policy lets the server reach loopback test servers (OSTIARY_EGRESS_ALLOWED_NETWORKS in tests)."""
    saved = app.extensions["ostiary.egress"]
    app.extensions["ostiary.egress"] = Egress(AddressPolicy.from_strings(["127.0.0.0/8", "::1/128"]))
    app.extensions.pop(CACHE, None)
    yield
    app.extensions["ostiary.egress"] = saved
    app.extensions.pop(CACHE, None)


@pytest.fixture
def add_provider(app: Flask, upstream: Upstream, loopback_egress: None) -> Callable[..., dict[str, Any]]:
    """add_provider(name="upstream", **settings): the upstream Ostiary as a provider of the test server."""

    def add(name: str = "upstream", **settings: Any) -> dict[str, Any]:
        settings.setdefault("issuer", upstream.url)
        settings.setdefault("display_name", "Upstream")
        with app.app_context():
            provider = providers.create_provider(name, client_id=upstream.client_id,
                                                 client_secret=upstream.client_secret, actor=None, **settings)
            return providers.provider_dict(provider)

    return add


@pytest.fixture
def provider(add_provider: Callable[..., dict[str, Any]], token_proxy: TokenProxy) -> dict[str, Any]:
    """The upstream as an OpenID Connect provider, its token endpoint behind the tampering proxy."""
    token_proxy.tamper = Tamper()
    return add_provider(token_endpoint=token_proxy.url)


@dataclass
class FederatedBrowser:
    """A person's browser over plain HTTP: our server, the upstream's sign-in and consent pages, and back."""

    base_url: str
    upstream: Upstream
    session: requests.Session = field(default_factory=requests.Session)

    def to_upstream(self, start: str) -> requests.Response:
        """Follow redirects from `start` (a path of ours) while they stay at our server: the last answer sends
        the browser elsewhere (the upstream, or a relying party) or is a page."""
        response = self.session.get(self.base_url + start if start.startswith("/") else start, allow_redirects=False)
        while response.status_code == 302 and response.headers["Location"].startswith(("/", self.base_url)):
            location = response.headers["Location"]
            response = self.session.get(self.base_url + location if location.startswith("/") else location,
                                        allow_redirects=False)
        return response

    def upstream_answer(self, start: str, login: str = "alice@upstream.example", decision: str = "allow") -> str:
        """From `start`, through the upstream's sign-in and consent, to the callback URL it sends back (not opened)."""
        response = self.to_upstream(start)
        assert response.status_code == 302, (response.status_code, response.text[:500])
        response = self.session.get(response.headers["Location"], allow_redirects=False)
        for _ in range(6):
            location = response.headers.get("Location", "")
            if response.status_code == 302 and location.startswith(self.base_url):
                return location
            if response.status_code == 302:
                response = self.session.get(self.upstream.url + location if location.startswith("/") else location,
                                            allow_redirects=False)
            elif 'name="password"' in response.text:
                response = self.session.post(response.url, data={
                    "login": login, "password": DEFAULT_PASSWORD, "csrf_token": csrf_token(response.text),
                    "next": consent_form(response.text).get("next", "/")}, allow_redirects=False)
            elif is_consent_page(response.text):
                form = consent_form(response.text) | {"decision": decision}
                response = self.session.post(f"{self.upstream.url}/oauth/authorize", data=form, allow_redirects=False)
            else:
                raise AssertionError(f"unexpected upstream page {response.status_code}: {response.text[:300]}")
        raise AssertionError("the upstream never answered")

    def back(self, callback: str) -> requests.Response:
        return self.session.get(callback, allow_redirects=False)

    def sign_in(self, start: str = "/federation/upstream/start?next=/account", **kwargs: str) -> requests.Response:
        return self.back(self.upstream_answer(start, **kwargs))


@pytest.fixture
def browser(live_server: str, upstream: Upstream) -> FederatedBrowser:
    return FederatedBrowser(live_server, upstream)


def wait_for(predicate: Callable[[], Any], seconds: float = 5) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")
