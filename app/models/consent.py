from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.clock import now


class Consent(Model):
    """Scopes a user has allowed a client, and the RFC 8707 resources its tokens may go to; asked again beyond these."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("user_id", "client_id", name="uq_consents_user_client"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text, default="")
    resources: Mapped[list[str]] = mapped_column(JSON, default=list)
    granted_at: Mapped[int] = mapped_column(Integer, default=now, onupdate=now)
