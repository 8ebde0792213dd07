"""RFC 5322 messages: plain text and HTML as multipart/alternative, with no way to smuggle in a header."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, parseaddr

MAX_ADDRESS_LENGTH = 320  # RFC 3696 erratum: 64 + 1 + 255


class UnsafeHeader(ValueError):
    """A header value that could end its header and start another (CR/LF), or is not the one address expected."""


@dataclass(frozen=True)
class Content:
    subject: str
    text: str
    html: str


def check_header(value: str, name: str) -> str:
    """Refuse CR, LF and every other control character: one of them is all a header injection needs."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise UnsafeHeader(f"{name} must not contain line breaks or control characters")
    return value


def check_recipient(address: str) -> str:
    """A single bare addr-spec (`local@domain`): no display name, no list, no whitespace."""
    check_header(address, "recipient")
    local, _, domain = address.rpartition("@")
    if (len(address) > MAX_ADDRESS_LENGTH or not local or not domain or "@" in local
            or any(c.isspace() for c in address) or parseaddr(address) != ("", address)):
        raise UnsafeHeader("recipient must be a single email address")
    return address


def check_sender(value: str) -> str:
    """One address, with or without a display name: `Example <no-reply@example.com>`."""
    check_header(value, "sender")
    found = getaddresses([value])
    if len(value) > MAX_ADDRESS_LENGTH or len(found) != 1 or "@" not in found[0][1]:
        raise UnsafeHeader("sender must be one email address, e.g. 'Example <no-reply@example.com>'")
    return value


def default_sender(product: str, issuer_host: str) -> str:
    """`<product> <no-reply@issuer host>` when OSTIARY_MAIL_FROM is not set."""
    domain = issuer_host if any(c.isalpha() for c in issuer_host) and ":" not in issuer_host else "localhost"
    return formataddr((product, f"no-reply@{domain}"))


def new_message_id(sender: str) -> str:
    """RFC 5322 §3.6.4 Message-ID on the sender's domain (never socket.getfqdn(): a DNS lookup per message).

    Its left part is 128 bits from `secrets`, not email.utils.make_msgid, whose randomness comes from the
    `random` module: anything that seeds that module (a test framework, a library) repeats Message-IDs, and the
    outbox keeps them unique."""
    return f"<{secrets.token_hex(16)}@{parseaddr(sender)[1].rpartition('@')[2] or 'localhost'}>"


def build_message(*, sender: str, recipient: str, content: Content, message_id: str, created_at: int) -> EmailMessage:
    """From, To, Subject, Date, Message-ID and a text/plain + text/html multipart/alternative body."""
    message = EmailMessage()
    message["From"] = check_sender(sender)
    message["To"] = check_recipient(recipient)
    message["Subject"] = check_header(content.subject, "subject")
    # RFC 5322 §3.6.1: when the message was ready to send, i.e. queued, not when a retry got it out.
    message["Date"] = formatdate(created_at, usegmt=True)
    message["Message-ID"] = check_header(message_id, "message id")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834 §5: no vacation replies to an automated message
    message.set_content(content.text)
    message.add_alternative(content.html, subtype="html")
    return message
