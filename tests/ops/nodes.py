"""Installations for the operations tests: databases of their own on PostgreSQL, migrated apps beside the nodes
(tests/processes.py's Node), and a node's workers."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask_migrate import upgrade

from app import create_app
from app.extensions import db
from tests.settings import installation

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@contextmanager
def postgres_database(topic: str) -> Iterator[str]:
    """A new, empty database for one test, dropped afterwards; skipped when PostgreSQL is not running here.

    The name is unique per run: other people's test runs on this server must never drop ours.
    """
    name = f"ostiary_{topic}_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc})")
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def migrated_app(database_url: str, keys_dir: Path, issuer: str) -> Iterator[Flask]:
    """An app in this process on the nodes' database and keys, for set-up and checks; migrated like `ostiary init`."""
    app = create_app(installation(database_url, keys_dir, issuer))
    with app.app_context():
        upgrade()
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()  # before the database is dropped


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn workers of a master, from /proc."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []
