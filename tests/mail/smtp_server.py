"""A real SMTP server in the test process (aiosmtpd): plain, STARTTLS or implicit TLS, optional AUTH, scripted replies."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER, PASSWORD = "mailer", "s3cret pass/word:@"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    authenticated: bool


@dataclass
class Inbox:
    """The aiosmtpd handler: keeps what it accepts; `data_reply` / `rcpt_reply` script a refusal."""

    received: list[Received] = field(default_factory=list)
    data_reply: str | None = None
    rcpt_reply: str | None = None
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        with self.arrived:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed,  # type: ignore[arg-type]
                                          tls=_is_tls(server, session), authenticated=bool(session.authenticated)))
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
        return list(self.received)


def _is_tls(server: Any, session: Any) -> bool:
    """After STARTTLS (session.ssl), or TLS from the first byte (the socket itself)."""
    return session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@dataclass(frozen=True)
class Certificate:
    cafile: Path  # the self-signed certificate, which clients trust as their CA
    server_context: ssl.SSLContext


def self_signed(directory: Path) -> Certificate:
    """A certificate for 127.0.0.1 and localhost, generated now with `cryptography`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return Certificate(cert_path, context)


class SmtpServer:
    """One aiosmtpd server on 127.0.0.1:port; stop() and start() again on the same port (a relay outage)."""

    def __init__(self, port: int, inbox: Inbox | None = None, *, starttls: Certificate | None = None,
                 implicit_tls: Certificate | None = None, auth: bool = False) -> None:
        self.port = port
        self.inbox = inbox or Inbox()
        self._options: dict[str, Any] = {}
        if starttls is not None:
            self._options.update(tls_context=starttls.server_context, require_starttls=True)
        if auth:
            self._options.update(authenticator=authenticator, auth_required=True)
        if implicit_tls is not None:
            # aiosmtpd only counts STARTTLS as TLS for AUTH; on a TLS-from-the-start socket it must be told
            # (its warning about that, raised per connection, is ignored in pyproject.toml).
            self._options.update(ssl_context=implicit_tls.server_context, auth_require_tls=False)
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **self._options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
