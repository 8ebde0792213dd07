"""Fixtures: a real database (SQLite, or PostgreSQL from OSTIARY_TEST_DATABASE_URL), a live HTTP server, apps
with settings of their own; and the speed tiers, a marker per directory of slow tests."""

from __future__ import annotations

import itertools
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest.mark.expression import Expression
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import Connection, create_engine, make_url, text
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from tests.factories import Factories
from tests.processes import free_port
from tests.settings import XDIST_WORKER, installation
from tests.site import Site

TESTS = Path(__file__).parent
# The speed tiers (README, "Testing"): every test below these directories gets the marker; fuzz is marked per test.
TIER_OF_DIRECTORY = {"ops": "ops", "browser": "browser", "deploy": "deploy"}
TIERS = ("ops", "fuzz", "browser", "deploy")
# Fixtures that start Ostiary as a process (`ostiary init`, `ostiary serve`), by the directory defining them: every
# test there that uses one is slow. Other slow tests carry the marker themselves.
PROCESS_FIXTURES = {"cli": "env", "federation": "upstream"}
# SQLite waits for the disk at every commit, a dozen milliseconds each; in memory (Linux's /dev/shm) it need not, and
# the default test database never has to outlive the run.
MEMORY_FILES = Path("/dev/shm")

# A local HTTPS host for Client ID Metadata Documents (tests/protocol, tests/browser).
pytest_plugins = ["tests.metadata_host"]


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """A tier's directory that `-m` leaves out whole is not even imported: the inner loop skips importing the mcp SDK
    and collecting a thousand tests in every worker."""
    tier = TIER_OF_DIRECTORY.get(collection_path.name) if collection_path.parent == TESTS else None
    if tier and config.option.markexpr and not _may_select(config.option.markexpr, {tier, "slow"}):
        return True
    return None


def _may_select(markexpr: str, markers: set[str]) -> bool:
    """Whether `-m markexpr` selects some test that carries these markers, whichever others it carries too."""
    expression = Expression.compile(markexpr)
    others = sorted(set(re.findall(r"[A-Za-z_]\w*", markexpr)) - {"and", "or", "not", "True", "False"} - markers)
    subsets = itertools.chain.from_iterable(itertools.combinations(others, size) for size in range(len(others) + 1))
    return any(expression.evaluate(_carrying(markers | set(chosen))) for chosen in subsets)


def _carrying(markers: set[str]) -> Callable[..., bool]:
    """A `-m` matcher for a test that carries exactly these markers, with any arguments."""
    return lambda name, /, **_: name in markers


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tiers' markers; and slow on every test of a tier too, so that `pytest -m "not slow"` is the inner loop."""
    for item in items:
        parts = item.path.relative_to(TESTS).parts if item.path.is_relative_to(TESTS) else ()
        directory = parts[0] if len(parts) > 1 else None
        if directory in TIER_OF_DIRECTORY:
            item.add_marker(TIER_OF_DIRECTORY[directory])
        if PROCESS_FIXTURES.get(directory or "") in getattr(item, "fixturenames", ()):
            item.add_marker("slow")
        if any(item.get_closest_marker(tier) for tier in TIERS):
            item.add_marker("slow")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("OSTIARY_TEST_DATABASE_URL"):
        yield worker_database(url)
    elif os.access(MEMORY_FILES, os.W_OK):
        with tempfile.TemporaryDirectory(prefix="ostiary-tests-", dir=MEMORY_FILES) as home:
            yield f"sqlite:///{Path(home) / 'test.db'}"
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def worker_database(url: str) -> str:
    """The configured database, or in an xdist worker a database of its own beside it (`test_gw1`), created once."""
    if not XDIST_WORKER:
        return url
    configured = make_url(url)
    own = configured.set(database=f"{configured.database}_{XDIST_WORKER}")
    engine = create_engine(configured, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.dialect.name != "postgresql":
                raise pytest.UsageError("OSTIARY_TEST_DATABASE_URL with pytest -n: PostgreSQL only")
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own.database}):
                conn.execute(text(f'CREATE DATABASE "{own.database}"'))
    finally:
        engine.dispose()
    return own.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def mail_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where .eml files go with no SMTP server configured: never the checkout's mail/."""
    return tmp_path_factory.mktemp("mail") / "outbox"


@pytest.fixture(scope="session")
def app(database_url: str, keys_dir: Path, port: int, mail_dir: Path) -> Iterator[Flask]:
    application = create_app(installation(database_url, keys_dir, f"http://127.0.0.1:{port}", MAIL_DIR=str(mail_dir)))
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
    # shutdown() waits for serve_forever's next poll: a twentieth of a second, not its default half.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


@pytest.fixture(scope="session")
def site(app: Flask) -> Site:
    """The app as an HTTP client sees it, in this process: the live server's requests without its socket and thread
    (tests/site.py). Third-party clients take live_server."""
    return Site(app.config["ISSUER"], app)


@pytest.fixture(autouse=True)
def clean_database(app: Flask) -> Iterator[None]:
    """Each test starts from empty tables and fresh rate-limit counters."""
    yield
    app.extensions["ostiary.throttle"].reset()
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            _empty_tables(conn)


def _empty_tables(conn: Connection) -> None:
    """Every row of every table gone, children first, in one transaction."""
    # One call, not one per table: psycopg sends a script of statements as one query when it has no parameters
    # (SQLAlchemy's execute always passes some); sqlite3 runs a script as given, here as one transaction.
    deletes = "; ".join(f'DELETE FROM "{table.name}"' for table in reversed(db.metadata.sorted_tables))
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        driver.execute(deletes)
    else:
        driver.executescript(f"BEGIN; {deletes}; COMMIT")


@pytest.fixture
def build_app(database_url: str, keys_dir: Path, port: int, mail_dir: Path) -> Iterator[Callable[..., Flask]]:
    """create_app(overrides) on the session's database and keys: its own settings, rate-limit counters and argon2."""
    built: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        settings = installation(database_url, keys_dir, f"http://127.0.0.1:{port}", MAIL_DIR=str(mail_dir))
        application = create_app(settings | overrides)
        application.testing = True
        built.append(application)
        return application

    yield build
    for application in built:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


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
