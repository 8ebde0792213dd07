"""Real local HTTPS servers for the egress tests: a CA made here, certificates it issues, routes that misbehave."""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.egress import AddressPolicy, Egress, Limits

NAMES = ("localhost", "rebind.test", "mixed.test")
ADDRESSES = ("127.0.0.1", "127.0.0.2", "::1")
# Short enough for quick time-out tests, long enough for a loaded two-core machine to answer the quick routes.
FAST = Limits(connect_timeout_seconds=2.0, read_timeout_seconds=1.0, deadline_seconds=2.5, max_bytes=64 * 1024)


@dataclass
class Issuer:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str) -> Issuer:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issuer(key, cert)


def issue(ca: Issuer, tmp: Path, label: str, names: tuple[str, ...] = NAMES, addresses: tuple[str, ...] = ADDRESSES,
          expired: bool = False) -> tuple[Path, Path]:
    """A server certificate (and key) signed by ca, written as PEM files for ssl.load_cert_chain."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    start, end = (now - datetime.timedelta(days=10), now - datetime.timedelta(days=1)) if expired else (
        now - datetime.timedelta(days=1), now + datetime.timedelta(days=10))
    alternative = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    cert_file, key_file = tmp / f"{label}.crt", tmp / f"{label}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


Handler = Callable[["RequestHandler"], None]


def send(handler: RequestHandler, status: int, body: bytes = b"", content_type: str | None = "application/json",
         headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    if content_type:
        handler.send_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def send_json(handler: RequestHandler, document: Any, status: int = 200, **kwargs: Any) -> None:
    send(handler, status, json.dumps(document).encode(), **kwargs)


def _drip(handler: RequestHandler, data: bytes, interval: float = 0.1) -> None:
    for i in range(len(data)):
        handler.wfile.write(data[i:i + 1])
        handler.wfile.flush()
        time.sleep(interval)


def _chunked(handler: RequestHandler, total: int) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b" " * 8192
    for _ in range(total // len(chunk)):
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    handler.wfile.write(b"0\r\n\r\n")


_BOMB = gzip.compress(b"\0" * 10_000_000)


def _routes() -> dict[str, Handler]:
    doc = {"client_id": "https://client.test/metadata.json", "client_name": "Test"}
    return {
        "/doc": lambda h: send_json(h, doc),
        "/doc-charset": lambda h: send_json(h, doc, content_type="Application/JSON ; charset=utf-8"),
        "/jwks": lambda h: send_json(h, {"keys": []}, content_type="application/jwk-set+json"),
        "/text": lambda h: send(h, 200, b'{"a": 1}', "text/plain"),
        "/html": lambda h: send(h, 200, b"<html></html>", "text/html"),
        "/no-type": lambda h: send(h, 200, b'{"a": 1}', None),
        "/json-ish": lambda h: send(h, 200, b'{"a": 1}', "application/jsonx"),
        "/big": lambda h: send(h, 200, b" " * 200_000),
        "/exact-cap": lambda h: send(h, 200, b"{}" + b" " * (64 * 1024 - 2)),
        "/big-chunked": lambda h: _chunked(h, 200_000),
        "/gzip-bomb": lambda h: send(h, 200, _BOMB, headers={"Content-Encoding": "gzip"}),
        "/gzip-small": lambda h: send(h, 200, gzip.compress(json.dumps(doc).encode()),
                                      headers={"Content-Encoding": "gzip"}),
        "/slow": lambda h: (time.sleep(5), send_json(h, doc)),
        "/drip-headers": lambda h: _drip(h, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: "
                                         + b"a" * 100),
        "/drip-body": lambda h: (h.send_response(200), h.send_header("Content-Length", "100"), h.end_headers(),
                                 _drip(h, b" " * 100)),
        "/not-found": lambda h: send_json(h, {"error": "not_found"}, 404),
        "/server-error": lambda h: send(h, 500, b"oops", "text/plain"),
        "/no-content": lambda h: send(h, 204, b"", None),
        "/array": lambda h: send(h, 200, b"[1, 2]"),
        "/string": lambda h: send(h, 200, b'"client"'),
        "/null": lambda h: send(h, 200, b"null"),
        "/deep": lambda h: send(h, 200, b'{"a":' * 11 + b"1" + b"}" * 11),
        "/deep-ok": lambda h: send(h, 200, b'{"a":' * 10 + b"1" + b"}" * 10),
        "/very-deep": lambda h: send(h, 200, b'{"a":' + b"[" * 30_000 + b"]" * 30_000 + b"}"),
        "/duplicate": lambda h: send(h, 200, b'{"client_id": "a", "client_id": "b"}'),
        "/nan": lambda h: send(h, 200, b'{"a": NaN}'),
        "/not-utf8": lambda h: send(h, 200, b'{"a": "\xff"}'),
        "/bom": lambda h: send(h, 200, b'\xef\xbb\xbf{"a": 1}'),
        "/truncated": lambda h: send(h, 200, b'{"a": '),
        "/empty": lambda h: send(h, 200, b""),
        "/token": lambda h: send_json(h, {"access_token": "at", "token_type": "Bearer", "expires_in": 60}),
    }


class RequestHandler(BaseHTTPRequestHandler):
    server: LocalServer  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        self.server.log.append((self.command, self.path, dict(self.headers.items())))
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if "content-length" in self.headers:
            self.rfile.read(int(self.headers["content-length"]))
        if parts.path.startswith("/redirect/"):
            status = int(parts.path.rsplit("/", 1)[1])
            send(self, status, b"", None, {"Location": query.get("to", "/doc")})
        elif parts.path == "/counted":
            key = query.get("key", "")
            self.server.hits[key] += 1
            headers = {"Cache-Control": query["cc"]} if "cc" in query else {}
            if "age" in query:
                headers["Age"] = query["age"]
            status = int(query.get("status", "200"))
            send_json(self, {"n": self.server.hits[key]}, status, headers=headers)
        elif parts.path == "/whoami":
            send_json(self, {"server": self.server.label})
        elif parts.path == "/echo":
            send_json(self, {"headers": dict(self.headers.items()), "method": self.command})
        elif parts.path in self.server.routes:
            self.server.routes[parts.path](self)
        else:
            send_json(self, {"error": "no such route"}, 404)

    do_GET = do_POST = _handle

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext | None, label: str = "") -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, RequestHandler)
        self.context = context
        self.label = label
        self.routes = _routes()
        self.hits: Counter[str] = Counter()
        self.log: list[tuple[str, str, dict[str, str]]] = []
        self.connections = 0
        self.server_names: list[str | None] = []
        if context is not None:
            context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)  # type: ignore[assignment]

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        self.connections += 1
        if self.context is not None:
            # The handshake runs in the handler's thread, so a client that never speaks TLS blocks nobody else.
            sock = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that give up mid-response (time-outs, size caps) are what these tests are about

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, path: str = "/doc", host: str = "127.0.0.1") -> str:
        scheme = "https" if self.context is not None else "http"
        return f"{scheme}://{host}:{self.port}{path}"


def serve(server: LocalServer) -> LocalServer:
    # shutdown() waits for serve_forever's next poll: a twentieth of a second, not its default half.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def server_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    return context


@dataclass
class PKI:
    ca_file: Path
    good: tuple[Path, Path]
    untrusted: tuple[Path, Path]
    wrong_name: tuple[Path, Path]
    expired: tuple[Path, Path]
    servers: list[LocalServer] = field(default_factory=list)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    tmp = tmp_path_factory.mktemp("egress-pki")
    ca, stranger = make_ca("Ostiary test CA"), make_ca("Somebody else's CA")
    (tmp / "ca.pem").write_bytes(ca.pem())
    return PKI(
        ca_file=tmp / "ca.pem",
        good=issue(ca, tmp, "good"),
        untrusted=issue(stranger, tmp, "untrusted"),
        wrong_name=issue(ca, tmp, "wrong-name", names=("other.test",), addresses=()),
        expired=issue(ca, tmp, "expired", expired=True),
    )


@pytest.fixture(scope="session")
def start_server(pki: PKI) -> Iterator[Callable[..., LocalServer]]:
    started: list[LocalServer] = []

    def start(cert: str | None = "good", host: str = "127.0.0.1", port: int = 0, label: str = "") -> LocalServer:
        context = server_context(getattr(pki, cert)) if cert else None
        server = serve(LocalServer((host, port), context, label))
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def https(start_server: Callable[..., LocalServer]) -> LocalServer:
    """The well-behaved HTTPS server on 127.0.0.1, certificate from the test CA."""
    return start_server()


@pytest.fixture
def egress(pki: PKI) -> Iterator[Egress]:
    """Loopback let through (the test configuration), the test CA trusted, short limits."""
    client = Egress(AddressPolicy.from_strings(["127.0.0.1/32", "::1/128"]), str(pki.ca_file), FAST)
    yield client
    client.close()


@pytest.fixture
def strict(pki: PKI) -> Iterator[Egress]:
    """The production policy (nothing extra allowed), the test CA trusted so only the address policy refuses."""
    client = Egress(AddressPolicy(), str(pki.ca_file), FAST)
    yield client
    client.close()


@dataclass
class FakeDNS:
    """Answers for chosen names, one list per lookup (the last one repeats); other names use the real resolver."""

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    lookups: Counter[str] = field(default_factory=Counter)


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    """socket.getaddrinfo itself is replaced, so a second lookup anywhere in the stack would see the next answer."""
    dns = FakeDNS()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in dns.answers:
            return real(host, port, *args, **kwargs)
        sequence = dns.answers[name]
        chosen = sequence[min(dns.lookups[name], len(sequence) - 1)]
        dns.lookups[name] += 1
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, int(port), 0, 0)) if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, int(port)))
            for a in chosen
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return dns
