"""Server-side login sessions: the cookie holds a random id, the database its digest."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select, update

from app.extensions import db
from app.models import LoginSession, User
from app.models.clock import now
from app.security.secrets import digest, generate_secret

# last_seen_at is refreshed at most this often, so a page view is not always a write.
TOUCH_INTERVAL_SECONDS = 60


def start(user: User, *, ip: str | None, user_agent: str | None, amr: str = "pwd") -> str:
    """Create a session and return the cookie value (never stored)."""
    token = generate_secret(32)
    moment = now()
    db.session.add(
        LoginSession(
            session_hash=digest(token),
            user_id=user.id,
            auth_time=moment,
            amr=amr,
            created_at=moment,
            last_seen_at=moment,
            expires_at=moment + current_app.config["SESSION_ABSOLUTE_TTL_SECONDS"],
            ip=(ip or "")[:64] or None,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    db.session.commit()
    return token


def load(token: str | None) -> LoginSession | None:
    """The live session for a cookie value, or None if unknown, revoked, expired or idle."""
    if not token or len(token) > 100:
        return None
    found = db.session.scalar(select(LoginSession).where(LoginSession.session_hash == digest(token)))
    moment = now()
    if (
        found is None
        or found.revoked_at is not None
        or found.expires_at <= moment
        or found.last_seen_at + current_app.config["SESSION_IDLE_TTL_SECONDS"] <= moment
        or not found.user.is_active
    ):
        return None
    if moment - found.last_seen_at >= TOUCH_INTERVAL_SECONDS:
        found.last_seen_at = moment
        db.session.commit()
    return found


def end(token: str | None) -> None:
    if not token or len(token) > 100:
        return
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.session_hash == digest(token), LoginSession.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    db.session.commit()
