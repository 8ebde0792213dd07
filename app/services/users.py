"""Users: creation, lookup and password sign-in, shared by pages, CLI and admin API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from app.errors import ConflictError, ValidationError
from app.extensions import db
from app.models import User
from app.scopes import ADMIN_ROLE
from app.security.passwords import PasswordPolicyError, Passwords, check_policy
from app.services import audit
from app.services.roles import validate_principal_scope, validate_roles

EMAIL_PATTERN = re.compile(r"^[^@\s\x00-\x1f]{1,64}@[^@\s\x00-\x1f]{1,255}$")
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def passwords() -> Passwords:
    return current_app.extensions["ostiary.passwords"]


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email) or "." not in email.rpartition("@")[2]:
        raise ValidationError("email is not a valid address", field="email")
    return email


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
    with identifiers_claimed(email, username):
        db.session.add(user)
        db.session.flush()
        audit.record("user.created", user_sub=user.sub, actor=actor, roles=role_names)
        db.session.commit()
    return user


def list_users() -> list[User]:
    """People only; service accounts are listed by app/services/service_accounts.py."""
    return list(db.session.scalars(select(User).where(User.is_service_account.is_(False)).order_by(User.id)))


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
    """Writes that may lose the email or username to a concurrent request, checked or not: 409, never a 500."""
    try:
        yield
    except IntegrityError:
        db.session.rollback()
        refuse_taken(email, username, other_than=other_than)  # the winner has committed: name what it took
        raise ConflictError("a user with this email or username already exists") from None


def find_by_login(login: str) -> User | None:
    """Email or username, ignoring case (both are unique so; stored emails are lower case)."""
    login = login.strip()
    if not login or len(login) > 320 or not login.isprintable():
        return None  # no account has such a login, and PostgreSQL refuses NUL in a query parameter
    query = select(User).where(or_(User.email == login.lower(), func.lower(User.username) == login.lower()))
    # Two matches only in a database not yet upgraded to unique usernames: sign in neither, rather than a guess.
    found = list(db.session.scalars(query.limit(2)))
    return found[0] if len(found) == 1 else None


def authenticate(user: User | None, password: str) -> User | None:
    """Password sign-in of the account a login named (find_by_login). Unknown users cost one argon2 verify too,
    so timing does not tell."""
    stored = user.password_hash if user and user.is_active else None
    if not passwords().verify(stored, password):
        return None
    assert user is not None and user.password_hash is not None
    if passwords().needs_rehash(user.password_hash):
        user.password_hash = passwords().hash(password)
        db.session.commit()
    return user


def get_by_sub(sub: str) -> User | None:
    if not sub or len(sub) > 36 or not sub.isprintable():
        return None  # no subject has such a value, and PostgreSQL refuses NUL in a query parameter
    return db.session.scalar(select(User).where(User.sub == sub))
