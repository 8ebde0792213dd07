"""deploy/nginx.conf: `nginx -t` on the example, then the example in front of a real `ostiary serve` over real TLS.

Ostiary runs with an https issuer and OSTIARY_TRUSTED_PROXY_HOPS=1 exactly as the example's header says; requests
trust the test CA and go through nginx only.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from tests.deploy.browser_like import BrowserLikeSession
from tests.deploy.nginx import Proxy, check_config, running, write_config
from tests.deploy.test_dockerfile import healthcheck_command
from tests.deploy.tls import Certificates, make_certificates
from tests.deploy.tools import tool
from tests.factories import Factories, RegisteredClient
from tests.flows import Browser, authorization_params, exchange_code, pkce_pair, query_of
from tests.ops.nodes import migrated_app, postgres_database
from tests.processes import Node, free_port, ostiary_env

USER = "behind-the-proxy@example.com"
FORGED_ADDRESS = "203.0.113.7"  # TEST-NET-3: what a client claims in X-Forwarded-For
APP_BODY_LIMIT = 64 * 1024  # OSTIARY_MAX_CONTENT_LENGTH_BYTES' default
PROXY_BODY_LIMIT = 128 * 1024  # client_max_body_size in the example


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


def test_example_passes_nginx_t(tmp_path: Path, certificates: Certificates) -> None:
    tool("nginx", "nginx")
    config = write_config(tmp_path, Proxy(free_port(), free_port(), free_port()), certificates)
    result = check_config(config)
    assert result.returncode == 0, result.stderr
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr, result.stderr


@dataclass
class Deployment:
    proxy: Proxy
    node: Node
    app: Flask
    client: RegisteredClient
    ca: str


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, certificates: Certificates) -> Iterator[Deployment]:
    tool("nginx", "nginx")
    proxy = Proxy(https_port=free_port(), http_port=free_port(), upstream_port=free_port())
    work = tmp_path_factory.mktemp("deployment")
    keys = work / "keys"
    with postgres_database("deploy") as url, migrated_app(url, keys, proxy.issuer) as app:
        make = Factories(app)
        make.user(USER)
        client = make.client()
        env = ostiary_env(url, keys, proxy.upstream_port, ISSUER=proxy.issuer, TRUSTED_PROXY_HOPS=1)
        config = write_config(work, proxy, certificates)
        with Node(env, work / "ostiary.log", workers=1, port=proxy.upstream_port) as node, running(config, proxy):
            yield Deployment(proxy, node, app, client, str(certificates.ca))


@pytest.fixture
def trusting_the_test_ca(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    """Every requests call in the test (the flow helpers' too) verifies nginx's certificate against the test CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", deployment.ca)
    return deployment


def test_discovery_advertises_the_https_issuer(trusting_the_test_ca: Deployment) -> None:
    issuer = trusting_the_test_ca.proxy.issuer
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10)
    assert metadata.status_code == 200
    document = metadata.json()
    assert document["issuer"] == issuer
    endpoints = [value for key, value in document.items() if key.endswith("_endpoint") or key == "jwks_uri"]
    assert endpoints and all(url.startswith(f"{issuer}/") for url in endpoints)
    assert requests.get(document["jwks_uri"], timeout=10).json()["keys"]


def test_readiness_probe_answers_with_the_apps_security_headers_once(trusting_the_test_ca: Deployment) -> None:
    ready = requests.get(f"{trusting_the_test_ca.proxy.issuer}/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"
    # HSTS comes from the app (its issuer is https) and only from it: requests joins repeated headers with ", ".
    assert ready.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert ready.headers["Server"] == "nginx"  # server_tokens off: no version


def test_sign_in_and_code_flow_through_the_proxy(trusting_the_test_ca: Deployment) -> None:
    deployment = trusting_the_test_ca
    issuer = deployment.proxy.issuer
    browser = Browser(issuer, session=BrowserLikeSession())
    # A client's own forwarding headers: nginx replaces X-Forwarded-For and drops X-Forwarded-Host.
    browser.session.headers.update({"X-Forwarded-For": FORGED_ADDRESS, "X-Forwarded-Host": "evil.example"})
    signed_in = browser.login(USER)
    assert signed_in.status_code == 302, signed_in.text
    assert signed_in.headers["Location"] in {"/", f"{issuer}/"}
    cookie = next(c for c in browser.session.cookies if c.name.endswith("ostiary_session"))
    assert cookie.name == "__Host-ostiary_session" and cookie.secure

    verifier, challenge = pkce_pair()
    redirected = browser.authorize(authorization_params(deployment.client, challenge))
    assert redirected.status_code == 302, redirected.text
    answer = query_of(redirected.headers["Location"])
    assert answer["iss"] == issuer  # RFC 9207
    tokens = exchange_code(issuer, deployment.client, answer["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    payload = tokens.json()["id_token"].split(".")[1]
    assert json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["iss"] == issuer

    with deployment.app.app_context():
        sign_ins = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "sign_in")).all()
    assert [(event.outcome, event.ip) for event in sign_ins] == [("success", "127.0.0.1")]  # nginx's peer, not forged


def test_plain_http_redirects_to_the_issuer(trusting_the_test_ca: Deployment) -> None:
    proxy = trusting_the_test_ca.proxy
    response = requests.get(f"http://localhost:{proxy.http_port}/login?next=%2F", allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"] == f"{proxy.issuer}/login?next=%2F"


def test_other_host_names_get_no_answer(trusting_the_test_ca: Deployment) -> None:
    proxy = trusting_the_test_ca.proxy
    with pytest.raises(requests.exceptions.SSLError):  # no SNI for an address: the default server refuses TLS
        requests.get(f"https://127.0.0.1:{proxy.https_port}/readyz", timeout=10)
    with pytest.raises(requests.exceptions.ConnectionError):  # 444: closed without a response
        requests.get(f"http://127.0.0.1:{proxy.http_port}/", headers={"Host": "other.example"}, timeout=10)


@pytest.mark.parametrize(("size", "answered_by"), [(APP_BODY_LIMIT + 1024, "app"), (PROXY_BODY_LIMIT + 1024, "nginx")])
def test_oversized_bodies(trusting_the_test_ca: Deployment, size: int, answered_by: str) -> None:
    response = requests.post(f"{trusting_the_test_ca.proxy.issuer}/oauth/token", timeout=10,
                             data=b"grant_type=client_credentials&x=" + b"a" * size,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    if answered_by == "app":
        assert "error" in response.json()  # the app's own error, in the format OAuth clients parse
    else:
        assert response.headers["Content-Type"].startswith("text/html")


def test_metrics_are_not_served_through_the_proxy(trusting_the_test_ca: Deployment) -> None:
    assert requests.get(f"{trusting_the_test_ca.proxy.issuer}/metrics", timeout=10).status_code == 404


def test_the_images_healthcheck_command_probes_readiness(deployment: Deployment) -> None:
    """The Dockerfile's HEALTHCHECK, run by a Python without site-packages (-S -I): standard library only."""
    command = healthcheck_command()
    code = command[2].replace("127.0.0.1:8000", f"127.0.0.1:{deployment.node.port}")
    assert code != command[2]
    assert probe(code).returncode == 0
    assert probe(code.replace(str(deployment.node.port), str(free_port()))).returncode != 0  # nothing listens


def probe(code: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, timeout=10, check=False)
