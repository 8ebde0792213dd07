"""What the server refuses before the app sees the request is the app's error page, not the server's stock answer:
a request line over gunicorn's limit_request_line (414), headers over its limits (431), a request gunicorn cannot
parse (400). granian applies the same limits through the app (app/web/request_limits.py); what hyper, its HTTP
parser, refuses itself (an unparseable request, a target over 64 KiB) gets hyper's empty answer."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from app.serve import SERVERS
from tests.processes import Node, free_port, ostiary_env, serve

TITLE = re.compile(rb'<h1 id="error-title">([^<]+)</h1>')


@pytest.fixture(scope="module", params=SERVERS)
def served(request: pytest.FixtureRequest, database_url: str, tmp_path_factory: pytest.TempPathFactory,
           app) -> Iterator[Node]:
    tmp = tmp_path_factory.mktemp("served")
    env = ostiary_env(database_url, tmp / "keys", free_port(), BRAND_NAME="Acme ID")
    with serve(env, tmp / "serve.log", workers=1, server=request.param) as node:
        yield node


def raw(base_url: str, request: bytes) -> bytes:
    """One HTTP/1.1 exchange on a socket of our own: requests and urllib refuse to send the malformed ones."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


UNPARSEABLE = b"GET / HTTP/1.1\r\nHost: h\r\nBad Header\r\n\r\n"


@pytest.mark.parametrize(
    ("request_bytes", "status", "title"),
    [
        (b"GET /oauth/authorize?x=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: h\r\n\r\n", 414, b"The address is too long"),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431, b"Too much was sent"),
        (UNPARSEABLE, 400, b"The request could not be accepted"),
    ],
    ids=["request line too long", "header too large", "unparseable"],
)
def test_the_servers_own_refusals_are_the_apps_page(served, request_bytes, status, title):
    if served.server == "granian" and request_bytes == UNPARSEABLE:
        pytest.skip("hyper answers what it cannot parse itself (test_what_granian_refuses_itself_is_an_empty_answer)")
    answer = raw(served.url, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), head[:100]
    assert b"content-type: text/html; charset=utf-8" in head.lower()
    assert b"content-security-policy: default-src 'none'" in head.lower()
    assert TITLE.search(body).group(1) == title
    assert b"Acme ID" in body  # the deployer's brand
    assert b"<h1><p>" not in body  # gunicorn's stock markup


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (UNPARSEABLE, b"400 Bad Request"),
        (b"GET /?x=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: h\r\n\r\n", b"414 URI Too Long"),
        (b"GET / HTTP/1.1\r\nHost: h\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(101)) + b"\r\n",
         b"431 Request Header Fields Too Large"),
    ],
    ids=["unparseable", "target over 64 KiB", "over 100 header fields"],
)
def test_what_granian_refuses_itself_is_an_empty_answer(served, request_bytes, status):
    """The loss README "Serving" names: no page, but nothing of the request reflected and nothing to render."""
    if served.server != "granian":
        pytest.skip("gunicorn's refusals are the app's page")
    head, _, body = raw(served.url, request_bytes).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 " + status + b"\r\n"), head[:100]
    assert b"content-length: 0" in head.lower() and body == b""


def test_a_normal_request_is_unaffected(served):
    head, _, _ = raw(served.url, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").partition(
        b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
