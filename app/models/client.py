from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.clock import now
from app.scopes import ADMIN_SCOPE
from app.security.secrets import matches
from app.uris import redirect_uri_matches

CONFIDENTIAL_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
# How a client came to be: an operator (CLI, admin API), RFC 7591 registration with an initial access token or
# without one, or a Client ID Metadata Document (never stored).
OPERATOR, REGISTERED_WITH_TOKEN, REGISTERED_OPENLY, METADATA_DOCUMENT = "operator", "token", "open", "document"


class Client(Model, ClientMixin):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(Text, default="")
    # Access-token `aud`; empty means the server's default audience.
    audience: Mapped[str | None] = mapped_column(String(500))
    # RFC 8707 resource identifiers this client may name in `resource`.
    resources: Mapped[list[str]] = mapped_column(JSON, default=list)
    # RFC 7662 §4: registered resources this client serves, whose access tokens it may introspect.
    introspect_resources: Mapped[list[str]] = mapped_column(JSON, default=list)
    # RFC 7662 §4: may introspect every token (an auditor, a gateway in front of every API).
    introspect_all: Mapped[bool] = mapped_column(Boolean, default=False)
    # A disabled client is refused everywhere as an unregistered one would be (services.clients.get_active_client).
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Every sign-in for this client needs a second factor (README "MFA and passkeys").
    require_mfa: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(Integer, default=now)
    # RFC 7591 §2 links shown on the consent page (https only, services.clients.validate_link_uri).
    client_uri: Mapped[str | None] = mapped_column(String(2000))
    logo_uri: Mapped[str | None] = mapped_column(String(2000))
    policy_uri: Mapped[str | None] = mapped_column(String(2000))
    tos_uri: Mapped[str | None] = mapped_column(String(2000))
    registered_via: Mapped[str] = mapped_column(String(16), default=OPERATOR)
    # RFC 7592 §3: the digest of the token that lets a registered client read, change and delete its registration.
    registration_access_token_hash: Mapped[str | None] = mapped_column(String(64))

    @property
    def is_dynamic(self) -> bool:
        """Arrived on its own (RFC 7591 or a metadata document): no operator chose its resources or scopes."""
        return self.registered_via not in (None, OPERATOR)

    # --- authlib ClientMixin ---------------------------------------------
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        # redirect_uri is always required: OpenID Connect Core §3.1.2.1, OAuth 2.1.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = scope_to_list(self.scope) or []
        if not scope:
            return ""
        return " ".join(s for s in dict.fromkeys(scope.split()) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string comparison (RFC 9700 §2.1), except the port of a loopback IP literal (RFC 8252 §7.3).
        return redirect_uri_matches(self.redirect_uris or [], redirect_uri)

    def allows_resource(self, identifier: str, scopes: list[str]) -> bool:
        """RFC 8707 §2: a registered client may use the resources it was registered for; a client that arrived on
        its own, any registered resource but Ostiary's admin API (its scopes were capped when it arrived)."""
        if self.is_dynamic:
            return ADMIN_SCOPE not in scopes
        return identifier in (self.resources or [])

    def may_introspect(self, client_id: str, audiences: list[str]) -> bool:
        """RFC 7662 §4: tokens issued to this client, access tokens for a resource it serves, or all if allowed."""
        return (
            self.introspect_all
            or client_id == self.client_id
            or not set(audiences).isdisjoint(self.introspect_resources or [])
        )

    def check_client_secret(self, client_secret: str) -> bool:
        return matches(client_secret, self.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_public:
            return method == "none"
        return method in CONFIDENTIAL_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in (self.grant_types or [])

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (self.grant_types or [])

    @property
    def client_metadata(self) -> dict[str, Any]:
        return {"post_logout_redirect_uris": list(self.post_logout_redirect_uris or [])}

    @property
    def token_endpoint_auth_method(self) -> str:
        return "none" if self.is_public else "client_secret_basic"
