from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.assurance import acr_for
from app.extensions import Model
from app.models.user import User
from app.uris import CLIENT_ID_LENGTH


class AuthorizationCode(Model):
    """Single use, short lived, stored as a digest and bound to everything the request carried."""

    __tablename__ = "authorization_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(CLIENT_ID_LENGTH), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    # RFC 8707: the resource named at authorization; the token request may not name another.
    resource: Mapped[str | None] = mapped_column(String(500))
    nonce: Mapped[str | None] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    auth_time: Mapped[int] = mapped_column(Integer)
    amr: Mapped[str] = mapped_column(String(100), default="pwd")
    # The upstream provider a federated sign-in came through (its name): the ID token's `idp` claim.
    idp: Mapped[str | None] = mapped_column(String(40))
    # OpenID Connect Core §5.5.1.1: the requested acr value the ID token must carry; None: the level reached.
    acr: Mapped[str | None] = mapped_column(String(64))
    # Every token issued from this code shares this family, so a replay revokes them all.
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    # The sign-in session the person authorized in: signing it out may disconnect the family.
    login_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("login_sessions.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
    used_at: Mapped[int | None] = mapped_column(Integer)

    user: Mapped[User] = relationship(lazy="joined")

    # --- authlib AuthorizationCodeMixin ------------------------------------
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str:
        return self.acr or acr_for(self.get_amr())

    def get_amr(self) -> list[str]:
        return self.amr.split()
