"""Accounts from creation to removal, shared by the admin API, the CLI and the account page: lookup, profile and
roles, a password set by an administrator, disabling, deletion. Signing in is app/services/authentication.py."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from app.errors import ConflictError, NotFoundError, ValidationError
from app.extensions import db
from app.models import ApiKey, AuthorizationCode, Consent, LoginSession, OneTimeToken, RefreshToken, User
from app.models.second_factor import Passkey, RecoveryCode, TotpSecret
from app.scopes import ADMIN_ROLE
from app.security.passwords import PasswordPolicyError, check_policy, passwords
from app.services import api_keys, audit, client_cache, one_time_tokens
from app.services.pagination import Page, paginate
from app.services.revocation import revoke_issued
from app.services.roles import validate_principal_scope, validate_roles
from app.services.sessions import end_all_sessions
from app.services.transaction import transaction

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_EMAIL_CHARS = 320
SECOND_FACTORS = (TotpSecret, RecoveryCode, Passkey)


def normalize_email(email: str) -> str:
    """One spelling per mailbox, the one stored and compared everywhere (sign-up, sign-in, invitations, changes):
    NFKC (full-width and compatibility forms fold to their plain letters), a deliverable address syntax
    (email-validator, RFC 5321/5322), an ASCII local part, the domain in its IDNA ASCII (xn--) form, lower case.
    A look-alike from another script therefore never passes for a Latin address: its domain is stored and shown
    as xn--..., and a non-ASCII local part is refused."""
    folded = unicodedata.normalize("NFKC", email.strip()) if isinstance(email, str) else ""
    if not folded or len(folded) > MAX_EMAIL_CHARS:
        raise ValidationError("email is not a valid address", field="email")
    try:
        valid = validate_email(folded, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise ValidationError("email is not a valid address", field="email") from None
    return (valid.ascii_email or valid.normalized).lower()


def validate_username(username: str | None) -> str | None:
    if username is not None and not USERNAME_PATTERN.fullmatch(username):  # match() would allow a final "\n"
        raise ValidationError("username may use letters, digits, '.', '_' and '-' (at most 64)", field="username")
    return username


def validate_name(name: str | None) -> str | None:
    if name is not None and (len(name) > 200 or any(ord(c) < 32 for c in name)):
        raise ValidationError("name must be at most 200 printable characters", field="name")
    return name


def validate_password(password: str) -> str:
    try:
        check_policy(password)
    except PasswordPolicyError as exc:
        raise ValidationError(str(exc), field="password") from None
    return password


def create_user(
    email: str,
    password: str | None,
    *,
    name: str | None = None,
    username: str | None = None,
    is_admin: bool = False,
    roles: list[str] | None = None,
    scope: str = "",
    email_verified: bool = False,
    actor: str | None = None,
) -> User:
    email = normalize_email(email)
    validate_username(username)
    validate_name(name)
    if password is not None:
        validate_password(password)
    role_names = validate_roles([*(roles or []), *([ADMIN_ROLE] if is_admin else [])])
    scope = validate_principal_scope(scope)
    refuse_taken(email, username)
    user = User(
        email=email,
        username=username,
        name=name,
        roles=role_names,
        scope=scope,
        email_verified=email_verified,
        password_hash=passwords().hash(password) if password is not None else None,
    )
    with identifiers_claimed(email, username), transaction():
        db.session.add(user)
        db.session.flush()
        audit.record("user.created", user_sub=user.sub, actor=actor, roles=role_names)
    return user


def refuse_taken(email: str | None, username: str | None, *, other_than: int | None = None) -> None:
    """ConflictError naming the field if another account holds this email or username, in any case."""
    for field, column, value in (("email", User.email, email), ("username", func.lower(User.username), username)):
        if value is None:
            continue
        taken = select(User.id).where(column == value.lower())
        if other_than is not None:
            taken = taken.where(User.id != other_than)
        if db.session.scalar(taken.limit(1)) is not None:
            raise ConflictError(f"a user with this {field} already exists", field=field)


@contextmanager
def identifiers_claimed(email: str | None, username: str | None, *, other_than: int | None = None) -> Iterator[None]:
    """Writes that may lose the email or username to a concurrent request, checked or not: 409, never a 500.
    Flush inside the block, so the race is lost here even when the use case commits later."""
    try:
        yield
    except IntegrityError:
        db.session.rollback()
        refuse_taken(email, username, other_than=other_than)  # the winner has committed: name what it took
        raise ConflictError("a user with this email or username already exists") from None


def login_as_email(login: str) -> str:
    """A typed login as a stored email would spell it (normalize_email), or just lower-cased if it is none."""
    try:
        return normalize_email(login)
    except ValidationError:
        return login.lower()


def find_by_email(email: str) -> User | None:
    """The account holding this address, already normalised (normalize_email)."""
    return db.session.scalar(select(User).where(User.email == email))


def find_by_login(login: str) -> User | None:
    """Email or username, ignoring case (both are unique so; stored emails are lower case)."""
    login = login.strip()
    if not login or len(login) > MAX_EMAIL_CHARS or not login.isprintable():
        return None  # no account has such a login, and PostgreSQL refuses NUL in a query parameter
    email = login_as_email(login)
    query = select(User).where(or_(User.email == email, func.lower(User.username) == login.lower()))
    # Two matches only in a database not yet upgraded to unique usernames: sign in neither, rather than a guess.
    found = list(db.session.scalars(query.limit(2)))
    return found[0] if len(found) == 1 else None


def get_by_sub(sub: str) -> User | None:
    if not sub or len(sub) > 36 or not sub.isprintable():
        return None  # no subject has such a value, and PostgreSQL refuses NUL in a query parameter
    return db.session.scalar(select(User).where(User.sub == sub))


def is_active_subject(sub: str) -> bool:
    """Whether `sub` names an enabled account, through the client cache: introspection asks it on every call."""
    user = client_cache.cached("user", sub, get_by_sub)
    return user is not None and user.is_active


def get_person(sub: str) -> User:
    """A person (not a service account) by sub."""
    user = get_by_sub(sub)
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
    with transaction():
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
            db.session.flush()
    return user


def set_password(user: User, password: str, *, actor: str | None, revoke_api_keys: bool = False) -> int:
    """An administrator sets a password: see authentication_factor_changed. Returns the API keys revoked."""
    password_hash = passwords().hash(validate_password(password))
    with transaction():
        user.password_hash = password_hash
        revoked_keys = authentication_factor_changed(user, actor=actor, revoke_api_keys=revoke_api_keys)
        audit.record("user.password_set", user_sub=user.sub, actor=actor, api_keys_revoked=revoked_keys)
    return revoked_keys


# Links sent before a factor changed must not undo the change (a reset link in the old mailbox).
FACTOR_LINKS = ("password_reset", "email_change")


def authentication_factor_changed(user: User, *, actor: str | None, keep_session: int | None = None,
                                  revoke_api_keys: bool = False) -> int:
    """Every change of a way to sign in (a password; later an email or a second factor) takes back what the old
    one let anyone obtain (RFC 9700 §4.14.2): every session but `keep_session` ends, every refresh-token family
    and its access tokens are revoked, codes not yet redeemed are void, and with revoke_api_keys the API keys
    are revoked too; mailed links that would change a factor (a password reset, an email change) stop working.
    Part of the use case that changed the factor; returns the API keys revoked."""
    with transaction():
        end_all_sessions(user, keep=keep_session)
        revoke_issued(user)
        for purpose in FACTOR_LINKS:
            one_time_tokens.invalidate(purpose, user.id)
        return api_keys.revoke_keys_of(user, actor=actor) if revoke_api_keys else 0


def disable_user(user: User, *, actor: str | None) -> User:
    """Sign-in sessions and refresh-token families end at once; API keys stop working with the owner."""
    with transaction():
        user.is_active = False
        end_all_sessions(user)
        revoke_issued(user)
        audit.record("user.disabled", user_sub=user.sub, actor=actor)
    return user


def enable_user(user: User, *, actor: str | None) -> User:
    with transaction():
        user.is_active = True
        audit.record("user.enabled", user_sub=user.sub, actor=actor)
    return user


def delete_user(user: User, *, actor: str | None, reason: str | None = None) -> None:
    """Delete the principal and everything issued to it (explicitly: SQLite does not enforce ON DELETE). The
    audit event keeps the sub only, which nothing resolves any more; a sub is a random UUID, never reused."""
    with transaction():
        revoke_issued(user)
        for model in (ApiKey, Consent, LoginSession, AuthorizationCode, RefreshToken, OneTimeToken, *SECOND_FACTORS):
            column = ApiKey.owner_id if model is ApiKey else model.user_id
            db.session.execute(delete(model).where(column == user.id))
        audit.record("user.deleted", user_sub=user.sub, actor=actor, **({"reason": reason} if reason else {}))
        db.session.delete(user)
        db.session.flush()  # before a replacement account may take the address in the same transaction
