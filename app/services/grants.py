"""Storage side of codes and token families. Every consumption is one conditional UPDATE."""

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


def revoke_family(family_id: str) -> None:
    """Revoke every refresh and access token descending from one grant, and commit."""
    moment = now()
    db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=moment)
    )
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
