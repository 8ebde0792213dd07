from __future__ import annotations

import uuid

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.clock import now
from app.scopes import ADMIN_ROLE


def new_subject() -> str:
    return str(uuid.uuid4())


class User(Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The public, stable identifier that goes into `sub`; never the primary key.
    sub: Mapped[str] = mapped_column(String(36), unique=True, default=new_subject)
    # None only for service accounts, which never sign in.
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Role names, released in the `roles` claim; "admin" may use the admin API.
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    # API scopes this principal may hold in its API keys (roles may add more, see app/services/roles.py).
    scope: Mapped[str] = mapped_column(Text, default="")
    # A non-human owner of API keys (created by admins): no email, no password, no sign-in.
    is_service_account: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # A self-service sign-up whose address is not confirmed yet: it cannot sign in, owns nothing, and a later
    # sign-up, invitation or email change that proves the mailbox replaces it (README "Self-service accounts").
    registration_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(Integer, default=now)
    updated_at: Mapped[int] = mapped_column(Integer, default=now, onupdate=now)

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in (self.roles or [])

    def get_user_id(self) -> str:
        return self.sub


# Sign-in and the CLI find a username whatever its case, so two may not differ in case alone.
Index("uq_users_username_lower", func.lower(User.username), unique=True)
