"""Usernames are unique ignoring case, as sign-in and the CLI look them up; an operator's reference to a person
(sub, email or username) that could mean two accounts is refused, never guessed."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy.exc import IntegrityError

from app import create_app
from app.cli import cli
from app.errors import ConflictError, NotFoundError, ValidationError
from app.extensions import db
from app.services.users import create_user, find_person, update_user
from tests.factories import DEFAULT_PASSWORD
from tests.flows import Browser
from tests.ops.nodes import postgres_database
from tests.settings import installation

OTHER_PASSWORD = "another long passphrase"


def test_the_cli_refuses_a_username_taken_in_another_case(runner, make):
    make.user("one@example.com", username="case1")
    result = runner.invoke(cli, ["users", "create", "two@example.com", "--username", "CASE1", "--password-stdin"],
                           input=OTHER_PASSWORD)
    assert result.exit_code == 1 and "username already exists" in result.stderr


def test_the_database_refuses_a_case_variant_even_when_the_check_is_skipped(ctx, make):
    """The index, not the check in Python, is what holds under concurrency."""
    make.user("one@example.com", username="case1")
    with pytest.raises(IntegrityError):
        db.session.execute(sa.text(
            "INSERT INTO users (sub, email, username, roles, scope, is_service_account, is_active, email_verified,"
            " created_at, updated_at) VALUES (:sub, 'two@example.com', 'CASE1', '[]', '', false, true, false, 0, 0)"
        ), {"sub": str(uuid.uuid4())})
    db.session.rollback()


def test_each_username_signs_in_only_its_own_account(live_server, make):
    make.user("one@example.com", username="case1")
    make.user("two@example.com", username="case2", password=OTHER_PASSWORD)
    assert Browser(live_server).login("CASE1").status_code == 302
    assert Browser(live_server).login("CASE1", OTHER_PASSWORD).status_code == 401
    assert Browser(live_server).login("Case2", OTHER_PASSWORD).status_code == 302


def test_find_person_by_sub_email_or_username(ctx, make):
    person = make.user("Pat@Example.com", username="pat")
    for ref in (person.sub, "pat@example.com", "PAT@example.com ", "Pat"):
        assert find_person(ref.strip()).sub == person.sub
    with pytest.raises(NotFoundError):
        find_person("nobody")
    robot = make.service_account("robot")
    with pytest.raises(NotFoundError):
        find_person(robot.sub)


def test_a_reference_that_names_two_accounts_is_refused(ctx, make):
    """A username may look like a sub (letters, digits and '-'): the reference then means two people."""
    victim = make.user("victim@example.com")
    make.user("squatter@example.com", username=victim.sub)
    with pytest.raises(ValidationError, match="more than one") as refused_ref:
        find_person(victim.sub)
    assert "victim@example.com" in refused_ref.value.description
    assert "squatter@example.com" in refused_ref.value.description
    assert find_person("victim@example.com").sub == victim.sub


@pytest.mark.parametrize("command", [["show"], ["set-password", "--password-stdin"], ["disable"], ["delete", "--yes"],
                                     ["enable"], ["update", "--name", "X"]])
def test_the_cli_acts_on_no_one_when_a_reference_is_ambiguous(runner, app, live_server, make, command):
    victim = make.user("victim@example.com")
    make.user("squatter@example.com", username=victim.sub)
    result = runner.invoke(cli, ["users", command[0], victim.sub, *command[1:]], input=OTHER_PASSWORD)
    assert result.exit_code == 1 and "more than one" in result.stderr, result.output
    assert "victim@example.com" in result.stderr and "squatter@example.com" in result.stderr
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT email, name, is_active FROM users ORDER BY id")).all()
    assert [tuple(row) for row in rows] == [("victim@example.com", None, True), ("squatter@example.com", None, True)]
    assert Browser(live_server).login("victim@example.com").status_code == 302


def test_api_key_owners_are_resolved_the_same_way(runner, make):
    victim = make.user("victim@example.com", scope="api:read")
    make.user("squatter@example.com", username=victim.sub, scope="api:read")
    result = runner.invoke(cli, ["api-keys", "create", "--owner", victim.sub, "--name", "x", "--scope", "api:read"])
    assert result.exit_code == 1 and "more than one" in result.stderr, result.output


# The migration, on a database of its own (PostgreSQL when the suite runs on it).

USERS_0003 = sa.table(
    "users", sa.column("sub"), sa.column("email"), sa.column("username"), sa.column("is_active"),
    sa.column("email_verified"), sa.column("created_at"), sa.column("updated_at"),
)


@pytest.fixture
def fresh_database(database_url: str, tmp_path) -> Iterator[str]:
    if database_url.startswith("postgresql"):
        with postgres_database("usernames") as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'fresh.db'}"


def test_the_migration_names_colliding_accounts_and_then_enforces_uniqueness(fresh_database, keys_dir, caplog):
    application = create_app(installation(fresh_database, keys_dir))
    subs = [str(uuid.uuid4()) for _ in range(4)]
    try:
        with application.app_context():
            upgrade(revision="0003")
            db.session.execute(USERS_0003.insert(), [
                {"sub": sub, "email": email, "username": username, "is_active": True, "email_verified": False,
                 "created_at": 0, "updated_at": 0}
                for sub, email, username in zip(subs, ["a@example.com", "b@example.com", "c@example.com",
                                                       "d@example.com"], ["case1", "CASE1", "other", None])
            ])
            db.session.commit()
            upgrade(revision="0004a")  # the migration before this one

            with caplog.at_level(logging.ERROR), pytest.raises(SystemExit):
                upgrade(revision="0005a")
            message = caplog.text
            assert "case1" in message and subs[0] in message and subs[1] in message
            assert "a@example.com" in message and "b@example.com" in message
            assert subs[2] not in message and "ostiary users update" in message
            assert db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0004a"

            # The operator renames one of them; the migration then runs.
            db.session.execute(USERS_0003.update().where(USERS_0003.c.sub == subs[1]).values(username="case1-b"))
            db.session.commit()
            upgrade(revision="0005a")
            with pytest.raises(IntegrityError):
                db.session.execute(USERS_0003.update().where(USERS_0003.c.sub == subs[2]).values(username="Case1"))
            db.session.rollback()
            downgrade(revision="0003")
    finally:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


def test_service_errors_for_collisions_name_the_field(ctx, make):
    make.user("one@example.com", username="case1")
    with pytest.raises(ConflictError) as raised:
        create_user("two@example.com", DEFAULT_PASSWORD, username="Case1")
    assert raised.value.field == "username"
    other = make.user("three@example.com")
    with pytest.raises(ConflictError) as raised:
        update_user(db.session.get(type(other), other.id), {"username": "CASE1"}, actor=None)
    assert raised.value.field == "username"
