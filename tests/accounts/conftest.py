"""Self-service accounts: the mailed links, read from the outbox the pages wrote them to."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import OutboxMessage
from app.web import self_service

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "a long and unusual passphrase"


def mails(app: Flask, to: str | None = None, template: str | None = None) -> list[OutboxMessage]:
    with app.app_context():
        query = db.session.query(OutboxMessage).order_by(OutboxMessage.id)
        found = [m for m in query if (to is None or m.recipient == to) and (template is None or m.template == template)]
        db.session.expunge_all()
        return found


def link_in(message: OutboxMessage) -> str:
    """The path and query of the message's one link (on the configured issuer)."""
    match = re.search(r"http://127\.0\.0\.1:\d+(/[^\s]*\?token=[A-Za-z0-9_-]{43})", message.text_body)
    assert match, message.text_body
    return match.group(1)


def code_in(message: OutboxMessage) -> str:
    match = re.search(r"\b([0-9]{6})\b", message.text_body)
    assert match
    return match.group(1)


def csrf(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = CSRF.search(page)
    assert match, page
    return match.group(1)


@pytest.fixture(autouse=True)
def quick_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """No floor on the answer time of the mail-sending forms, except in the test that measures it."""
    monkeypatch.setattr(self_service, "MIN_ANSWER_SECONDS", 0.0)


@pytest.fixture
def post(client: FlaskClient) -> Callable[..., object]:
    """POST a form with the CSRF token of the page at `page` (default: the path itself)."""

    def send(path: str, page: str | None = None, **form: str):
        return client.post(path, data={"csrf_token": csrf(client, page or path), **form})

    return send


@pytest.fixture
def sign_up(post: Callable[..., object]) -> Callable[..., object]:
    def register(email: str, password: str = PASSWORD, **form: str):
        return post("/signup", page="/login", email=email, password=password, confirm_password=password, **form)

    return register
