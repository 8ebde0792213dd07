"""Pooled connections: one idle past the window is pinged and replaced if dead; one in use a moment ago is not
pinged, and if it died its statement fails as a disconnect and the next checkout connects afresh."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import exc, text

from app import database_pool
from app.extensions import db


def backend_pid() -> int:
    with db.engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def terminate(pid: int) -> None:
    dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.fixture
def one_pooled_connection(app, ctx):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a server that can end a pooled connection: PostgreSQL")
    db.session.remove()
    db.engine.dispose()  # start from one connection, whatever earlier tests left in the pool


def test_an_idle_connection_the_server_ended_is_replaced_before_use(one_pooled_connection, monkeypatch):
    pid = backend_pid()
    terminate(pid)
    monkeypatch.setattr(database_pool, "ALIVE_BYPASS_SECONDS", 0.0)  # as if it had idled past the window
    assert backend_pid() != pid


def test_a_connection_used_a_moment_ago_is_used_without_a_ping(one_pooled_connection):
    pid = backend_pid()
    terminate(pid)
    with pytest.raises(exc.OperationalError) as failed:
        backend_pid()
    assert failed.value.connection_invalidated  # a disconnect: the pool lets go of it
    assert backend_pid() != pid
