"""Service accounts: non-human principals that own API keys; created by admins, they never sign in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from app.errors import ConflictError, NotFoundError, ValidationError
from app.extensions import db
from app.models import User
from app.services import audit, users
from app.services.pagination import Page, paginate
from app.services.roles import validate_principal_scope, validate_roles
from app.services.transaction import transaction


def _validated_name(name: Any) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise ValidationError("name must be 1 to 200 printable characters", field="name")
    return name


def _refuse_taken(name: str, *, other_than: int | None = None) -> str:
    """Operators tell service accounts apart by name (keys name their owner by sub): no two share one, in any case."""
    taken = select(User.id).where(User.is_service_account.is_(True), func.lower(User.name) == name.lower())
    if other_than is not None:
        taken = taken.where(User.id != other_than)
    if db.session.scalar(taken.limit(1)) is not None:
        raise ConflictError("a service account with this name already exists", field="name")
    return name


def create_service_account(name: str, *, roles: list[str] | None = None, scope: str = "", actor: str | None) -> User:
    """No email and no password: the account exists only to own API keys."""
    account = User(
        email=None,
        name=_refuse_taken(_validated_name(name)),
        roles=validate_roles(roles or []),
        scope=validate_principal_scope(scope),
        is_service_account=True,
        email_verified=False,
    )
    with transaction():
        db.session.add(account)
        db.session.flush()
        audit.record("service_account.created", user_sub=account.sub, actor=actor, roles=account.roles)
    return account


def get_service_account(ref: str) -> User:
    """By sub."""
    account = users.get_by_sub(ref)
    if account is None or not account.is_service_account:
        raise NotFoundError("no such service account")
    return account


def service_account_page(limit: int, cursor: str | None) -> Page[User]:
    return paginate(select(User).where(User.is_service_account.is_(True)), User.id, limit, cursor)


def update_service_account(account: User, changes: Mapping[str, Any], *, actor: str | None) -> User:
    if "name" in changes:
        changes = {**changes, "name": _refuse_taken(_validated_name(changes["name"]), other_than=account.id)}
    return users.update_user(account, changes, actor=actor)


def delete_service_account(account: User, *, actor: str | None) -> None:
    """Its API keys go with it."""
    users.delete_user(account, actor=actor)
