"""Fixtures: a real database (SQLite, or PostgreSQL from OSTIARY_TEST_DATABASE_URL), a live HTTP server."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from tests.factories import Factories

# A local HTTPS host for Client ID Metadata Documents (tests/protocol, tests/browser).
pytest_plugins = ["tests.metadata_host"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return os.environ.get("OSTIARY_TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def port() -> int:
    return _free_port()


@pytest.fixture(scope="session")
def mail_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where .eml files go with no SMTP server configured: never the checkout's mail/."""
    return tmp_path_factory.mktemp("mail") / "outbox"


@pytest.fixture(scope="session")
def app(database_url: str, keys_dir: Path, port: int, mail_dir: Path) -> Iterator[Flask]:
    application = create_app(
        {
            "DATABASE_URL": database_url,
            "KEYS_DIR": str(keys_dir),
            "MAIL_DIR": str(mail_dir),
            "ISSUER": f"http://127.0.0.1:{port}",
            "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            # Cheap argon2 in tests only; production defaults follow RFC 9106.
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_KIB": 1024,
            "ARGON2_PARALLELISM": 1,
        }
    )
    application.testing = True
    with application.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        else:
            db.drop_all()
            with db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()  # the real migrations, not create_all
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(app: Flask, port: int) -> Iterator[str]:
    """The app over real HTTP on loopback, for third-party clients (Authlib, PyJWT)."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


@pytest.fixture(autouse=True)
def clean_database(app: Flask) -> Iterator[None]:
    """Each test starts from empty tables and fresh rate-limit counters."""
    yield
    app.extensions["ostiary.throttle"].reset()
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app: Flask):
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def make(app: Flask) -> Factories:
    return Factories(app)
