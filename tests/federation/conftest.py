"""A real upstream: a second Ostiary, served by `ostiary serve`, reached only through a proxy in the test process
at `localhost` (our test server is 127.0.0.1, so the browsers' cookies of the two never mix). The proxy passes
the upstream's answers on and can be told, per path, to answer in a hostile way: discovery, JWKS, token and
user-info answers rewritten, replaced, delayed or redirected, ID tokens re-signed with the upstream's own key
(bad audience, nonce, issuer, expiry) or a foreign one."""

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
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from joserfc import jwt
from joserfc.jwk import RSAKey

from app.egress import AddressPolicy, Egress, Limits
from app.extensions import db
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
def upstream(tmp_path_factory: pytest.TempPathFactory, port: int,
             upstream_proxy: UpstreamProxy) -> Iterator[Upstream]:
    """Its issuer is the proxy's address: every answer of the upstream reaches us (and the browser) through it."""
    home = tmp_path_factory.mktemp("upstream")
    upstream_port = free_port()
    env = ostiary_env(f"sqlite:///{home / 'upstream.db'}", home / "keys", upstream_port, ISSUER=upstream_proxy.url)
    ours = f"http://127.0.0.1:{port}/federation"
    redirect_uris = [f"{ours}/{name}/callback" for name in ("upstream", "other", "plain", "microsoft", "github")]
    result = subprocess.run([sys.executable, "-c", SETUP, json.dumps([redirect_uris, PEOPLE, DEFAULT_PASSWORD])],
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    client_id, client_secret = json.loads(result.stdout.strip().splitlines()[-1])
    with serve(env, home / "serve.log", workers=1, port=upstream_port) as node:
        upstream_proxy.target = node.url
        upstream_proxy.upstream = Upstream(upstream_proxy.url, env, client_id, client_secret, home / "keys")
        yield upstream_proxy.upstream


@dataclass
class Tamper:
    """What the proxy does to the upstream's answers at one path: `claims` changes a token response's ID token
    claims (re-signed with `key` by `alg`, the upstream's key unless set), `json` rewrites a JSON answer, `body` replaces the
    whole answer (the upstream is not asked), `status` sets the status, `headers` add or replace headers, `delay`
    holds the answer back that many seconds."""

    claims: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    key: Any = None
    alg: str = "RS256"
    json: Callable[[Any], Any] | None = None
    body: bytes | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0


def without(*names: str) -> Callable[[Any], Any]:
    """A `json` tamper that drops members: without("id_token")."""
    return lambda answer: {key: value for key, value in answer.items() if key not in names}


def merged(**members: Any) -> Callable[[Any], Any]:
    """A `json` tamper that adds or replaces members: merged(sub="someone-else")."""
    return lambda answer: answer | members


# The upstream Ostiary's paths (its discovery document names them).
DISCOVERY, JWKS = "/.well-known/openid-configuration", "/.well-known/jwks.json"
TOKEN, USERINFO = "/oauth/token", "/oauth/userinfo"
# Hop-by-hop headers and those that describe a body as the upstream sent it (the proxy sends its own).
NOT_FORWARDED = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding",
                 "accept-encoding", "te", "upgrade", "proxy-connection"}


class UpstreamProxy:
    """The upstream's one address: forwards every request to the upstream process as it came (browser and server
    alike), and answers the paths it was told to tamper with as told. `access_tokens` are those the upstream issued
    through it, for tests that look for them where they must not be."""

    def __init__(self) -> None:
        self.target = ""
        self.upstream: Upstream | None = None
        self.tampers: dict[str, Tamper] = {}
        self.access_tokens: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.relay()

            def do_POST(self) -> None:
                self.relay()

            def relay(self) -> None:
                length = int(self.headers.get("Content-Length") or "0")
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_FORWARDED}
                status, answer_headers, content = proxy.answer(self.command, self.path, headers, body)
                try:
                    self.send_response(status)
                    for name, value in answer_headers:
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server gave up waiting (a delayed answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # localhost, not 127.0.0.1 (our test server): the browsers' cookies of the two never mix.
        self.url = f"http://localhost:{self.server.server_port}"

    def tamper(self, path: str, tamper: Tamper) -> None:
        self.tampers[path] = tamper

    def answer(self, method: str, target: str, headers: dict[str, str],
               body: bytes | None) -> tuple[int, list[tuple[str, str]], bytes]:
        tamper = self.tampers.get(urlsplit(target).path)
        if tamper is not None and tamper.delay:
            time.sleep(tamper.delay)
        if tamper is not None and tamper.body is not None:
            return tamper.status or 200, self._headers([("Content-Type", "application/json")], tamper), tamper.body
        forwarded = requests.request(method, self.target + target, data=body, headers=headers,
                                     allow_redirects=False, timeout=30)
        sent = [(k, v) for k, v in forwarded.raw.headers.items() if k.lower() not in NOT_FORWARDED]
        content = forwarded.content
        if "json" in forwarded.headers.get("Content-Type", ""):
            content = self._rewrite(forwarded.json(), tamper)
        return (tamper.status if tamper and tamper.status else forwarded.status_code), self._headers(sent, tamper), \
            content

    def _rewrite(self, answer: Any, tamper: Tamper | None) -> bytes:
        if isinstance(answer, dict) and isinstance(answer.get("access_token"), str):
            self.access_tokens.append(answer["access_token"])
        if tamper is not None and tamper.claims is not None and "id_token" in answer:
            assert self.upstream is not None
            key = self.upstream.signing_key()
            claims = tamper.claims(dict(jwt.decode(answer["id_token"], key).claims))
            signing_key = tamper.key or key
            answer["id_token"] = jwt.encode({"alg": tamper.alg, "kid": signing_key.thumbprint()}, claims, signing_key)
        if tamper is not None and tamper.json is not None:
            answer = tamper.json(answer)
        return json.dumps(answer).encode()

    @staticmethod
    def _headers(sent: list[tuple[str, str]], tamper: Tamper | None) -> list[tuple[str, str]]:
        replaced = {name.lower() for name in tamper.headers} if tamper else set()
        return [(k, v) for k, v in sent if k.lower() not in replaced] + list(tamper.headers.items() if tamper else ())


@pytest.fixture(scope="session")
def upstream_proxy() -> Iterator[UpstreamProxy]:
    proxy = UpstreamProxy()
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
def concurrent_writers(app: Flask) -> None:
    """Skips a race test on SQLite, which serialises writers: two requests never write at once there."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("needs concurrent writers")


@pytest.fixture
def impatient_egress(app: Flask, loopback_egress: None) -> None:
    """Time-outs of a second for the slow-answer tests (the default 8 s deadline would hold each test that long)."""
    app.extensions["ostiary.egress"] = Egress(AddressPolicy.from_strings(["127.0.0.0/8", "::1/128"]),
                                              limits=Limits(connect_timeout_seconds=1, read_timeout_seconds=1,
                                                            deadline_seconds=1.5))
    app.extensions.pop(CACHE, None)


@pytest.fixture
def add_provider(app: Flask, upstream: Upstream, upstream_proxy: UpstreamProxy,
                 loopback_egress: None) -> Callable[..., dict[str, Any]]:
    """add_provider(name="upstream", **settings): the upstream Ostiary as a provider of the test server, its
    answers untouched until a test tells the proxy otherwise."""
    upstream_proxy.tampers.clear()

    def add(name: str = "upstream", **settings: Any) -> dict[str, Any]:
        settings.setdefault("issuer", upstream.url)
        settings.setdefault("display_name", "Upstream")
        with app.app_context():
            provider = providers.create_provider(name, client_id=upstream.client_id,
                                                 client_secret=upstream.client_secret, actor=None, **settings)
            return providers.provider_dict(provider)

    return add


@pytest.fixture
def add_oauth2_provider(add_provider: Callable[..., dict[str, Any]], upstream: Upstream,
                        upstream_proxy: UpstreamProxy) -> Callable[..., dict[str, Any]]:
    """add_oauth2_provider(name="plain", **settings): the upstream as a generic OAuth 2.0 provider, its token
    answers without an ID token (the proxy strips it), the person from its user-info endpoint."""

    def add(name: str = "plain", **settings: Any) -> dict[str, Any]:
        upstream_proxy.tamper(TOKEN, Tamper(json=without("id_token")))
        # The upstream sends RFC 9207 iss, so its issuer is configured to be checked (no discovery for OAuth 2.0).
        return add_provider(name, **{"kind": "oauth2", "issuer": upstream.url, "scope": "openid email",
                                     "authorization_endpoint": f"{upstream.url}/oauth/authorize",
                                     "token_endpoint": upstream.url + TOKEN,
                                     "userinfo_endpoint": upstream.url + USERINFO} | settings)

    return add


@pytest.fixture
def provider(add_provider: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The upstream as an OpenID Connect provider, configured from its issuer."""
    return add_provider()


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
        return self.through_upstream(self.to_upstream(start), login, decision)

    def through_upstream(self, departure: requests.Response, login: str = "alice@upstream.example",
                         decision: str = "allow") -> str:
        """From our redirect to the upstream, through its sign-in and consent, to the callback URL it sends back."""
        assert departure.status_code == 302, (departure.status_code, departure.text[:500])
        response = self.session.get(departure.headers["Location"], allow_redirects=False)
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
