"""Token families: the codes and refresh tokens of one grant and the access tokens issued from them.

Every consumption is one conditional UPDATE.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db
from app.models import AccessTokenRecord, AuthorizationCode, RefreshToken
from app.models.clock import now
from app.security.secrets import digest


def find_code(code: str, client_id: str) -> AuthorizationCode | None:
    if not code or len(code) > 200:
        return None
    return db.session.scalar(
        select(AuthorizationCode).where(
            AuthorizationCode.code_hash == digest(code), AuthorizationCode.client_id == client_id
        )
    )


def consume_code(code: AuthorizationCode) -> bool:
    """Mark the code used; False if another request used it first (a replay)."""
    result = db.session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.id == code.id, AuthorizationCode.used_at.is_(None))
        .values(used_at=now())
    )
    return result.rowcount == 1


def find_refresh_token(token: str) -> RefreshToken | None:
    if not token or len(token) > 200:
        return None
    return db.session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest(token)))


def consume_refresh_token(token: RefreshToken) -> bool:
    """Rotate: mark used; False if it was already used or revoked (reuse)."""
    result = db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))
        .values(used_at=now())
    )
    return result.rowcount == 1


def consume_unused_child(parent: RefreshToken, grace_seconds: int) -> bool:
    """A retried rotation: consume the child of `parent` nobody has used, if `parent` was rotated within the window.

    Two conditional UPDATEs. The first locks the parent row, only while its rotation is recent and its family
    unrevoked, so retries of one token queue up there and each sees the child the previous one left (READ
    COMMITTED: every statement sees what committed before it). The second consumes that child only if it is
    still unused. False: outside the window, revoked, or the child was used, so it is a reuse after all.
    """
    moment = now()
    claimed = db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == parent.id, RefreshToken.revoked_at.is_(None),
               RefreshToken.used_at >= moment - grace_seconds)
        .values(used_at=RefreshToken.used_at)  # the row lock is the point
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    consumed = db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.parent_id == parent.id, RefreshToken.used_at.is_(None),
               RefreshToken.revoked_at.is_(None))
        .values(used_at=moment)
        .execution_options(synchronize_session=False)
    )
    return consumed.rowcount > 0


def revoke_family(family_id: str) -> None:
    """Revoke every refresh and access token descending from one grant, and commit."""
    moment = now()
    # Rows are locked in id order, parents before children, as a retried rotation locks them: no deadlock.
    # A rotation holding one of them commits its successor while this statement waits for the row, and that
    # successor is not in the statement's snapshot: sweep again until a pass finds nothing left to revoke.
    family = (
        select(RefreshToken.id)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .order_by(RefreshToken.id)
        .with_for_update()
    )
    while db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.id.in_(family.scalar_subquery()), RefreshToken.revoked_at.is_(None))
        .values(revoked_at=moment)
        .execution_options(synchronize_session=False)
    ).rowcount:
        pass
    db.session.execute(
        update(AccessTokenRecord)
        .where(AccessTokenRecord.family_id == family_id, AccessTokenRecord.revoked_at.is_(None))
        .values(revoked_at=moment)
    )
    db.session.commit()


def record_access_token(jti: str, family_id: str | None, client_id: str, expires_at: int) -> None:
    db.session.add(AccessTokenRecord(jti=jti, family_id=family_id, client_id=client_id, expires_at=expires_at))


def revoke_access_token(jti: str, client_id: str, expires_at: int) -> None:
    """One upsert, so concurrent revocations of the same jti cannot collide."""
    insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    statement = insert(AccessTokenRecord).values(jti=jti, client_id=client_id, expires_at=expires_at, revoked_at=now())
    statement = statement.on_conflict_do_update(
        index_elements=[AccessTokenRecord.jti],
        set_={"revoked_at": func.coalesce(AccessTokenRecord.revoked_at, statement.excluded.revoked_at)},
    )
    db.session.execute(statement)
    db.session.commit()


def is_access_token_revoked(jti: str) -> bool:
    revoked = db.session.scalar(select(AccessTokenRecord.revoked_at).where(AccessTokenRecord.jti == jti))
    return revoked is not None
