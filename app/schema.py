"""The database schema against this release's migrations, and what an operator should do about a database error."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app.config import sqlite_path

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version"

CURRENT = "current"  # at this release's latest migration
UNINITIALISED = "uninitialised"  # no schema at all: `ostiary init` never ran on this database
OUTDATED = "outdated"  # an earlier migration: this release's `ostiary init` has not run yet
# A migration this release does not know: a later release's `ostiary init` ran, as a rolling upgrade does before
# it restarts the nodes still running this release. Its migrations keep this release working, so it serves.
NEWER = "newer"
# PostgreSQL's SQLSTATEs (appendix A): the database named in the URL does not exist; a table does not exist.
INVALID_CATALOG_NAME = "3D000"
UNDEFINED_TABLE = "42P01"
MISSING_DATABASE = re.compile(r'FATAL: +database ".*" does not exist')


class SchemaNotReady(Exception):
    """The database cannot serve this release: the message says what to do."""


@functools.cache
def _migrations() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS_DIR))


def latest_revision() -> str:
    """The head of migrations/versions (one line of migrations: one head)."""
    head = _migrations().get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The database's migration; None before the first. Read directly: alembic's MigrationContext would log two
    lines for every readiness probe."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def schema_state(connection: Connection) -> tuple[str, str | None]:
    """(state, the database's revision): compared with this release's migrations."""
    revision = current_revision(connection)
    if revision is None:
        return UNINITIALISED, None
    if revision == latest_revision():
        return CURRENT, revision
    try:
        known = _migrations().get_revision(revision) is not None
    except CommandError:
        known = False
    return (OUTDATED if known else NEWER), revision


def not_ready_reason(state: str, revision: str | None) -> str | None:
    """Why a database in this state cannot serve this release, with the fix; None when it can."""
    if state == UNINITIALISED:
        return "the database is not initialised: run `ostiary init`"
    if state == OUTDATED:
        return f"the database schema is at {revision}, this release needs {latest_revision()}: run `ostiary init`"
    return None


def check_before_serving(url: str, engine_options: dict[str, object]) -> None:
    """Refuse to serve a database that is missing or behind this release (SchemaNotReady); an unreachable one
    is no reason not to start: the nodes become ready when it answers (README "Database outages")."""
    database_file = sqlite_path(url)
    if database_file is not None and not database_file.exists():
        # Connecting would create it, readable by all: `ostiary init` creates it private (app/__init__.py).
        raise SchemaNotReady(not_ready_reason(UNINITIALISED, None))
    engine = create_engine(url, **engine_options)
    try:
        with engine.connect() as connection:
            reason = not_ready_reason(*schema_state(connection))
    except SQLAlchemyError as exc:
        reason = failure_hint(exc, url) if is_missing_database(exc) else None
    finally:
        engine.dispose()
    if reason:
        raise SchemaNotReady(reason)


def is_missing_database(exc: SQLAlchemyError) -> bool:
    """The database named in OSTIARY_DATABASE_URL does not exist (PostgreSQL), or its file cannot be created."""
    cause = getattr(exc, "orig", None) or exc
    return _no_such_database(cause) or _no_database_file(cause)


def _no_such_database(cause: BaseException) -> bool:
    # Refused at connection time, psycopg's error carries the server's message but not always its SQLSTATE.
    return getattr(cause, "sqlstate", None) == INVALID_CATALOG_NAME or bool(MISSING_DATABASE.search(str(cause)))


def _no_database_file(cause: BaseException) -> bool:
    return "unable to open database file" in str(cause)


def failure_hint(exc: SQLAlchemyError, url: str = "") -> str:
    """One line for an operator: the database is missing, not initialised, or another failure (never the
    statement or its parameters)."""
    cause = getattr(exc, "orig", None) or exc
    parsed = make_url(url or "sqlite://")
    if _no_such_database(cause):
        return (f"the database {parsed.database!r} does not exist on {parsed.host or 'localhost'}: create it "
                f"(e.g. `createdb {parsed.database}`), then run `ostiary init`")
    if _no_database_file(cause):
        return f"cannot open the SQLite database {parsed.database}: its directory must exist and be writable"
    if getattr(cause, "sqlstate", None) == UNDEFINED_TABLE or "no such table" in str(cause):
        return "the database is not initialised: run `ostiary init`"
    return f"database error: {str(cause).splitlines()[0]}"
