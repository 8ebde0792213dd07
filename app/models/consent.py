from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.clock import now
from app.models.user import User
from app.uris import CLIENT_ID_LENGTH


class Consent(Model):
    """Scopes a user has allowed a client, and the RFC 8707 resources its tokens may go to; asked again beyond these."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("user_id", "client_id", name="uq_consents_user_client"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(CLIENT_ID_LENGTH))
    scope: Mapped[str] = mapped_column(Text, default="")
    resources: Mapped[list[str]] = mapped_column(JSON, default=list)
    # When the person first allowed the client anything; granted_at moves with every addition.
    created_at: Mapped[int] = mapped_column(Integer, default=now)
    granted_at: Mapped[int] = mapped_column(Integer, default=now, onupdate=now)

    # Not joined by default: _remember locks the consent row FOR UPDATE, which PostgreSQL refuses on an outer join.
    user: Mapped[User] = relationship()
