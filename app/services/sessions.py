"""Server-side login sessions: the cookie holds a random id, the database its digest. Starting, loading and ending
them, and a person's own view of theirs: list them and their apps, end one or all but this one."""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app
from sqlalchemy import select, union, update

from app.extensions import db
from app.models import AccessTokenRecord, AuthorizationCode, Client, LoginSession, RefreshToken, User
from app.models.clock import now
from app.security.secrets import digest, generate_secret
from app.services.revocation import revoke_issued
from app.services.transaction import rows_changed, transaction

# last_seen_at is refreshed at most this often, so a page view is not always a write.
TOUCH_INTERVAL_SECONDS = 60


def _idle_seconds() -> int:
    return current_app.config["SESSION_IDLE_TTL_SECONDS"]


def start(user: User, *, amr: str, auth_time: int, ip: str | None, user_agent: str | None,
          idp: str | None = None) -> str:
    """Create a session for a person identified at auth_time by the methods amr; returns the cookie value
    (never stored)."""
    token = generate_secret(32)
    moment = now()
    with transaction():
        db.session.add(
            LoginSession(
                session_hash=digest(token),
                user_id=user.id,
                auth_time=auth_time,
                amr=amr,
                idp=idp,
                created_at=moment,
                last_seen_at=moment,
                expires_at=moment + current_app.config["SESSION_ABSOLUTE_TTL_SECONDS"],
                ip=(ip or "")[:64] or None,
                user_agent=(user_agent or "")[:300] or None,
            )
        )
    return token


def load(token: str | None) -> LoginSession | None:
    """The live session for a cookie value, or None if unknown, revoked, expired or idle, or its user disabled."""
    if not token or len(token) > 100:
        return None
    moment = now()
    found = db.session.scalar(
        select(LoginSession).where(LoginSession.session_hash == digest(token), LoginSession.live(moment, _idle_seconds()))
    )
    if found is None or not found.user.is_active:
        return None
    if moment - found.last_seen_at >= TOUCH_INTERVAL_SECONDS:
        with transaction():
            found.last_seen_at = moment
    return found


def end(token: str | None) -> None:
    if not token or len(token) > 100:
        return
    with transaction():
        db.session.execute(
            update(LoginSession)
            .where(LoginSession.session_hash == digest(token), LoginSession.revoked_at.is_(None))
            .values(revoked_at=now())
        )


def active_sessions(user: User) -> list[LoginSession]:
    """Live sessions, most recently used first."""
    query = (
        select(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.live(now(), _idle_seconds()))
        .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())
    )
    return list(db.session.scalars(query))


def connected_apps(login_sessions: Sequence[LoginSession]) -> dict[int, list[str]]:
    """Per session id, the names of the apps still holding a token authorized in it: a live refresh token,
    or an access token not yet expired (found through its family's code)."""
    by_id = {session.id: session for session in login_sessions}
    if not by_id:
        return {}
    moment = now()
    live_refresh = select(RefreshToken.login_session_id, RefreshToken.auth_time, RefreshToken.client_id).where(
        RefreshToken.login_session_id.in_(by_id), RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None),
        RefreshToken.expires_at > moment)
    live_access = (
        select(AuthorizationCode.login_session_id, AuthorizationCode.auth_time, AuthorizationCode.client_id)
        .join(AccessTokenRecord, AccessTokenRecord.family_id == AuthorizationCode.family_id)
        .where(AuthorizationCode.login_session_id.in_(by_id), AccessTokenRecord.revoked_at.is_(None),
               AccessTokenRecord.expires_at > moment)
    )
    issued = union(live_refresh, live_access).subquery()
    rows = db.session.execute(select(issued.c.login_session_id, issued.c.auth_time, Client.name)
                              .join(Client, Client.client_id == issued.c.client_id))
    apps: dict[int, set[str]] = {}
    for session_id, auth_time, name in rows:
        if auth_time >= by_id[session_id].created_at:  # see revocation.begun_in
            apps.setdefault(session_id, set()).add(name)
    return {session_id: sorted(names) for session_id, names in apps.items()}


def end_session(user: User, session_id: int, *, disconnect_apps: bool = False) -> bool:
    """End one of the user's sessions; it is refused on its next request. With disconnect_apps, the apps
    authorized in it lose their tokens too. False if there was no such session to end."""
    found = db.session.scalar(select(LoginSession).where(LoginSession.id == session_id, LoginSession.user_id == user.id))
    if found is None:
        return False
    with transaction():
        if disconnect_apps:
            revoke_issued(user, login_sessions=[found])
        return rows_changed(
            update(LoginSession)
            .where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
            .values(revoked_at=now())
        ) == 1


def end_other_sessions(user: User, *, keep: int, disconnect_apps: bool = False) -> int:
    """The person signs out every other browser (and with disconnect_apps, the apps authorized in them)."""
    with transaction():
        return end_all_sessions(user, keep=keep, disconnect_apps=disconnect_apps)


def end_all_sessions(user: User, *, keep: int | None = None, disconnect_apps: bool = False) -> int:
    """End every session of the user except `keep` (and with disconnect_apps, revoke the tokens of the apps
    authorized in them); returns how many were ended."""
    live = [LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None)]
    if keep is not None:
        live.append(LoginSession.id != keep)
    with transaction():
        if disconnect_apps:
            revoke_issued(user, login_sessions=list(db.session.scalars(select(LoginSession).where(*live))))
        return rows_changed(update(LoginSession).where(*live).values(revoked_at=now()))
