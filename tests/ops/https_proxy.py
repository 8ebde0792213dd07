"""The README's production set-up in miniature: a TLS-terminating reverse proxy in front of `ostiary serve`."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.processes import Node, free_port, ostiary_env

# RFC 9110 §7.6.1: hop-by-hop fields end at the proxy.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"})


def self_signed_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A P-256 certificate for `host` (an IP address) that is its own CA: (certificate PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "proxy.crt", directory / "proxy.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


class _Forward(BaseHTTPRequestHandler):
    """Relays one request upstream as nginx's `proxy_pass` with the usual X-Forwarded-* lines does.

    X-Forwarded-For gets the client's address appended, X-Forwarded-Proto is set to https, and Host and
    every other end-to-end field (a client's own X-Forwarded-Host included) pass through unchanged.
    """

    protocol_version = "HTTP/1.1"
    server: _TlsServer

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        forwarded_for = ", ".join(filter(None, [self.headers.get("X-Forwarded-For"), self.client_address[0]]))
        headers = {k: v for k, v in headers.items() if k.lower() not in {"x-forwarded-for", "x-forwarded-proto"}}
        headers |= {"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https"}
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=30)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
        except OSError:
            self.send_error(502, "upstream unreachable")
            return
        finally:
            upstream.close()
        self.send_response(answer.status, answer.reason)
        for name, value in answer.getheaders():  # repeated fields (Set-Cookie) stay separate
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", answer.getheader("Content-Length", "0") if self.command == "HEAD"
                         else str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _forward

    def log_message(self, format: str, *args: object) -> None:
        pass


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream_port: int, context: ssl.SSLContext) -> None:
        self.upstream_port = upstream_port
        self.context = context
        super().__init__(("127.0.0.1", 0), _Forward)

    def finish_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:  # type: ignore[override]
        # The handshake runs in the connection's own thread, so a slow client never holds up accept().
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()  # it owns the connection now: shutdown_request() only sees the detached socket

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        pass  # a browser dropping a kept-alive connection is not news


class HttpsProxy:
    """https://127.0.0.1:<port> in front of http://127.0.0.1:<upstream_port>."""

    def __init__(self, upstream_port: int, directory: Path) -> None:
        self.cert_path, key_path = self_signed_certificate(directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, key_path)
        self._server = _TlsServer(upstream_port, context)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@dataclass
class TlsDeployment:
    """An https issuer: the proxy's URL; the node behind it trusts one proxy hop."""

    url: str
    cert_path: Path
    node: Node


@contextmanager
def behind_tls_proxy(database_url: str, keys_dir: Path, directory: Path, **settings: object) -> Iterator[TlsDeployment]:
    """`ostiary serve` with OSTIARY_ISSUER=https://127.0.0.1:<proxy port> and OSTIARY_TRUSTED_PROXY_HOPS=1."""
    node_port = free_port()
    proxy = HttpsProxy(node_port, directory)
    try:
        env = ostiary_env(database_url, keys_dir, proxy.port, ISSUER=proxy.url, TRUSTED_PROXY_HOPS=1, **settings)
        with Node(env, directory / "node.log", workers=1, port=node_port) as node:
            yield TlsDeployment(proxy.url, proxy.cert_path, node)
    finally:
        proxy.close()
