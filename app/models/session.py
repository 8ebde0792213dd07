from __future__ import annotations

from sqlalchemy import ColumnElement, ForeignKey, Integer, String, and_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.user import User


class LoginSession(Model):
    """A signed-in browser; its cookie carries only a random id whose digest is stored here."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    auth_time: Mapped[int] = mapped_column(Integer)
    amr: Mapped[str] = mapped_column(String(100), default="pwd")
    # The upstream provider a federated sign-in came through (its name): the ID token's `idp` claim.
    idp: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[int] = mapped_column(Integer)
    last_seen_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    revoked_at: Mapped[int | None] = mapped_column(Integer)

    user: Mapped[User] = relationship(lazy="joined")

    @classmethod
    def live(cls, moment: int, idle_seconds: int) -> ColumnElement[bool]:
        """Usable at `moment`: not ended, before its absolute expiry, and used within the idle timeout.
        The one definition: loading a cookie, listing a person's sessions and purging all go by it."""
        return and_(cls.revoked_at.is_(None), cls.expires_at > moment, cls.last_seen_at > moment - idle_seconds)
