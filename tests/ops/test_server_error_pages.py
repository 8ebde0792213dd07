"""What gunicorn answers itself, before the app sees the request, is the app's error page, not gunicorn's stock
HTML: a request line over limit_request_line (414), headers over its limits (431), a request it cannot parse (400)."""

from __future__ import annotations

import re
import socket
from urllib.parse import urlsplit

import pytest

from tests.processes import free_port, ostiary_env, serve

TITLE = re.compile(rb'<h1 id="error-title">([^<]+)</h1>')


@pytest.fixture(scope="module")
def served(database_url: str, tmp_path_factory: pytest.TempPathFactory, app) -> str:
    tmp = tmp_path_factory.mktemp("served")
    env = ostiary_env(database_url, tmp / "keys", free_port(), BRAND_NAME="Acme ID")
    with serve(env, tmp / "serve.log", workers=1) as node:
        yield node.url


def raw(base_url: str, request: bytes) -> bytes:
    """One HTTP/1.1 exchange on a socket of our own: requests and urllib refuse to send the malformed ones."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


@pytest.mark.parametrize(
    ("request_bytes", "status", "title"),
    [
        (b"GET /oauth/authorize?x=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: h\r\n\r\n", 414, b"The address is too long"),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431, b"Too much was sent"),
        (b"GET / HTTP/1.1\r\nHost: h\r\nBad Header\r\n\r\n", 400, b"The request could not be accepted"),
    ],
    ids=["request line too long", "header too large", "unparseable"],
)
def test_gunicorns_own_refusals_are_the_apps_page(served, request_bytes, status, title):
    answer = raw(served, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), head[:100]
    assert b"content-type: text/html; charset=utf-8" in head.lower()
    assert b"content-security-policy: default-src 'none'" in head.lower()
    assert TITLE.search(body).group(1) == title
    assert b"Acme ID" in body  # the deployer's brand
    assert b"<h1><p>" not in body  # gunicorn's stock markup


def test_a_normal_request_is_unaffected(served):
    head, _, _ = raw(served, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").partition(
        b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
