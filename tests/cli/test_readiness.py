"""Readiness that tells the truth: a database without this release's schema is not ready, and says why."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.schema import latest_revision
from tests.processes import free_port, ostiary
from tests.settings import installation


def sqlite_app(tmp_path: Path, revision: str | None = None) -> Flask:
    """An app on a SQLite file of its own, migrated to `revision` ("head" for the latest, None for nothing)."""
    application = create_app(installation(f"sqlite:///{tmp_path / 'own.db'}", tmp_path / "keys"))
    if revision:
        with application.app_context():
            upgrade(revision=revision)
    return application


def readyz(application: Flask) -> tuple[int, dict]:
    response = application.test_client().get("/readyz")
    return response.status_code, response.get_json()


def test_a_database_never_initialised_is_not_ready(tmp_path):
    status, body = readyz(sqlite_app(tmp_path))
    assert status == 503 and body["status"] == "unavailable"
    assert body["checks"] == {"database": "uninitialised", "keys": "ok"}
    assert body["reason"] == "the database is not initialised: run `ostiary init`"


def test_a_schema_behind_this_release_is_not_ready(tmp_path):
    status, body = readyz(sqlite_app(tmp_path, "0006a"))
    assert (status, body["checks"]["database"]) == (503, "outdated")
    assert body["reason"] == f"the database schema is at 0006a, this release needs {latest_revision()}: " \
                             "run `ostiary init`"


def test_a_schema_a_later_release_migrated_serves_during_a_rolling_upgrade(tmp_path):
    application = sqlite_app(tmp_path, "head")
    with application.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = '9999z'"))
        db.session.commit()
    assert readyz(application) == (200, {"status": "ok", "checks": {"database": "ok", "keys": "ok"}})


def test_serve_refuses_a_database_never_initialised(env, tmp_path):
    fresh = env | {"OSTIARY_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    result = ostiary(fresh, "serve", "--port", str(free_port()))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "Error: the database is not initialised: run `ostiary init`\n"


def test_serve_refuses_a_schema_behind_this_release(env, tmp_path):
    sqlite_app(tmp_path, "0006a")
    behind = env | {"OSTIARY_DATABASE_URL": f"sqlite:///{tmp_path / 'own.db'}"}
    result = ostiary(behind, "serve", "--port", str(free_port()), "--json")
    assert result.returncode == 1 and "0006a" in result.stderr and '"error"' in result.stderr


def test_commands_on_a_database_never_initialised_say_so(env, tmp_path):
    result = ostiary(env | {"OSTIARY_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}, "users", "list")
    assert (result.returncode, result.stderr) == (1, "Error: the database is not initialised: run `ostiary init`\n")


def test_init_says_what_it_did(env, tmp_path):
    fresh = env | {"OSTIARY_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    assert f"Database initialised: schema {latest_revision()}." in ostiary(fresh, "init").stdout
    assert f"Database already at schema {latest_revision()}." in ostiary(fresh, "init").stdout
    sqlite_app(tmp_path, "0006a")
    behind = env | {"OSTIARY_DATABASE_URL": f"sqlite:///{tmp_path / 'own.db'}"}
    assert f"Database migrated from schema 0006a to {latest_revision()}." in ostiary(behind, "init").stdout


def test_init_on_a_database_that_does_not_exist_says_to_create_it(env, tmp_path):
    missing = env | {"OSTIARY_DATABASE_URL": f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}"}
    result = ostiary(missing, "init")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: cannot open the SQLite database") and "directory must exist" in result.stderr


@pytest.mark.skipif(not os.environ.get("OSTIARY_TEST_DATABASE_URL", "").startswith("postgresql"),
                    reason="needs the PostgreSQL server of OSTIARY_TEST_DATABASE_URL")
def test_init_on_a_postgresql_database_that_does_not_exist_says_to_create_it(env):
    name = f"ostiary_missing_{uuid.uuid4().hex[:8]}"
    url = make_url(os.environ["OSTIARY_TEST_DATABASE_URL"]).set(database=name)
    result = ostiary(env | {"OSTIARY_DATABASE_URL": url.render_as_string(hide_password=False)}, "init")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert f"the database '{name}' does not exist" in result.stderr and f"createdb {name}" in result.stderr
