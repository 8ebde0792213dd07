"""A person's own sign-in sessions: list them, end one, end all but this one, prove the password again."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select, update

from app.errors import ValidationError, WrongPasswordError
from app.extensions import db
from app.models import LoginSession, User
from app.models.clock import now
from app.services.users import passwords


def active_sessions(user: User) -> list[LoginSession]:
    """Live sessions, most recently used first (the same test as app/services/sessions.py load)."""
    moment = now()
    idle = current_app.config["SESSION_IDLE_TTL_SECONDS"]
    query = (
        select(LoginSession)
        .where(
            LoginSession.user_id == user.id,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > moment,
            LoginSession.last_seen_at > moment - idle,
        )
        .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())
    )
    return list(db.session.scalars(query))


def end_session(user: User, session_id: int) -> bool:
    """End one of the user's sessions; it is refused on its next request. False if there was none to end."""
    result = db.session.execute(
        update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    db.session.commit()
    return result.rowcount == 1


def end_all_sessions(user: User, *, keep: int | None = None, commit: bool = True) -> int:
    """End every session of the user except `keep`; returns how many were ended."""
    statement = update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
    if keep is not None:
        statement = statement.where(LoginSession.id != keep)
    result = db.session.execute(statement.values(revoked_at=now()))
    if commit:
        db.session.commit()
    return result.rowcount


def authenticated_recently(login_session: LoginSession) -> bool:
    """OpenID Connect Core §2 auth_time within OSTIARY_REAUTHENTICATE_SECONDS: recent enough for a sensitive action."""
    return now() - login_session.auth_time < current_app.config["REAUTHENTICATE_SECONDS"]


def reauthenticate(login_session: LoginSession, password: str) -> None:
    """The person proves their password again (WrongPasswordError if not), so the session's auth_time is now."""
    if not password:
        raise ValidationError("enter your password to continue", field="password")
    if not passwords().verify(login_session.user.password_hash, password):
        raise WrongPasswordError("the password is not correct", field="password")
    login_session.auth_time = now()
    db.session.commit()
