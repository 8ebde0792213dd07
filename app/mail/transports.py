"""Where a built message goes: an SMTP relay (smtplib), or .eml files in a folder on the embedded default."""

from __future__ import annotations

import logging
import os
import re
import secrets
import smtplib
import ssl
import time
from collections.abc import Mapping
from email.message import EmailMessage
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from app.mail.smtp_url import SmtpEndpoint, parse_smtp_url
from app.security.keys import private_directory

log = logging.getLogger(__name__)
LINK = re.compile(r"https?://[^\s<>\"']+")


class Transport(Protocol):
    """send() returns once the message is handed over, or raises OSError (smtplib's errors are OSErrors)."""

    def send(self, message: EmailMessage) -> None: ...


class SmtpTransport:
    """RFC 5321 submission through one relay: implicit TLS or required STARTTLS, then AUTH when configured."""

    def __init__(self, endpoint: SmtpEndpoint, timeout_seconds: float) -> None:
        self.endpoint = endpoint
        self.timeout_seconds = timeout_seconds

    def __str__(self) -> str:  # for logs: never the credentials
        return f"{'smtps' if self.endpoint.implicit_tls else 'smtp'}://{self.endpoint.host}:{self.endpoint.port}"

    @cached_property
    def tls_context(self) -> ssl.SSLContext:
        """Certificate and host name verified against the system's CAs, or the configured cafile: read once per
        process (loading the system's CAs costs milliseconds; a context serves any number of connections)."""
        return ssl.create_default_context(cafile=self.endpoint.cafile)

    def send(self, message: EmailMessage) -> None:
        endpoint = self.endpoint
        context = self.tls_context
        client: smtplib.SMTP
        if endpoint.implicit_tls:
            client = smtplib.SMTP_SSL(endpoint.host, endpoint.port, timeout=self.timeout_seconds, context=context)
        else:
            client = smtplib.SMTP(endpoint.host, endpoint.port, timeout=self.timeout_seconds)
        with client:
            if endpoint.starttls:
                client.starttls(context=context)  # SMTPNotSupportedError if not offered: no fallback to plain text
            if endpoint.username is not None and endpoint.password is not None:
                client.login(endpoint.username, endpoint.password)
            client.send_message(message)


class FileTransport:
    """Each message becomes a 0600 .eml file, and its link is logged: a newcomer follows it without a mail server."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __str__(self) -> str:
        return f"files in {self.directory}"

    def send(self, message: EmailMessage) -> None:
        private_directory(self.directory)  # links in it are secrets until used
        path = self.directory / f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(4)}.eml"
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            handle.write(message.as_bytes())
        body = message.get_body(("plain",))
        links = LINK.findall(body.get_content()) if isinstance(body, EmailMessage) else []
        # Only on this transport: with SMTP configured, links and codes are never logged.
        log.info("mail to %s written to %s%s", message["To"], path, f"; its link: {links[0]}" if links else "",
                 extra={"subject": message["Subject"], "links": links})


def transport_for(settings: Mapping[str, Any]) -> Transport:
    """SMTP when OSTIARY_SMTP_URL is set, else .eml files in OSTIARY_MAIL_DIR."""
    if settings["SMTP_URL"]:
        return SmtpTransport(parse_smtp_url(settings["SMTP_URL"]), settings["SMTP_TIMEOUT_SECONDS"])
    return FileTransport(Path(settings["MAIL_DIR"]))
