"""Account lifecycle shared by the admin API, the CLI and the account page: profile, roles, password, removal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, or_, select

from app.errors import NotFoundError, ValidationError, WrongPasswordError
from app.extensions import db
from app.models import ApiKey, AuthorizationCode, Consent, LoginSession, RefreshToken, User
from app.services import api_keys, audit
from app.services.pagination import Page, paginate
from app.services.revocation import revoke_issued
from app.services.roles import validate_principal_scope, validate_roles
from app.services.sessions import end_all_sessions
from app.services.users import (
    get_by_sub,
    identifiers_claimed,
    normalize_email,
    passwords,
    refuse_taken,
    validate_name,
    validate_password,
    validate_username,
)

PROFILE_FIELDS = ("email", "username", "name", "email_verified", "roles", "scope")


def get_person(sub: str) -> User:
    """A person (not a service account) by sub."""
    user = get_by_sub(sub) if len(sub) <= 36 else None
    if user is None or user.is_service_account:
        raise NotFoundError("no such user")
    return user


def find_person(ref: str) -> User:
    """A person by sub, email or username (what an operator types); a reference to two people is refused."""
    return _only(ref, [user for user in _referenced(ref) if not user.is_service_account], "user")


def find_owner(ref: str) -> User:
    """An API key's owner: a person by sub, email or username, or a service account by sub."""
    return _only(ref, _referenced(ref), "user or service account")


def _referenced(ref: str) -> list[User]:
    """Every account whose sub, email or username (ignoring case) is `ref`: a username may look like a sub."""
    ref = ref.strip()
    if not ref or len(ref) > 320 or not ref.isprintable():
        return []  # no account has such an identifier, and PostgreSQL refuses NUL in a query parameter
    folded = ref.lower()
    query = select(User).where(or_(User.sub == ref, User.email == folded, func.lower(User.username) == folded))
    return list(db.session.scalars(query.order_by(User.id).limit(3)))


def _only(ref: str, found: list[User], kind: str) -> User:
    if not found:
        raise NotFoundError(f"no {kind} {ref!r}")
    if len(found) > 1:
        named = ", ".join(f"sub {user.sub} ({user.email or user.name})" for user in found)
        raise ValidationError(f"{ref!r} matches more than one account: {named}; use the sub of the one you mean",
                              field="user")
    return found[0]


def user_page(search: str | None, limit: int, cursor: str | None) -> Page[User]:
    """People, oldest first; `search` matches email, username or name, case-insensitively."""
    statement = select(User).where(User.is_service_account.is_(False))
    if search:
        if len(search) > 320 or not search.isprintable():
            raise ValidationError("search is at most 320 printable characters", field="q")
        pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(*(func.lower(column).like(pattern, escape="\\") for column in (User.email, User.username, User.name)))
        )
    return paginate(statement, User.id, limit, cursor)


def update_user(user: User, changes: Mapping[str, Any], *, actor: str | None) -> User:
    """Apply profile and role changes; keys of a principal that lost scopes lose them too."""
    if "email" in changes:
        email = normalize_email(changes["email"])
        refuse_taken(email, None, other_than=user.id)
        if email != user.email:
            user.email_verified = False
        user.email = email
    if "username" in changes:
        username = validate_username(changes["username"])
        refuse_taken(None, username, other_than=user.id)
        user.username = username
    if "name" in changes:
        user.name = validate_name(changes["name"])
    if "email_verified" in changes:
        user.email_verified = bool(changes["email_verified"])
    if "roles" in changes:
        user.roles = validate_roles(list(changes["roles"]))
    if "scope" in changes:
        user.scope = validate_principal_scope(changes["scope"])
    if "roles" in changes or "scope" in changes:
        api_keys.narrow_to_owner(user)
    audit.record("user.updated", user_sub=user.sub, actor=actor, fields=sorted(changes))
    with identifiers_claimed(user.email, user.username, other_than=user.id):
        db.session.commit()
    return user


def set_password(user: User, password: str, *, actor: str | None, revoke_api_keys: bool = False) -> int:
    """An administrator sets a password: see authentication_factor_changed. Returns the API keys revoked."""
    user.password_hash = passwords().hash(validate_password(password))
    revoked_keys = authentication_factor_changed(user, actor=actor, revoke_api_keys=revoke_api_keys)
    audit.record("user.password_set", user_sub=user.sub, actor=actor, api_keys_revoked=revoked_keys)
    db.session.commit()
    return revoked_keys


def change_password(user: User, current: str, new: str, *, keep_session: int, revoke_api_keys: bool = False) -> int:
    """The user changes their own password, which needs the current one; this session stays signed in.
    See authentication_factor_changed. Returns the API keys revoked."""
    if not passwords().verify(user.password_hash, current):
        raise WrongPasswordError("the current password is not correct", field="current_password")
    if new == current:
        raise ValidationError("the new password must differ from the current one", field="new_password")
    try:
        validate_password(new)
    except ValidationError as exc:
        raise ValidationError(exc.description, field="new_password") from None
    user.password_hash = passwords().hash(new)
    revoked_keys = authentication_factor_changed(user, actor=user.sub, keep_session=keep_session,
                                                 revoke_api_keys=revoke_api_keys)
    audit.record("user.password_changed", user_sub=user.sub, actor=user.sub, api_keys_revoked=revoked_keys)
    db.session.commit()
    return revoked_keys


def authentication_factor_changed(user: User, *, actor: str | None, keep_session: int | None = None,
                                  revoke_api_keys: bool = False) -> int:
    """Every change of a way to sign in (a password; later an email or a second factor) takes back what the old
    one let anyone obtain (RFC 9700 §4.14.2): every session but `keep_session` ends, every refresh-token family
    and its access tokens are revoked, codes not yet redeemed are void, and with revoke_api_keys the API keys
    are revoked too. Not committed; returns the API keys revoked."""
    end_all_sessions(user, keep=keep_session)
    revoke_issued(user)
    return api_keys.revoke_keys_of(user, actor=actor) if revoke_api_keys else 0


def disable_user(user: User, *, actor: str | None) -> User:
    """Sign-in sessions and refresh-token families end at once; API keys stop working with the owner."""
    user.is_active = False
    end_all_sessions(user)
    revoke_issued(user)
    audit.record("user.disabled", user_sub=user.sub, actor=actor)
    db.session.commit()
    return user


def enable_user(user: User, *, actor: str | None) -> User:
    user.is_active = True
    audit.record("user.enabled", user_sub=user.sub, actor=actor)
    db.session.commit()
    return user


def delete_user(user: User, *, actor: str | None) -> None:
    """Delete the principal and everything issued to it (explicitly: SQLite does not enforce ON DELETE)."""
    revoke_issued(user)
    for model in (ApiKey, Consent, LoginSession, AuthorizationCode, RefreshToken):
        column = ApiKey.owner_id if model is ApiKey else model.user_id
        db.session.execute(delete(model).where(column == user.id))
    audit.record("user.deleted", user_sub=user.sub, actor=actor)
    db.session.delete(user)
    db.session.commit()
