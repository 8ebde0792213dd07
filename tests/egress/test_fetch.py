"""Fetching through the policy from real local HTTPS servers: what passes, and every way a fetch is refused."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from app.egress import (
    AddressPolicy,
    AddressRefused,
    ConnectionFailed,
    Egress,
    EgressError,
    EgressTimeout,
    InvalidJSON,
    Limits,
    RedirectRefused,
    ResponseTooLarge,
    TLSFailed,
    UnexpectedContentType,
    UnexpectedStatus,
    URLRefused,
)
from tests.egress.conftest import FAST, PKI, FakeDNS, LocalServer

# --- the happy path


def test_a_json_document_is_fetched_over_verified_tls(egress: Egress, https: LocalServer) -> None:
    assert egress.fetch_json(https.url("/doc")) == {
        "client_id": "https://client.test/metadata.json", "client_name": "Test"}
    method, path, headers = https.log[-1]
    assert (method, path) == ("GET", "/doc")
    assert headers["User-Agent"] == "Ostiary"
    assert headers["Accept"] == "application/json"
    assert "Authorization" not in headers and "Cookie" not in headers


def test_a_host_name_is_verified_and_sent_as_sni(egress: Egress, https: LocalServer) -> None:
    assert egress.fetch_json(https.url("/doc", host="localhost"))["client_name"] == "Test"
    assert https.server_names[-1] == "localhost"


@pytest.mark.parametrize("path", ["/doc", "/doc-charset", "/gzip-small"])
def test_content_type_parameters_and_case_and_compression_are_fine(egress: Egress, https: LocalServer,
                                                                   path: str) -> None:
    assert egress.fetch_json(https.url(path))["client_name"] == "Test"


def test_other_media_types_can_be_asked_for(egress: Egress, https: LocalServer) -> None:
    assert egress.fetch_json(https.url("/jwks"), content_types=("application/json", "application/jwk-set+json")) \
        == {"keys": []}
    with pytest.raises(UnexpectedContentType):
        egress.fetch_json(https.url("/jwks"))


def test_a_non_default_port_is_allowed(egress: Egress, https: LocalServer) -> None:
    """The address is the boundary, not the port: every refused range is refused on every port."""
    assert https.port != 443
    assert egress.fetch(https.url("/doc")).status == 200


def test_fetch_without_content_types_accepts_any(egress: Egress, https: LocalServer) -> None:
    fetched = egress.fetch(https.url("/html"))
    assert fetched.content == b"<html></html>" and fetched.media_type == "text/html"


# --- responses that are refused

REFUSED_RESPONSES: list[tuple[str, type[EgressError], str]] = [
    ("/text", UnexpectedContentType, "the response is not application/json"),
    ("/html", UnexpectedContentType, "the response is not application/json"),
    ("/no-type", UnexpectedContentType, "the response is not application/json"),
    ("/json-ish", UnexpectedContentType, "the response is not application/json"),
    ("/not-found", UnexpectedStatus, "the host answered with HTTP 404"),
    ("/server-error", UnexpectedStatus, "the host answered with HTTP 500"),
    ("/no-content", UnexpectedStatus, "the host answered with HTTP 204"),
    ("/array", InvalidJSON, "the response is not a JSON object"),
    ("/string", InvalidJSON, "the response is not a JSON object"),
    ("/null", InvalidJSON, "the response is not a JSON object"),
    ("/deep", InvalidJSON, "the JSON is nested more than 10 levels"),
    ("/very-deep", InvalidJSON, "the JSON is nested more than 10 levels"),
    ("/duplicate", InvalidJSON, "the response is not valid JSON"),
    ("/nan", InvalidJSON, "the response is not valid JSON"),
    ("/not-utf8", InvalidJSON, "the response is not valid JSON"),
    ("/bom", InvalidJSON, "the response is not valid JSON"),
    ("/truncated", InvalidJSON, "the response is not valid JSON"),
    ("/empty", InvalidJSON, "the response is not valid JSON"),
    ("/big", ResponseTooLarge, "the response is larger than 65536 bytes"),
    ("/big-chunked", ResponseTooLarge, "the response is larger than 65536 bytes"),
    ("/gzip-bomb", ResponseTooLarge, "the response is larger than 65536 bytes"),
    ("/redirect/301", RedirectRefused, "the host answered with a redirect, and redirects are not followed"),
    ("/redirect/302", RedirectRefused, "the host answered with a redirect, and redirects are not followed"),
    ("/redirect/303", RedirectRefused, "the host answered with a redirect, and redirects are not followed"),
    ("/redirect/307", RedirectRefused, "the host answered with a redirect, and redirects are not followed"),
    ("/redirect/308", RedirectRefused, "the host answered with a redirect, and redirects are not followed"),
]


@pytest.mark.parametrize(("path", "error", "description"), REFUSED_RESPONSES)
def test_bad_responses_are_refused_with_a_client_safe_description(
    egress: Egress, https: LocalServer, path: str, error: type[EgressError], description: str
) -> None:
    with pytest.raises(error) as raised:
        egress.fetch_json(https.url(path))
    assert raised.value.description == description
    assert raised.value.description.isascii() and "127.0.0.1" not in raised.value.description


def test_nesting_up_to_the_limit_is_fine(egress: Egress, https: LocalServer) -> None:
    assert egress.fetch_json(https.url("/deep-ok"))["a"]["a"]


def test_the_cap_counts_the_decoded_body_and_allows_exactly_the_cap(egress: Egress, https: LocalServer) -> None:
    assert egress.fetch_json(https.url("/exact-cap")) == {}
    with pytest.raises(ResponseTooLarge):
        egress.fetch_json(https.url("/exact-cap"), limits=Limits(max_bytes=64 * 1024 - 1))


@pytest.mark.parametrize(
    "target",
    [
        "/doc",
        "https://127.0.0.1:{port}/doc",
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:{port}/doc",
        "file:///etc/passwd",
    ],
)
def test_a_redirect_is_never_followed_wherever_it_points(egress: Egress, https: LocalServer, target: str) -> None:
    before = len(https.log)
    with pytest.raises(RedirectRefused) as raised:
        egress.fetch(https.url("/redirect/302?to=" + target.replace("{port}", str(https.port))))
    assert raised.value.status == 302
    assert len(https.log) == before + 1  # the redirect itself, and no second request


# --- time


@pytest.mark.slow
def test_a_server_that_does_not_answer_times_out(egress: Egress, https: LocalServer) -> None:
    started = time.monotonic()
    with pytest.raises(EgressTimeout) as raised:
        egress.fetch(https.url("/slow"))  # answers after 5 s
    assert time.monotonic() - started < 4
    assert raised.value.description == "the host did not answer in time"


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/drip-headers", "/drip-body"])
def test_a_server_that_drips_is_cut_off_at_the_deadline(egress: Egress, https: LocalServer, path: str) -> None:
    """Each byte comes well within the read time-out (0.1 s < 1 s); only the overall deadline (2.5 s) stops it.

    Without the deadline the response would take more than 10 s.
    """
    started = time.monotonic()
    with pytest.raises(EgressTimeout):
        egress.fetch(https.url(path))
    elapsed = time.monotonic() - started
    assert FAST.deadline_seconds - 0.05 <= elapsed < FAST.deadline_seconds + 2


@pytest.mark.slow
def test_a_server_that_never_speaks_tls_times_out(egress: Egress, start_server: Callable[..., LocalServer]) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        started = time.monotonic()
        with pytest.raises(EgressTimeout):
            egress.fetch(f"https://127.0.0.1:{listener.getsockname()[1]}/doc")
    assert time.monotonic() - started < FAST.deadline_seconds + 2


def test_a_closed_port_is_a_connection_failure(egress: Egress) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectionFailed) as raised:
        egress.fetch(f"https://127.0.0.1:{port}/doc")
    assert raised.value.description == "the host could not be reached"


# --- TLS


@pytest.mark.parametrize("cert", ["untrusted", "wrong_name", "expired"])
def test_a_certificate_that_does_not_verify_is_refused(
    egress: Egress, start_server: Callable[..., LocalServer], cert: str
) -> None:
    server = start_server(cert)
    with pytest.raises(TLSFailed) as raised:
        egress.fetch(server.url("/doc", host="localhost"))
    assert raised.value.description == "a verified TLS connection to the host could not be made"
    assert server.log == []


def test_the_public_roots_do_not_trust_the_test_ca(https: LocalServer) -> None:
    """Without the CA-bundle setting, the test server's certificate is refused like any unknown issuer."""
    client = Egress(AddressPolicy.from_strings(["127.0.0.1/32"]), None, FAST)
    with pytest.raises(TLSFailed):
        client.fetch(https.url("/doc"))


# --- URLs refused before any lookup

REFUSED_URLS = [
    "http://127.0.0.1:{port}/doc",  # plain http without a loopback test configuration
    "ftp://127.0.0.1/doc",
    "file:///etc/passwd",
    "gopher://127.0.0.1:70/_GET",
    "javascript:alert(1)",
    "data:application/json,{}",
    "//127.0.0.1/doc",
    "/doc",
    "https:///doc",
    "https://",
    "https://user:secret@127.0.0.1:{port}/doc",
    "https://user@127.0.0.1:{port}/doc",
    "https://evil.test\\@127.0.0.1:{port}/doc",
    "https://127.0.0.1:{port}@evil.test/doc",
    "https://127.0.0.1:99999/doc",
    "https://127.0.0.1:0/doc",
    "https://127.0.0.1:-1/doc",
    "https://127.0.0.1:x/doc",
    "https://exa mple.test/doc",
    "https://example.test/doc\r\nX-Injected: 1",
    "https://example.test/\x00",
    "https://[::1/doc",
]


@pytest.mark.parametrize("template", REFUSED_URLS)
def test_malformed_or_non_https_urls_are_refused(strict: Egress, https: LocalServer, template: str) -> None:
    before = https.connections
    with pytest.raises(URLRefused) as raised:
        strict.fetch(template.replace("{port}", str(https.port)))
    assert raised.value.description == "the URL must be an absolute https URL without user information"
    assert https.connections == before


# --- plain http: only to a loopback test server


def test_plain_http_reaches_a_loopback_server_in_a_test_configuration(
    egress: Egress, start_server: Callable[..., LocalServer]
) -> None:
    plain = start_server(cert=None)
    assert egress.fetch_json(plain.url("/doc"))["client_name"] == "Test"


def test_plain_http_is_refused_to_a_non_loopback_address_even_when_allowed(
    pki: PKI, fake_dns: FakeDNS
) -> None:
    client = Egress(AddressPolicy.from_strings(["127.0.0.1/32", "10.0.0.0/8"]), str(pki.ca_file), FAST)
    fake_dns.answers["internal.test"] = [["10.0.0.7"]]
    with pytest.raises(AddressRefused) as raised:
        client.fetch("http://internal.test/doc")
    assert raised.value.description == "only https URLs are fetched"


def test_plain_http_is_refused_when_no_loopback_range_is_allowed(pki: PKI) -> None:
    client = Egress(AddressPolicy.from_strings(["10.0.0.0/8"]), str(pki.ca_file), FAST)
    with pytest.raises(URLRefused):
        client.fetch("http://10.0.0.7/doc")


# --- DNS rebinding


def test_the_connection_goes_to_the_address_that_was_checked(
    pki: PKI, start_server: Callable[..., LocalServer], fake_dns: FakeDNS
) -> None:
    """The first answer passes the check; a second lookup would answer an address the policy refuses.

    Two servers share one port: the checked one on 127.0.0.1 and an 'internal' one on 127.0.0.2 (refused: only
    127.0.0.1/32 is allowed). The fetch reaches the checked server, after exactly one lookup, with TLS verified
    for the host name rebind.test (SNI included) although the socket was opened to an address.
    """
    checked = start_server(label="checked")
    internal = start_server(host="127.0.0.2", port=checked.port, label="internal")
    fake_dns.answers["rebind.test"] = [["127.0.0.1"], ["127.0.0.2"]]
    client = Egress(AddressPolicy.from_strings(["127.0.0.1/32"]), str(pki.ca_file), FAST)

    assert client.fetch_json(checked.url("/whoami", host="rebind.test")) == {"server": "checked"}
    assert fake_dns.lookups["rebind.test"] == 1
    assert checked.server_names[-1] == "rebind.test"
    assert internal.connections == 0

    # The same answers against the naive pattern (check the name, then let the HTTP client resolve it again).
    fake_dns.lookups.clear()
    client.policy.checked_addresses("rebind.test", checked.port)
    naive = requests.get(checked.url("/whoami", host="rebind.test"), verify=str(pki.ca_file), timeout=2)
    assert naive.json() == {"server": "internal"}
    assert fake_dns.lookups["rebind.test"] == 2


def test_each_new_connection_is_checked_again(
    pki: PKI, start_server: Callable[..., LocalServer], fake_dns: FakeDNS
) -> None:
    """A later connection of the same client (here: a new session) resolves and checks afresh."""
    server = start_server()
    fake_dns.answers["rebind.test"] = [["127.0.0.1"], ["169.254.169.254"]]
    client = Egress(AddressPolicy.from_strings(["127.0.0.1/32"]), str(pki.ca_file), FAST)
    assert client.fetch_json(server.url("/doc", host="rebind.test"))["client_name"] == "Test"
    with pytest.raises(AddressRefused):
        client.session().get(server.url("/doc", host="rebind.test"))


# --- threads


@pytest.mark.slow
def test_concurrent_fetches_keep_their_own_deadlines(pki: PKI, https: LocalServer) -> None:
    """The deadline belongs to each call: a dripping server on one thread does not cut off the others."""
    limits = Limits(connect_timeout_seconds=2, read_timeout_seconds=1, deadline_seconds=4)  # the drips take 10 s
    egress = Egress(AddressPolicy.from_strings(["127.0.0.1/32"]), str(pki.ca_file), limits)

    def fetch(path: str) -> str:
        try:
            return str(egress.fetch_json(https.url(path))["client_name"])
        except EgressTimeout:
            return "timeout"

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(fetch, ["/drip-body", "/doc", "/doc", "/drip-headers"] + ["/doc"] * 12))
    assert results == ["timeout", "Test", "Test", "timeout"] + ["Test"] * 12
