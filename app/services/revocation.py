"""Taking back what a person was issued: refresh-token families, their access tokens, codes not yet redeemed."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, delete, or_, select, union, update

from app.extensions import db
from app.models import AccessTokenRecord, AuthorizationCode, Client, LoginSession, RefreshToken, User
from app.models.clock import now
from app.services.token_families import revoke_families
from app.services.transaction import transaction


def revoke_issued(user: User, *, login_sessions: Sequence[LoginSession] | None = None,
                  client_id: str | None = None) -> None:
    """RFC 7009 §2.1 for a whole person, for the apps they authorized in some sign-in sessions, or for one app
    (client_id): every refresh-token family and the access tokens recorded for it are revoked, and codes not yet
    redeemed are deleted. Part of the use case that takes them back (a password change, a disabled account, a
    signed-out device, a removed app)."""
    if login_sessions is not None and not login_sessions:
        return
    code_issued = [AuthorizationCode.user_id == user.id]
    refresh_issued = [RefreshToken.user_id == user.id]
    if login_sessions is not None:
        code_issued.append(begun_in(AuthorizationCode, login_sessions))
        refresh_issued.append(begun_in(RefreshToken, login_sessions))
    if client_id is not None:
        code_issued.append(AuthorizationCode.client_id == client_id)
        refresh_issued.append(RefreshToken.client_id == client_id)
    with transaction():
        # Unredeemed codes go first: deleting one waits for a redemption in flight, whose tokens the sweep then sees.
        # Deleted, not marked used: redeeming one is then invalid_grant, not a replay audited as token reuse.
        db.session.execute(
            delete(AuthorizationCode)
            .where(*code_issued, AuthorizationCode.used_at.is_(None))
            .execution_options(synchronize_session=False)
        )
        # A family's access tokens are found through its code too: a sign-in without offline_access has no refresh
        # token.
        revoke_families(union(select(AuthorizationCode.family_id).where(*code_issued),
                              select(RefreshToken.family_id).where(*refresh_issued)))


def begun_in(model: type[AuthorizationCode | RefreshToken],
             login_sessions: Sequence[LoginSession]) -> ColumnElement[bool]:
    """Codes or refresh tokens issued in one of these sessions."""
    # The auth_time too: SQLite enforces no ON DELETE SET NULL and may give a purged session's id to a new one.
    return or_(*(and_(model.login_session_id == session.id, model.auth_time >= session.created_at)
                 for session in login_sessions))


def revoke_issued_to(client: Client) -> None:
    """RFC 7009 §2.1 for a whole client: its refresh tokens and the access tokens recorded for it are revoked, and
    its codes not yet redeemed are deleted. Not committed."""
    moment = now()
    for model in (AccessTokenRecord, RefreshToken):
        db.session.execute(
            update(model)
            .where(model.client_id == client.client_id, model.revoked_at.is_(None))
            .values(revoked_at=moment)
            .execution_options(synchronize_session=False)
        )
    db.session.execute(
        delete(AuthorizationCode)
        .where(AuthorizationCode.client_id == client.client_id, AuthorizationCode.used_at.is_(None))
        .execution_options(synchronize_session=False)
    )
