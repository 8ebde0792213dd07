from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.clock import now


class OneTimeToken(Model):
    """A mailed link (and optional short code) for one purpose and one account, kept as digests, used once."""

    __tablename__ = "one_time_tokens"
    # "the live token of this purpose for this account": issue, invalidate and code redemption look it up.
    __table_args__ = (Index("ix_one_time_tokens_user_id_purpose", "user_id", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))
    # None for a purpose that has no account yet (an invitation to an address).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Small, non-secret facts the flow needs back, e.g. the new address of an email change.
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # HMAC of the short code under the server's secret key: a 6-8 digit code would fall to a plain hash offline.
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[int] = mapped_column(Integer, default=now)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
    used_at: Mapped[int | None] = mapped_column(Integer)
