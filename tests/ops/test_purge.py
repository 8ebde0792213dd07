"""`ostiary purge`: what goes, what must stay (replay detection, revoked access tokens), in batches, while serving."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from sqlalchemy import event, select

from app.cli import cli
from app.extensions import db
from app.models import AccessTokenRecord, AuditEvent, AuthorizationCode, LoginSession, RefreshToken
from app.models.clock import now
from app.services.housekeeping import purge
from tests.flows import assert_oauth_error, code_for, exchange_code, introspect, refresh, revoke, tokens_for

DAY = 86400
IDLE = 2 * 3600  # SESSION_IDLE_TTL_SECONDS default


class Rows:
    """Rows written straight to the tables, each named by the outcome it expects ("keep ..." or "drop ...")."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.moment = now()

    def code(self, name: str, family: str, expires_in: int, used: bool = False) -> None:
        db.session.add(AuthorizationCode(
            code_hash=name, client_id="c", user_id=self.user_id, redirect_uri="https://rp.example/cb", scope="openid",
            code_challenge="x" * 43, code_challenge_method="S256", auth_time=self.moment, family_id=family,
            created_at=self.moment - 60, expires_at=self.moment + expires_in,
            used_at=self.moment - 30 if used else None,
        ))

    def refresh_token(self, name: str, family: str, expires_in: int, used: bool = False, revoked: bool = False) -> None:
        db.session.add(RefreshToken(
            token_hash=name, family_id=family, client_id="c", user_id=self.user_id, scope="openid",
            auth_time=self.moment, expires_at=self.moment + expires_in,
            used_at=self.moment - 5 if used else None, revoked_at=self.moment - 5 if revoked else None,
        ))

    def access_token(self, name: str, family: str | None, expires_in: int, revoked: bool = False) -> None:
        db.session.add(AccessTokenRecord(jti=name, family_id=family, client_id="c", expires_at=self.moment + expires_in,
                                         revoked_at=self.moment - 5 if revoked else None))

    def session(self, name: str, expires_in: int = 3600, seen_ago: int = 0, revoked: bool = False) -> None:
        db.session.add(LoginSession(
            session_hash=name, user_id=self.user_id, auth_time=self.moment - 60, created_at=self.moment - 60,
            last_seen_at=self.moment - seen_ago, expires_at=self.moment + expires_in,
            revoked_at=self.moment - 5 if revoked else None,
        ))

    def audit(self, name: str, age_days: float) -> None:
        db.session.add(AuditEvent(event=name, at=int(self.moment - age_days * DAY), details={}))


def names(column) -> set[str]:
    return set(db.session.scalars(select(column)))


@pytest.fixture
def rows(make, ctx) -> Rows:
    return Rows(make.user("owner@example.com").id)


def test_purge_deletes_what_nothing_can_use_and_keeps_what_replay_detection_needs(rows, runner):
    live, expired, revoked, access_only, dead = (str(uuid.uuid4()) for _ in range(5))
    rows.refresh_token("keep used, family live", live, 100, used=True)
    rows.refresh_token("keep live", live, 1000)
    rows.refresh_token("drop used, family expired", expired, -10, used=True)
    rows.refresh_token("drop expired", expired, -1)
    rows.refresh_token("drop revoked family", revoked, 1000, used=True, revoked=True)
    rows.refresh_token("drop revoked family, newest", revoked, 1000, revoked=True)
    rows.code("keep unexpired", str(uuid.uuid4()), 30)
    rows.code("drop expired unused", str(uuid.uuid4()), -1)
    rows.code("keep used, family has a live refresh token", live, -100, used=True)
    rows.code("keep used, family has a valid access token", access_only, -100, used=True)
    rows.code("drop used, family dead", dead, -100, used=True)
    rows.access_token("keep valid", access_only, 300)
    rows.access_token("keep revoked until it expires", revoked, 300, revoked=True)
    rows.access_token("drop expired", live, -1)
    rows.access_token("drop expired, revoked", None, -1, revoked=True)
    rows.session("keep live")
    rows.session("drop expired", expires_in=-1)
    rows.session("drop revoked", revoked=True)
    rows.session("drop idle", seen_ago=IDLE + 1)
    rows.audit("keep 89 days old", 89)
    rows.audit("drop 91 days old", 91)
    db.session.commit()

    result = runner.invoke(cli, ["purge", "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "deleted": {"authorization_codes": 2, "refresh_tokens": 4, "access_tokens": 2, "login_sessions": 3,
                    "audit_events": 1, "one_time_tokens": 0, "clients": 0, "users": 0},
        "audit_retention_days": 90,
    }
    db.session.expire_all()
    kept = [name for column in (AuthorizationCode.code_hash, RefreshToken.token_hash, AccessTokenRecord.jti,
                                LoginSession.session_hash, AuditEvent.event) for name in names(column)]
    assert [name for name in kept if name.startswith("drop")] == []
    assert len([name for name in kept if name.startswith("keep")]) == 9


def test_audit_retention_can_be_shortened_per_run_and_is_never_zero(rows, runner):
    rows.audit("keep 10 days old", 10)
    rows.audit("drop 40 days old", 40)
    db.session.commit()

    result = runner.invoke(cli, ["purge", "--audit-days", "30"])
    assert result.exit_code == 0, result.output
    assert "1 audit events" in result.output and "audit kept 30 days" in result.output
    assert "keep 10 days old" in names(AuditEvent.event) and "drop 40 days old" not in names(AuditEvent.event)
    refused = runner.invoke(cli, ["purge", "--audit-days", "0"])
    assert refused.exit_code == 2 and "Traceback" not in refused.output


def test_deletes_run_in_batches_each_committed(rows):
    for n in range(25):
        rows.session(f"drop {n}", expires_in=-1)
    db.session.commit()
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith(("DELETE", "COMMIT")):
            statements.append(statement.split()[0].upper())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert purge(audit_retention_days=90, batch_size=10)["login_sessions"] == 25
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    # login_sessions took three batches (10, 10, 5); every other table one empty batch.
    assert statements.count("DELETE") == 3 + 7


def test_a_reused_refresh_token_still_revokes_its_family_after_a_purge(live_server, make, app):
    make.user("kept@example.com")
    registered = make.client()
    first = tokens_for(live_server, registered, "kept@example.com")
    second = refresh(live_server, registered, first["refresh_token"]).json()
    assert revoke(live_server, registered, second["access_token"]).status_code == 200

    with app.app_context():
        purge(audit_retention_days=90)

    assert introspect(live_server, registered, second["access_token"]) == {"active": False}
    make.rotated_long_ago(first["refresh_token"])  # past the retry grace window
    assert_oauth_error(refresh(live_server, registered, first["refresh_token"]), "invalid_grant")
    assert introspect(live_server, registered, second["refresh_token"]) == {"active": False}


def test_purging_in_a_loop_while_serving_disturbs_no_request(live_server, make, app):
    make.user("busy@example.com")
    registered = make.client()
    stop = threading.Event()
    failures: list[BaseException] = []

    def purge_continuously() -> None:
        with app.app_context():
            try:
                while not stop.is_set():
                    purge(audit_retention_days=1, batch_size=5)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                failures.append(exc)
            finally:
                db.session.remove()

    purger = threading.Thread(target=purge_continuously)
    purger.start()
    try:
        for _ in range(4):
            code, verifier, _ = code_for(live_server, registered, "busy@example.com")
            tokens = exchange_code(live_server, registered, code, verifier).json()
            for _ in range(5):
                response = refresh(live_server, registered, tokens["refresh_token"])
                assert response.status_code == 200, response.text
                tokens = response.json()
            assert introspect(live_server, registered, tokens["access_token"])["active"] is True
    finally:
        stop.set()
        purger.join()
    assert failures == []


def test_sign_ups_nobody_confirmed_go_once_no_link_of_theirs_lives(make, ctx):
    """A pending registration older than a verification link lives, with no live link, can never be completed."""
    from app.models import OneTimeToken, User

    moment, ttl = now(), 24 * 3600  # EMAIL_VERIFICATION_TTL_SECONDS default
    accounts = {
        "drop abandoned": {"pending": True, "age": ttl + 60, "link_expires_in": -60},
        "drop abandoned, no link at all": {"pending": True, "age": ttl + 60, "link_expires_in": None},
        "keep a resent link still lives": {"pending": True, "age": ttl + 60, "link_expires_in": 600},
        "keep recent": {"pending": True, "age": 60, "link_expires_in": None},
        "keep confirmed": {"pending": False, "age": ttl * 10, "link_expires_in": None},
    }
    ids = {name: make.user(f"{name.replace(' ', '-').replace(',', '')}@example.com").id for name in accounts}
    for name, shape in accounts.items():
        row = db.session.get(User, ids[name])
        row.registration_pending, row.created_at, row.name = shape["pending"], moment - shape["age"], name
        if shape["link_expires_in"] is not None:
            db.session.add(OneTimeToken(token_hash=uuid.uuid4().hex, purpose="email_verification", user_id=row.id,
                                        expires_at=moment + shape["link_expires_in"]))
    db.session.commit()

    assert purge(audit_retention_days=90)["users"] == 2
    assert {name for name in names(User.name) if name in accounts} == {n for n in accounts if n.startswith("keep")}
    assert all(token.user_id is not None for token in db.session.scalars(select(OneTimeToken)))
