from __future__ import annotations

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.clock import now

PENDING, SENDING, FAILED = "pending", "sending", "failed"
STATUSES = (PENDING, SENDING, FAILED)


class OutboxMessage(Model):
    """A rendered message waiting for delivery; deleted once the transport accepts it (its body holds links)."""

    __tablename__ = "outbox_messages"
    # The delivery loop's one query: due messages, oldest first.
    __table_args__ = (Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # RFC 5322 §3.6.4, fixed when queued: a retry after an unclear failure is recognisably the same message.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    recipient: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    # Whom the message concerns, for the audit trail (which never holds the address or the body).
    user_sub: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # pending: the earliest next try; sending: when the claim lapses (a worker that died mid-send).
    next_attempt_at: Mapped[int] = mapped_column(Integer, default=now)
    # Random per claim: only the claimant may record the outcome, even after its claim lapsed and was retaken.
    lease: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[int] = mapped_column(Integer, default=now)
