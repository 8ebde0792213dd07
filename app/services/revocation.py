"""Taking back what a person was issued: refresh-token families, their access tokens, codes not yet redeemed."""

from __future__ import annotations

from sqlalchemy import delete, select, union, update

from app.extensions import db
from app.models import AccessTokenRecord, AuthorizationCode, RefreshToken, User
from app.models.clock import now


def revoke_issued(user: User) -> None:
    """RFC 7009 §2.1 for a whole person: every refresh-token family and the access tokens recorded for it are
    revoked, and codes not yet redeemed are deleted. Not committed."""
    code_of_user = AuthorizationCode.user_id == user.id
    refresh_of_user = RefreshToken.user_id == user.id
    # A family's access tokens are found through its code too: a sign-in without offline_access has no refresh token.
    families = union(select(AuthorizationCode.family_id).where(code_of_user),
                     select(RefreshToken.family_id).where(refresh_of_user))
    moment = now()
    db.session.execute(
        update(AccessTokenRecord)
        .where(AccessTokenRecord.family_id.in_(families), AccessTokenRecord.revoked_at.is_(None))
        .values(revoked_at=moment)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(RefreshToken)
        .where(refresh_of_user, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=moment)
        .execution_options(synchronize_session=False)
    )
    # Deleted, not marked used: redeeming one is then invalid_grant, not a replay audited as token reuse.
    db.session.execute(
        delete(AuthorizationCode)
        .where(code_of_user, AuthorizationCode.used_at.is_(None))
        .execution_options(synchronize_session=False)
    )
