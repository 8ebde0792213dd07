"""A client's request to the token, revocation or introspection endpoint, as the protocol layer reads it."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from functools import cached_property
from typing import Any
from urllib.parse import unquote_plus

from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from flask import Request


class ClientRequest(FlaskOAuth2Request):
    """Authlib's request (form, args, headers, payload) plus what client authentication needs and it does not carry:
    the client's network address, after ProxyFix, by which failures are counted (client_lockout); and, decoded or
    looked up once per request, the Basic credentials and the clients that client_ids name."""

    def __init__(self, http_request: Request) -> None:
        super().__init__(http_request)
        self.client_address: str | None = http_request.remote_addr
        self._clients: dict[str, Any] = {}

    @cached_property
    def basic_credentials(self) -> tuple[str, str] | None:
        """RFC 6749 §2.3.1: (client_id, client_secret) of a Basic Authorization header; None without one that decodes."""
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        return basic_credentials(encoded.strip()) if scheme.lower() == "basic" else None

    @property
    def presented_client_id(self) -> str:
        """The client_id the request claims, read as the authentication methods read it (Basic first)."""
        credentials = self.basic_credentials
        return credentials[0] if credentials else self.form.get("client_id") or ""

    def remembering(self, query_client: Callable[[str], Any]) -> Callable[[str], Any]:
        """query_client, asked at most once per client_id in this request (a failure is audited by that answer)."""

        def query(client_id: str) -> Any:
            if client_id not in self._clients:
                self._clients[client_id] = query_client(client_id)
            return self._clients[client_id]

        return query


def basic_credentials(encoded: str) -> tuple[str, str] | None:
    """(client_id, client_secret), each form-urlencoded inside Basic; Authlib decodes with unquote, not unquote_plus."""
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None
    return unquote_plus(client_id), unquote_plus(secret)
