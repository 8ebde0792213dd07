"""A client's request to the token, revocation or introspection endpoint, as the protocol layer reads it."""

from __future__ import annotations

from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from flask import Request


class ClientRequest(FlaskOAuth2Request):
    """Authlib's request (form, args, headers, payload) plus the one fact it does not carry: the client's network
    address, after ProxyFix, by which failed client authentications are counted (client_lockout)."""

    def __init__(self, http_request: Request) -> None:
        super().__init__(http_request)
        self.client_address: str | None = http_request.remote_addr
