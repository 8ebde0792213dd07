"""Token families: the codes and refresh tokens of one grant and the access tokens issued from them.

A family begins with an authorization code and lives on through refresh-token rotation. Every consumption is
one conditional UPDATE, and each use case is one transaction owned here: redeeming a code (start) or rotating a
refresh token (rotate) writes the consumption, the new refresh token, the access token's jti and the audit event
together, or nothing at all. The refresh grant consumes the token as it finds it (consume_presented_refresh_token)
in a transaction of its own that rotate joins, so that the common case finds and consumes in one round trip. Family attributes (family_id, resource, auth_time, amr, login_session_id) travel
from the row consumed to the row written.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import BindParameter, CompoundSelect, CursorResult, Executable, Select, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased, contains_eager

from app.extensions import Model, db
from app.models import AccessTokenRecord, AuthorizationCode, LoginSession, RefreshToken, User
from app.models.clock import now
from app.security.secrets import digest
from app.services import audit, client_cache
from app.services.new_rows import insert_together
from app.services.transaction import transaction


@dataclass(frozen=True)
class Issued:
    """A token response as storage keeps it: the access token by its jti only, the refresh token as a digest."""

    jti: str
    scope: str
    expires_at: int  # the access token's exp
    refresh_token: str | None
    refresh_expires_at: int


class AlreadyUsed(Exception):
    """Another request consumed the code or refresh token first: a replay (RFC 6749 §4.1.2, RFC 9700 §4.14.2)."""


def create_code(
    code: str,
    *,
    client_id: str,
    user: User,
    login_session: LoginSession,
    redirect_uri: str,
    scope: str,
    resource: str | None,
    nonce: str | None,
    code_challenge: str,
    code_challenge_method: str,
    lifetime_seconds: int,
    acr: str | None = None,
) -> None:
    """RFC 6749 §4.1.2: a new family's code, stored as a digest and bound to everything the request carried and
    to the sign-in it was issued in (auth_time, amr, the login session), and to the acr value its ID token must
    carry when the request asked for one as essential (None: the level the sign-in reached)."""
    moment = now()
    with transaction():
        db.session.add(AuthorizationCode(
            code_hash=digest(code), client_id=client_id, user_id=user.id, redirect_uri=redirect_uri, scope=scope,
            resource=resource, nonce=nonce, code_challenge=code_challenge,
            code_challenge_method=code_challenge_method, auth_time=login_session.auth_time, amr=login_session.amr,
            idp=login_session.idp, acr=acr,
            family_id=str(uuid.uuid4()), login_session_id=login_session.id, created_at=moment,
            expires_at=moment + lifetime_seconds,
        ))


def find_code(code: str, client_id: str) -> AuthorizationCode | None:
    if not code or len(code) > 200:
        return None
    return db.session.scalar(
        select(AuthorizationCode).where(
            AuthorizationCode.code_hash == digest(code), AuthorizationCode.client_id == client_id
        )
    )


def find_refresh_token(token: str) -> RefreshToken | None:
    token_hash = _presented_hash(token)
    if token_hash is None:
        return None
    return db.session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))


def consume_presented_refresh_token(token: str, *, client_id: str, signed_in_after: int) -> RefreshToken | None:
    """RFC 9700 §4.14.2: find and consume, in one conditional UPDATE, a refresh token that may be used now: the
    client's, unused, unrevoked, unexpired, of an active person and of a family signed in after `signed_in_after`.

    None, with nothing written, otherwise (find_refresh_token tells unknown, expired and reused apart). A helper:
    it joins the refresh grant's transaction, which rotate(consumed=True) commits with the successor.
    """
    token_hash = _presented_hash(token)
    if token_hash is None:
        return None
    return db.session.scalar(_consume_presented(db.engine.dialect.name), {
        "presented_hash": token_hash, "presenting_client": client_id, "moment": now(),
        "signed_in_after": signed_in_after})


@functools.cache
def _consume_presented(dialect: str) -> Executable:
    """consume_presented_refresh_token's statement, built once per dialect: building it took twice as long as
    running it. Its parameters are bound by name, and no name may be one of the UPDATE's columns."""
    moment: BindParameter[int] = bindparam("moment")
    consume = (
        update(RefreshToken)
        .where(RefreshToken.token_hash == bindparam("presented_hash"),
               RefreshToken.client_id == bindparam("presenting_client"),
               RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > moment,
               RefreshToken.auth_time > bindparam("signed_in_after"),
               select(User.id).where(User.id == RefreshToken.user_id, User.is_active).exists())
        .values(used_at=moment)
    )
    if dialect != "postgresql":
        return consume.returning(RefreshToken)  # its user is a second look-up, on first use
    # The person comes back with the token in the same round trip. SQLite cannot put an UPDATE in a WITH clause.
    consumed = aliased(RefreshToken, consume.returning(*RefreshToken.__table__.c).cte("consumed"))
    return (select(consumed).join(consumed.user).options(contains_eager(consumed.user))
            .execution_options(populate_existing=True))


def start(code: AuthorizationCode, issued: Issued, *, resource: str | None) -> None:
    """RFC 6749 §4.1.2: redeem the code, once, and start its family with what was issued for it (the refresh token
    bound to `resource`), in one transaction. AlreadyUsed, with nothing written, if another request redeemed it."""
    with transaction():
        if not consume_code(code):
            raise AlreadyUsed
        rows = _issued_rows("token.issued", "authorization_code", code, issued)
        if issued.refresh_token is not None:
            rows.append(_next_refresh_token(issued.refresh_token, issued, code, scope=issued.scope,
                                            resource=resource))
        insert_together(*rows)


def rotate(old: RefreshToken, issued: Issued, *, scope: str, grace_seconds: int, consumed: bool = False) -> None:
    """RFC 9700 §4.14.2: replace `old` with the refresh token issued for it (keeping `scope`), in one transaction.

    A retry of a rotation within grace_seconds (its response was lost) replaces the child nobody has used instead,
    and the family lives on. AlreadyUsed, with nothing written, if old was used otherwise: a reuse. `consumed`:
    consume_presented_refresh_token consumed `old` already, in the transaction this joins.
    """
    with transaction():
        if consumed or consume_refresh_token(old):
            retried = False
        elif grace_seconds and consume_unused_child(old, grace_seconds):
            retried = True  # the consumed child is a reuse if it turns up later
        else:
            raise AlreadyUsed
        rows = _issued_rows("token.refreshed", "refresh_token", old, issued)
        if issued.refresh_token is not None:
            rows.append(_next_refresh_token(issued.refresh_token, issued, old, scope=scope, resource=old.resource,
                                            parent=old))
        insert_together(*rows)
        if retried:
            audit.record("token.refresh_retried", user_sub=old.user.sub, client_id=old.client_id,
                         family_id=old.family_id, jti=issued.jti)


def revoke_reused(used: AuthorizationCode | RefreshToken, token_type: str) -> None:
    """RFC 9700 §4.14.2, RFC 6749 §4.1.2: a code or refresh token presented after its use revokes its family."""
    with transaction():
        audit.record("token.reuse_detected", outcome="failure", user_sub=used.user.sub, client_id=used.client_id,
                     token_type=token_type, family_id=used.family_id)
        revoke_families([used.family_id])


def revoke(token: RefreshToken) -> None:
    """RFC 7009 §2.1: a refresh token takes its whole family, and the family's access tokens, with it."""
    with transaction():
        audit.record("token.revoked", user_sub=token.user.sub, client_id=token.client_id,
                     token_type="refresh_token", family_id=token.family_id)
        revoke_families([token.family_id])


def revoke_access_token(jti: str, *, client_id: str, user_sub: str, expires_at: int) -> None:
    """RFC 7009 §2.1: one access token, by its jti; one upsert, so concurrent revocations cannot collide."""
    insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    statement = insert(AccessTokenRecord).values(jti=jti, client_id=client_id, expires_at=expires_at, revoked_at=now())
    statement = statement.on_conflict_do_update(
        index_elements=[AccessTokenRecord.jti],
        set_={"revoked_at": func.coalesce(AccessTokenRecord.revoked_at, statement.excluded.revoked_at)},
    )
    with transaction():
        audit.record("token.revoked", user_sub=user_sub, client_id=client_id, token_type="access_token", jti=jti)
        db.session.execute(statement)


def is_access_token_revoked(jti: str) -> bool:
    """Through the client cache, which remembers only the jtis found unrevoked and forgets them on any revocation."""
    return client_cache.cached("unrevoked_jti", jti, _unrevoked) is None


def _unrevoked(jti: str) -> bool | None:
    revoked = db.session.scalar(select(AccessTokenRecord.revoked_at).where(AccessTokenRecord.jti == jti))
    return True if revoked is None else None


# --- helpers: they join the transaction of the use case above that calls them ---------------------------------

def consume_code(code: AuthorizationCode) -> bool:
    """Mark the code used; False if another request used it first (a replay)."""
    return _rows(
        update(AuthorizationCode)
        .where(AuthorizationCode.id == code.id, AuthorizationCode.used_at.is_(None))
        .values(used_at=now())
    ) == 1


def consume_refresh_token(token: RefreshToken) -> bool:
    """Rotate: mark used; False if it was already used or revoked (reuse)."""
    return _rows(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))
        .values(used_at=now())
    ) == 1


def consume_unused_child(parent: RefreshToken, grace_seconds: int) -> bool:
    """A retried rotation: consume the child of `parent` nobody has used, if `parent` was rotated within the window.

    Two conditional UPDATEs. The first locks the parent row, only while its rotation is recent and its family
    unrevoked, so retries of one token queue up there and each sees the child the previous one left (READ
    COMMITTED: every statement sees what committed before it). The second consumes that child only if it is
    still unused. False: outside the window, revoked, or the child was used, so it is a reuse after all.
    """
    moment = now()
    claimed = _rows(
        update(RefreshToken)
        .where(RefreshToken.id == parent.id, RefreshToken.revoked_at.is_(None),
               RefreshToken.used_at >= moment - grace_seconds)
        .values(used_at=RefreshToken.used_at)  # the row lock is the point
        .execution_options(synchronize_session=False)
    )
    if claimed != 1:
        return False
    return _rows(
        update(RefreshToken)
        .where(RefreshToken.parent_id == parent.id, RefreshToken.used_at.is_(None),
               RefreshToken.revoked_at.is_(None))
        .values(used_at=moment)
        .execution_options(synchronize_session=False)
    ) > 0


def _issued_rows(event: str, grant_type: str, family: AuthorizationCode | RefreshToken,
                 issued: Issued) -> list[Model]:
    """The access token's jti, so that revoking the family reaches it, and the audit event, by identifiers only."""
    return [
        AccessTokenRecord(jti=issued.jti, family_id=family.family_id, client_id=family.client_id,
                          expires_at=issued.expires_at),
        audit.entry(event, user_sub=family.user.sub, client_id=family.client_id, grant_type=grant_type,
                    jti=issued.jti, family_id=family.family_id, scope=issued.scope),
    ]


def _next_refresh_token(token: str, issued: Issued, family: AuthorizationCode | RefreshToken, *, scope: str,
                        resource: str | None, parent: RefreshToken | None = None) -> RefreshToken:
    """The next refresh token of `family` (the code or refresh token consumed), which keeps its sign-in."""
    return RefreshToken(
        token_hash=digest(token), family_id=family.family_id, client_id=family.client_id, user_id=family.user_id,
        scope=scope, resource=resource, auth_time=family.auth_time, amr=family.amr,
        login_session_id=family.login_session_id, parent_id=parent.id if parent else None,
        expires_at=issued.refresh_expires_at,
    )


def revoke_families(families: list[str] | Select[tuple[str]] | CompoundSelect[tuple[str]]) -> None:
    """Every refresh and access token of these families (ids, or a query of them that each statement runs
    afresh). A helper: it joins the transaction of the use case that calls it."""
    moment = now()
    # Rows are locked in id order, parents before children, as a retried rotation locks them: no deadlock.
    # A rotation holding one of them commits its successor while this statement waits for the row, and that
    # successor is not in the statement's snapshot: sweep again until a pass finds nothing left to revoke.
    # Then no rotation can add an access token: each needs an unrevoked refresh token.
    live = (
        select(RefreshToken.id)
        .where(RefreshToken.family_id.in_(families), RefreshToken.revoked_at.is_(None))
        .order_by(RefreshToken.id)
        .with_for_update()
    )
    while _rows(
        update(RefreshToken)
        .where(RefreshToken.id.in_(live.scalar_subquery()), RefreshToken.revoked_at.is_(None))
        .values(revoked_at=moment)
        .execution_options(synchronize_session=False)
    ):
        pass
    db.session.execute(
        update(AccessTokenRecord)
        .where(AccessTokenRecord.family_id.in_(families), AccessTokenRecord.revoked_at.is_(None))
        .values(revoked_at=moment)
        .execution_options(synchronize_session=False)
    )


def _presented_hash(token: str) -> str | None:
    """The digest a presented refresh token is stored under; None for what cannot be one (empty, or too long)."""
    return digest(token) if token and len(token) <= 200 else None


def _rows(statement: Executable) -> int:
    """The rows an UPDATE matched (Session.execute is typed for SELECT; DML gives a CursorResult)."""
    return cast(CursorResult[Any], db.session.execute(statement)).rowcount
