from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.clock import now
from app.models.user import User

OIDC = "oidc"  # OpenID Connect: endpoints and keys from the issuer's discovery document, an ID token
OAUTH2 = "oauth2"  # OAuth 2.0 only: configured endpoints, the person from a user-info endpoint


class UpstreamProvider(Model):
    """An identity provider people may sign in through (README "Federation"); its client secret is sealed."""

    __tablename__ = "upstream_providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # In the callback path (/federation/<name>/callback) and the idp claim: lower-case letters, digits, '-'.
    name: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    preset: Mapped[str | None] = mapped_column(String(20))
    # OIDC: the issuer every ID token and RFC 9207 `iss` must name (Microsoft's may hold {tenantid}).
    issuer: Mapped[str | None] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    # app/security/sealed.py, purpose "federation.client_secret": never shown again, never logged.
    client_secret_sealed: Mapped[str] = mapped_column(Text)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(30), default="client_secret_basic")
    scope: Mapped[str] = mapped_column(Text)
    # OAuth 2.0 providers (OIDC ones take these from discovery unless set).
    authorization_endpoint: Mapped[str | None] = mapped_column(String(500))
    token_endpoint: Mapped[str | None] = mapped_column(String(500))
    userinfo_endpoint: Mapped[str | None] = mapped_column(String(500))
    # Our claim name -> the upstream user-info member it comes from (sub, email, email_verified, name, picture).
    claim_mapping: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Upstream group -> our role, applied to accounts created just in time.
    role_mapping: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Domains this provider is authoritative for: a verified email there links an existing verified account.
    trusted_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    allow_sign_up: Mapped[bool] = mapped_column(Boolean, default=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[int] = mapped_column(Integer, default=now)
    updated_at: Mapped[int] = mapped_column(Integer, default=now, onupdate=now)

    def mapped(self, claims: dict[str, Any], claim: str) -> Any:
        """Our claim from the upstream's claims, through claim_mapping (the same name when unmapped)."""
        return claims.get((self.claim_mapping or {}).get(claim, claim))


class FederatedIdentity(Model):
    """A person's account at an upstream provider, keyed by (provider, upstream sub): never by email."""

    __tablename__ = "federated_identities"
    __table_args__ = (UniqueConstraint("provider_id", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("upstream_providers.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(255))
    # As last asserted upstream, shown on the account page; never used to find the account.
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[int] = mapped_column(Integer, default=now)
    last_used_at: Mapped[int | None] = mapped_column(Integer)

    user: Mapped[User] = relationship(lazy="joined")
    provider: Mapped[UpstreamProvider] = relationship(lazy="joined")
