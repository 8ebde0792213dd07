"""Security fixtures: apps with their own settings on the session's database, and a signed-in test client."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.extensions import db
from tests.factories import DEFAULT_PASSWORD

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
CHEAP_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 1024, "ARGON2_PARALLELISM": 1}


@pytest.fixture
def build_app(database_url: str, keys_dir: Path, port: int) -> Iterator[Callable[..., Flask]]:
    """create_app(overrides) on the session's database and keys: its own settings, rate-limit counters and argon2."""
    built: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        settings = {
            "DATABASE_URL": database_url,
            "KEYS_DIR": str(keys_dir),
            "ISSUER": f"http://127.0.0.1:{port}",
            "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            **CHEAP_ARGON2,
            **overrides,
        }
        application = create_app(settings)
        application.testing = True
        built.append(application)
        return application

    yield build
    for application in built:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


def csrf_of(page: str) -> str:
    found = CSRF_INPUT.search(page)
    assert found, "page has no CSRF token"
    return found.group(1)


def sign_in(client: FlaskClient, login: str, password: str = DEFAULT_PASSWORD, next_url: str = "/"):
    """POST the sign-in form the way a browser does: GET it for the CSRF token first."""
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"login": login, "password": password, "csrf_token": token, "next": next_url})
