"""Point 15: the issuer is fixed; no Host header (nor a client's X-Forwarded-Host) ever becomes part of a URL we send."""

from __future__ import annotations

import pytest
import requests
from flask.testing import EnvironBuilder
from werkzeug.test import run_wsgi_app

EVIL = "evil.example"
PAGES = ["/", "/login", "/logout", "/account", "/oauth/authorize?client_id=x", "/oauth/logout",
         "/.well-known/openid-configuration", "/.well-known/jwks.json", "/no/such/page"]
PROBES = ["/healthz", "/readyz", "/metrics"]
DESCRIPTION = "this server is {}, not the host the request names"


def assert_not_reflected(response: requests.Response) -> None:
    assert EVIL not in response.headers.get("Location", "") and EVIL not in response.text


@pytest.mark.parametrize("host", [None, EVIL])
@pytest.mark.parametrize("path", ["//oauth//authorize?client_id=x", "/oauth//authorize", "/account//sessions",
                                  "/.well-known//jwks.json"])
def test_merged_slashes_are_not_redirected(live_server, host, path):
    """Werkzeug used to answer `308 Location: http://<Host>/oauth/authorize` for a path with doubled slashes."""
    headers = {"Host": host} if host else {}
    response = requests.get(live_server + path, headers=headers, allow_redirects=False)
    assert response.status_code in (400, 404) and "Location" not in response.headers
    assert_not_reflected(response)


@pytest.mark.parametrize("host", [EVIL, f"{EVIL}:80", "127.0.0.1.evil.example", "localhost.evil.example", "10.0.0.1"])
@pytest.mark.parametrize("path", PAGES)
def test_a_request_for_another_host_is_refused_with_a_readable_answer(live_server, host, path):
    response = requests.get(live_server + path, headers={"Host": host}, allow_redirects=False)
    assert response.status_code == 400, response.text[:300]
    assert "Location" not in response.headers
    assert_not_reflected(response)
    if path.startswith("/.well-known/"):
        assert response.json() == {"error": "invalid_request", "error_description": DESCRIPTION.format(live_server)}
    else:
        assert "text/html" in response.headers["Content-Type"] and DESCRIPTION.format(live_server) in response.text


def test_the_issuers_host_is_accepted_on_any_port(live_server):
    """Nodes behind one load balancer listen on their own ports (tests/ops/test_two_nodes.py); a loopback
    issuer answers to every loopback name (the Flask test client says localhost)."""
    for host in ("127.0.0.1", "127.0.0.1:1", "127.0.0.1:65535", "localhost:8000", "[::1]:8000"):
        assert requests.get(f"{live_server}/login", headers={"Host": host}).status_code == 200, host


@pytest.mark.parametrize(("host", "status"), [
    ("id.example.com", 200), ("ID.Example.COM:443", 200), ("localhost", 400), ("127.0.0.1", 400),
    ("id.example.com.evil.example", 400), ("evil.example", 400), ("id.example.com@evil.example", 400),
])
def test_a_public_issuer_answers_only_to_its_own_name(build_app, host, status):
    client = build_app(ISSUER="https://id.example.com").test_client()
    assert client.get("/login", base_url="https://id.example.com", headers={"Host": host}).status_code == status


@pytest.mark.parametrize("host", [EVIL, "10.1.2.3:8000", "ostiary-node-2"])
@pytest.mark.parametrize("path", PROBES)
def test_health_probes_and_metrics_answer_whatever_host_a_load_balancer_sends(live_server, host, path):
    assert requests.get(live_server + path, headers={"Host": host}).status_code == 200


def raw_get(app, path: str, headers: dict[str, str]) -> tuple[int, str, str]:
    """GET with the path exactly as given (the test client would read `//oauth` as a host name):
    (status, Location, body)."""
    environ = EnvironBuilder(app, path="/", headers=headers).get_environ()
    environ["PATH_INFO"] = path
    body, status, response_headers = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), response_headers.get("Location", ""), b"".join(body).decode()


def test_behind_the_proxy_a_forwarded_host_from_the_client_is_ignored(build_app):
    """A proxy passes on the X-Forwarded-Host a client sent; ProxyFix must not turn it into the request's host."""
    app = build_app(TRUSTED_PROXY_HOPS=1)
    forwarded = {"X-Forwarded-Host": EVIL, "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "http"}
    for path, expected in (("//oauth//authorize", 404), ("/account", 302), ("/login", 200)):
        status, location, body = raw_get(app, path, forwarded)
        assert status == expected and EVIL not in location and EVIL not in body, (path, status, location)
