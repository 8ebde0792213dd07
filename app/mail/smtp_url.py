"""OSTIARY_SMTP_URL: smtp://[user:password@]host[:port][?starttls=1][&cafile=PATH] or smtps://..."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class SmtpEndpoint:
    """Where and how to submit mail; the password never appears in a repr, a log line or an error."""

    host: str
    port: int
    implicit_tls: bool  # smtps:// (RFC 8314 §3.3)
    starttls: bool  # smtp://...?starttls=1 (RFC 3207): required, never skipped when the server does not offer it
    username: str | None
    password: str | None = field(repr=False)
    cafile: str | None  # a private CA for the relay's certificate; default: the system's trust store


def parse_smtp_url(url: str) -> SmtpEndpoint:
    """Parse strictly: a typo such as `startls=1` must stop the server, not send in plain text.

    ValueError messages describe the problem without the URL, which may carry a password.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if (parts.scheme not in {"smtp", "smtps"} or not parts.hostname or parts.path not in {"", "/"} or parts.fragment
            or any(ord(c) <= 32 or ord(c) == 127 for c in url)):
        raise ValueError("must be smtp://[user:password@]host[:port][?starttls=1] or smtps://[user:password@]host[:port]")
    if set(query) - {"starttls", "cafile"} or any(len(values) != 1 for values in query.values()):
        raise ValueError("takes only the parameters starttls=0|1 and cafile=PATH, each once")
    if query.get("starttls", ["0"])[0] not in {"0", "1"}:
        raise ValueError("starttls must be 0 or 1")
    implicit_tls, starttls = parts.scheme == "smtps", query.get("starttls") == ["1"]
    if implicit_tls and starttls:
        raise ValueError("smtps:// is TLS from the start; starttls=1 is for smtp://")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if (username is None) != (password is None):
        raise ValueError("must give both a user and a password, or neither")
    if password and not (implicit_tls or starttls) and parts.hostname not in LOOPBACK:
        raise ValueError("would send the password in plain text: use smtps:// or ?starttls=1")
    cafile = query.get("cafile", [None])[0]
    if cafile is not None and not Path(cafile).is_file():
        raise ValueError(f"cafile {cafile!r} is not a file")
    default_port = 465 if implicit_tls else 587 if starttls else 25
    return SmtpEndpoint(parts.hostname, port or default_port, implicit_tls, starttls, username, password, cafile)
