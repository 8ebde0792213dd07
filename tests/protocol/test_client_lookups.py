"""Client authentication reads each credential once: the Basic header decoded once, an API key parsed once, and a
failed authentication looks its client up once, the audit of the failure included."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from app.extensions import db
from app.oauth import requests as oauth_requests
from app.services import api_keys

FORM = "application/x-www-form-urlencoded"


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


@contextmanager
def client_queries(app) -> Iterator[list[str]]:
    """The SELECTs from the clients table made meanwhile."""
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM clients" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    calls: list[int] = []
    original: Callable[..., Any] = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


@pytest.mark.parametrize("how", ["client_secret_basic", "client_secret_post"])
def test_a_failed_client_authentication_looks_the_client_up_once(app, client, make, how):
    registered = make.machine()
    data = {"grant_type": "client_credentials"}
    headers = {}
    if how == "client_secret_basic":
        headers = basic(registered.client_id, "wrong")
    else:
        data |= {"client_id": registered.client_id, "client_secret": "wrong"}
    with client_queries(app) as queries:
        response = client.post("/oauth/token", data=data, headers=headers, content_type=FORM)
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"
    assert len(queries) == 1


def test_the_basic_header_is_decoded_once(client, make, monkeypatch):
    registered = make.machine()
    decoded = counting(monkeypatch, oauth_requests, "basic_credentials")
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                           headers=basic(registered.client_id, "wrong"), content_type=FORM)
    assert response.status_code == 401  # the failure path reads the client_id from the header again
    assert len(decoded) == 1


@pytest.mark.parametrize("how", ["client_secret_basic", "client_secret_post"])
def test_an_api_key_is_parsed_once(client, make, monkeypatch, how):
    owner = make.user("owner@example.com", scope="api:read")
    key = make.api_key(owner, scope="api:read")
    parsed = counting(monkeypatch, api_keys, "parse")
    data = {"grant_type": "client_credentials"}
    headers = {}
    if how == "client_secret_basic":
        headers = basic(key.client_id, key.client_secret or "")
    else:
        data |= {"client_id": key.client_id, "client_secret": key.client_secret or ""}
    response = client.post("/oauth/token", data=data, headers=headers, content_type=FORM)
    assert response.status_code == 200, response.json
    assert len(parsed) == 1
