"""services.token_families: each use case (redeem a code, rotate, revoke) is one transaction that commits whole or
leaves nothing behind. Driven directly, on the real database, as the grants drive it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import AccessTokenRecord, AuditEvent, AuthorizationCode, LoginSession, RefreshToken, User
from app.security.secrets import digest, generate_secret
from app.services import token_families
from app.services.revocation import revoke_issued
from app.services.token_families import AlreadyUsed, Issued
from app.services.transaction import transaction
from tests.processes import eventually

SCOPE = "openid offline_access"


def count(model: type, *where) -> int:
    """Rows committed, seen through a connection of its own (not the session under test)."""
    with db.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(model).where(*where))


def events(name: str) -> int:
    return count(AuditEvent, AuditEvent.event == name)


def issued(jti: str | None = None, refresh: bool = True) -> Issued:
    moment = int(time.time())
    return Issued(jti=jti or generate_secret(16), scope=SCOPE, expires_at=moment + 600,
                  refresh_token=generate_secret(32) if refresh else None, refresh_expires_at=moment + 3600)


@pytest.fixture
def signed_in(ctx, make) -> Iterator[tuple[User, str, LoginSession]]:
    """A user, a client and the sign-in session a code is issued in."""
    user = db.session.get(User, make.user("family@example.com").id)
    client_id = make.client().client_id
    moment = int(time.time())
    login_session = LoginSession(session_hash=digest(generate_secret(32)), user_id=user.id, auth_time=moment - 5,
                                 amr="pwd", created_at=moment - 5, last_seen_at=moment, expires_at=moment + 3600)
    db.session.add(login_session)
    db.session.commit()
    yield user, client_id, login_session


def new_code(signed_in: tuple[User, str, LoginSession], resource: str | None = None) -> AuthorizationCode:
    user, client_id, login_session = signed_in
    code = generate_secret(32)
    token_families.create_code(
        code, client_id=client_id, user=user, login_session=login_session, redirect_uri="http://127.0.0.1/cb",
        scope=SCOPE, resource=resource, nonce="n-1", code_challenge="c" * 43, code_challenge_method="S256",
        lifetime_seconds=60)
    found = token_families.find_code(code, client_id)
    assert found is not None
    return found


def test_a_code_is_committed_bound_to_its_sign_in_as_a_new_family(signed_in):
    _, client_id, login_session = signed_in
    first, second = new_code(signed_in), new_code(signed_in, resource="https://api.example.com")
    assert count(AuthorizationCode, AuthorizationCode.client_id == client_id) == 2
    assert (first.auth_time, first.amr, first.login_session_id) == (
        login_session.auth_time, "pwd", login_session.id)
    assert (first.resource, second.resource) == (None, "https://api.example.com")
    assert first.family_id != second.family_id


def test_start_redeems_the_code_and_commits_the_family_whole(signed_in):
    user, client_id, login_session = signed_in
    code = new_code(signed_in)
    first = issued()

    token_families.start(code, first, resource="https://api.example.com")

    assert count(AuthorizationCode, AuthorizationCode.id == code.id, AuthorizationCode.used_at.is_not(None)) == 1
    [row] = db.session.scalars(select(RefreshToken).where(RefreshToken.family_id == code.family_id)).all()
    assert row.token_hash == digest(first.refresh_token or "")
    assert (row.client_id, row.user_id, row.scope, row.resource) == (client_id, user.id, SCOPE,
                                                                     "https://api.example.com")
    assert (row.auth_time, row.amr, row.login_session_id, row.parent_id) == (code.auth_time, "pwd",
                                                                             login_session.id, None)
    assert row.expires_at == first.refresh_expires_at
    assert count(AccessTokenRecord, AccessTokenRecord.jti == first.jti,
                 AccessTokenRecord.family_id == code.family_id) == 1
    assert events("token.issued") == 1


def test_start_without_a_refresh_token_records_the_access_token_only(signed_in):
    code = new_code(signed_in)
    token_families.start(code, issued(refresh=False), resource=None)
    assert count(RefreshToken) == 0
    assert count(AccessTokenRecord, AccessTokenRecord.family_id == code.family_id) == 1


def test_a_code_redeemed_twice_writes_nothing_the_second_time(signed_in):
    code = new_code(signed_in)
    token_families.start(code, issued(), resource=None)
    with pytest.raises(AlreadyUsed):
        token_families.start(code, issued(), resource=None)
    assert (count(RefreshToken), count(AccessTokenRecord), events("token.issued")) == (1, 1, 1)


def test_a_failed_start_rolls_the_redemption_back_with_everything_else(signed_in):
    """The access token's jti collides at commit: the code is not used, and no row of the family is written."""
    taken = issued()
    token_families.start(new_code(signed_in), taken, resource=None)
    code = new_code(signed_in)

    with pytest.raises(IntegrityError):
        token_families.start(code, issued(jti=taken.jti), resource=None)

    assert count(AuthorizationCode, AuthorizationCode.id == code.id, AuthorizationCode.used_at.is_(None)) == 1
    assert count(RefreshToken, RefreshToken.family_id == code.family_id) == 0
    assert events("token.issued") == 1
    token_families.start(code, issued(), resource=None)  # nothing was consumed: it can still be redeemed
    assert events("token.issued") == 2


def started(signed_in) -> tuple[AuthorizationCode, RefreshToken]:
    code = new_code(signed_in, resource="https://api.example.com")
    first = issued()
    token_families.start(code, first, resource="https://api.example.com")
    old = token_families.find_refresh_token(first.refresh_token or "")
    assert old is not None
    return code, old


def test_rotate_consumes_the_old_token_and_adds_its_child_to_the_family(signed_in):
    code, old = started(signed_in)
    second = issued()

    token_families.rotate(old, second, scope="openid", grace_seconds=0)

    assert count(RefreshToken, RefreshToken.id == old.id, RefreshToken.used_at.is_not(None)) == 1
    child = token_families.find_refresh_token(second.refresh_token or "")
    assert child is not None
    assert (child.family_id, child.parent_id, child.scope, child.resource) == (
        code.family_id, old.id, "openid", "https://api.example.com")
    assert (child.auth_time, child.amr, child.login_session_id) == (old.auth_time, old.amr, old.login_session_id)
    assert count(AccessTokenRecord, AccessTokenRecord.family_id == code.family_id) == 2
    assert events("token.refreshed") == 1


def test_a_retry_within_the_grace_window_replaces_the_unused_child(signed_in):
    _, old = started(signed_in)
    lost, retried = issued(), issued()
    token_families.rotate(old, lost, scope=SCOPE, grace_seconds=30)

    token_families.rotate(old, retried, scope=SCOPE, grace_seconds=30)

    replaced = token_families.find_refresh_token(lost.refresh_token or "")
    live = token_families.find_refresh_token(retried.refresh_token or "")
    assert replaced is not None and replaced.used_at is not None
    assert live is not None and live.used_at is None and live.parent_id == old.id
    assert (events("token.refreshed"), events("token.refresh_retried")) == (2, 1)


def test_a_reuse_outside_the_grace_window_writes_nothing(signed_in):
    _, old = started(signed_in)
    token_families.rotate(old, issued(), scope=SCOPE, grace_seconds=0)
    with pytest.raises(AlreadyUsed):
        token_families.rotate(old, issued(), scope=SCOPE, grace_seconds=0)
    assert (count(RefreshToken), count(AccessTokenRecord), events("token.refreshed")) == (2, 2, 1)


def test_a_failed_rotation_rolls_the_consumption_back_with_everything_else(signed_in):
    code, old = started(signed_in)
    taken = db.session.scalar(select(AccessTokenRecord.jti).where(AccessTokenRecord.family_id == code.family_id))

    with pytest.raises(IntegrityError):
        token_families.rotate(old, issued(jti=taken), scope=SCOPE, grace_seconds=0)

    assert count(RefreshToken, RefreshToken.id == old.id, RefreshToken.used_at.is_(None)) == 1
    assert (count(RefreshToken), events("token.refreshed")) == (1, 0)
    token_families.rotate(old, issued(), scope=SCOPE, grace_seconds=0)
    assert events("token.refreshed") == 1


@pytest.mark.parametrize("use_case", ["revoke", "revoke_reused"])
def test_revoking_takes_the_whole_family_and_is_audited_with_it(signed_in, use_case):
    code, old = started(signed_in)
    token_families.rotate(old, issued(), scope=SCOPE, grace_seconds=0)

    if use_case == "revoke":
        token_families.revoke(old)
    else:
        token_families.revoke_reused(old, "refresh_token")

    assert count(RefreshToken, RefreshToken.family_id == code.family_id, RefreshToken.revoked_at.is_(None)) == 0
    assert count(AccessTokenRecord, AccessTokenRecord.family_id == code.family_id,
                 AccessTokenRecord.revoked_at.is_(None)) == 0
    assert events("token.revoked" if use_case == "revoke" else "token.reuse_detected") == 1


def test_an_access_token_is_revoked_by_its_jti_once(signed_in):
    _, client_id, _ = signed_in
    for _ in range(2):
        token_families.revoke_access_token("jti-1", client_id=client_id, user_sub="sub-1",
                                           expires_at=int(time.time()) + 60)
    assert token_families.is_access_token_revoked("jti-1")
    assert count(AccessTokenRecord, AccessTokenRecord.jti == "jti-1") == 1
    assert events("token.revoked") == 2


@pytest.mark.parametrize("revocation", ["person", "family"])
def test_a_revocation_takes_the_successor_a_racing_rotation_commits(app, signed_in, revocation):
    """A revocation (of the person, as a password change does; of the family, RFC 7009) meets a rotation that has
    consumed the old refresh token but not yet committed its child: the revocation waits for the row, and the
    child it could not see must not outlive it. PostgreSQL only: SQLite serialises writers."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs concurrent writers")
    user, _, _ = signed_in
    code, old = started(signed_in)
    child, child_jti = generate_secret(32), generate_secret(16)
    moment = int(time.time())
    with db.engine.connect() as rotation:  # the rotation, paused between its consumption and its commit
        rotation.execute(update(RefreshToken).where(RefreshToken.id == old.id).values(used_at=moment))
        rotation.execute(insert(RefreshToken).values(
            token_hash=digest(child), family_id=code.family_id, client_id=old.client_id, user_id=user.id,
            scope=SCOPE, auth_time=old.auth_time, amr="pwd", login_session_id=old.login_session_id,
            parent_id=old.id, issued_at=moment, expires_at=moment + 3600))
        rotation.execute(insert(AccessTokenRecord).values(jti=child_jti, family_id=code.family_id,
                                                          client_id=old.client_id, expires_at=moment + 600))

        def revoke() -> None:
            with app.app_context(), transaction():
                if revocation == "person":
                    revoke_issued(db.session.get(User, user.id))
                else:
                    token_families.revoke(db.session.get(RefreshToken, old.id))

        revoking = threading.Thread(target=revoke)
        revoking.start()
        waiting_for_the_row(rotation)
        rotation.commit()
        revoking.join(timeout=30)

    assert not revoking.is_alive()
    assert count(RefreshToken, RefreshToken.family_id == code.family_id, RefreshToken.revoked_at.is_(None)) == 0
    assert count(AccessTokenRecord, AccessTokenRecord.family_id == code.family_id,
                 AccessTokenRecord.revoked_at.is_(None)) == 0


def waiting_for_the_row(holder: Connection) -> None:
    """Until another backend waits for a lock this connection holds."""
    holder_pid = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()
    # Autocommit: PostgreSQL keeps pg_stat_activity as it was at its first read in a transaction, so polling inside
    # one would never see a backend that starts waiting afterwards.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as observer:
        eventually(lambda: observer.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
            {"pid": holder_pid}).scalar_one(), interval=0.02, what="the revocation waiting for the rotation's row")
