from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.clock import now
from app.models.user import User


class RefreshToken(Model):
    """Opaque, rotated on every use; all descendants of one grant share a family_id."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    # RFC 8707: the resource the grant was bound to; every refresh keeps it.
    resource: Mapped[str | None] = mapped_column(String(500))
    auth_time: Mapped[int] = mapped_column(Integer)
    amr: Mapped[str] = mapped_column(String(100), default="pwd")
    # The sign-in session its code was issued in, kept by every rotation (see AuthorizationCode).
    login_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("login_sessions.id", ondelete="SET NULL"), index=True)
    issued_at: Mapped[int] = mapped_column(Integer, default=now)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
    used_at: Mapped[int | None] = mapped_column(Integer)
    revoked_at: Mapped[int | None] = mapped_column(Integer)
    # The refresh token whose rotation issued this one (None for the first of a family). No foreign key:
    # a family is deleted whole, in batches that need not follow the chain.
    parent_id: Mapped[int | None] = mapped_column(Integer, index=True)

    user: Mapped[User] = relationship(lazy="joined")

    # --- authlib TokenMixin ------------------------------------------------
    def check_client(self, client) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_at - self.issued_at

    def is_expired(self) -> bool:
        return self.expires_at <= now()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None or self.used_at is not None


class AccessTokenRecord(Model):
    """A ledger of access-token jtis: those bound to a refresh family, and any revoked one.

    JWT access tokens are verified offline; this table lets our own endpoints
    (userinfo, introspection) treat a revoked token as dead before it expires.
    """

    __tablename__ = "access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str | None] = mapped_column(String(36), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
    revoked_at: Mapped[int | None] = mapped_column(Integer)
