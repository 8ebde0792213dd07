from __future__ import annotations

from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.clock import now
from app.models.user import User
from app.security.secrets import matches

CLIENT_CREDENTIALS = "client_credentials"


class ApiKey(Model, ClientMixin):
    """A machine credential `ost_<key_id>_<secret>`; only the SHA-256 digest of the whole key is stored.

    At the token endpoint it is an OAuth client of its own (client_id = key_id) that may only use
    client_credentials, and whose tokens speak for its owner.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(Integer, default=now)
    expires_at: Mapped[int | None] = mapped_column(Integer)
    last_used_at: Mapped[int | None] = mapped_column(Integer)
    revoked_at: Mapped[int | None] = mapped_column(Integer)

    # Joined: authenticating a key is one indexed lookup that also brings its owner.
    owner: Mapped[User] = relationship(lazy="joined")

    @property
    def client_id(self) -> str:
        return self.key_id

    @property
    def audience(self) -> None:
        return None  # the server's default audience unless `resource` names one

    def is_live(self, moment: int) -> bool:
        return (
            self.revoked_at is None
            and (self.expires_at is None or self.expires_at > moment)
            and self.owner.is_active
        )

    # --- authlib ClientMixin ---------------------------------------------
    def get_client_id(self) -> str:
        return self.key_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = self.scope.split()
        return " ".join(s for s in dict.fromkeys((scope or "").split()) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return matches(client_secret, self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # A key gets tokens and may revoke them (RFC 7009); introspection is for registered clients.
        return endpoint in ("token", "revocation") and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == CLIENT_CREDENTIALS

    def allows_resource(self, identifier: str, scopes: list[str]) -> bool:
        """RFC 8707 §2: a key may target a resource that understands at least one of its scopes."""
        return bool(set(scopes) & set(self.scope.split()))
