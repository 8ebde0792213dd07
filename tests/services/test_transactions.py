"""One use case, one commit: a service function that fails half-way leaves nothing behind, nested use cases commit
once, and the deliberate separate transactions refuse to run inside a use case."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.errors import ConflictError
from app.extensions import db
from app.models import AuditEvent, LoginSession, User
from app.services import audit, sessions, users
from app.services.transaction import separate_transaction, transaction


@pytest.fixture
def commits(ctx):
    """How many times the session commits while the test runs."""
    counted = []
    listener = lambda session: counted.append(1)
    event.listen(Session, "after_commit", listener)
    yield counted
    event.remove(Session, "after_commit", listener)


def audit_rows(event_name: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.event == event_name))


def test_a_use_case_that_fails_half_way_is_rolled_back_whole(app, make, ctx, monkeypatch):
    """disable_user ends the sessions, revokes what was issued, audits: a failure at the last step undoes the first."""
    person = make.user("half@example.com")
    sessions.start(db.session.get(User, person.id), amr="pwd", auth_time=0, ip="192.0.2.1", user_agent="test")

    def failing_record(*args, **kwargs):
        raise RuntimeError("the audit store failed")

    monkeypatch.setattr(audit, "record", failing_record)
    with pytest.raises(RuntimeError):
        users.disable_user(db.session.get(User, person.id), actor=None)
    db.session.remove()

    assert db.session.get(User, person.id).is_active
    assert db.session.scalars(select(LoginSession.revoked_at)).all() == [None]


def test_a_lost_race_for_an_email_is_a_conflict_and_changes_nothing(make, ctx):
    make.user("taken@example.com")
    person = make.user("mover@example.com", name="Before")
    with pytest.raises(ConflictError):
        users.update_user(db.session.get(User, person.id), {"name": "After", "email": "TAKEN@example.com"}, actor=None)
    db.session.remove()
    assert db.session.get(User, person.id).name == "Before"
    assert audit_rows("user.updated") == 0


def test_use_cases_built_from_use_cases_commit_once(make, ctx, commits):
    """set_password ends sessions, revokes tokens and keys (each a use case of its own when called alone): one commit."""
    person = make.user("once@example.com")
    make.api_key(person)
    commits.clear()
    users.set_password(db.session.get(User, person.id), "a different passphrase", actor=None, revoke_api_keys=True)
    assert len(commits) == 1
    assert audit_rows("user.password_set") == 1 and audit_rows("api_key.revoked") == 1


def test_a_step_called_alone_commits_its_own_work(make, ctx, commits):
    person = make.user("alone@example.com")
    sessions.start(db.session.get(User, person.id), amr="pwd", auth_time=0, ip=None, user_agent=None)
    commits.clear()
    assert sessions.end_all_sessions(db.session.get(User, person.id)) == 1
    assert len(commits) == 1


def test_a_separate_transaction_is_refused_inside_a_use_case(ctx):
    with pytest.raises(RuntimeError, match="separate transaction"), transaction():
        audit.record("test.inside")
        with separate_transaction():
            audit.record("test.separate")
    db.session.remove()
    assert audit_rows("test.inside") == 0 and audit_rows("test.separate") == 0


def test_a_separate_transaction_commits_on_its_own(ctx, commits):
    with separate_transaction():
        audit.record("test.separate")
    assert len(commits) == 1
    db.session.remove()
    assert audit_rows("test.separate") == 1
