"""Mail fixtures: a real SMTP server on loopback, and the app's mail settings pointed at it per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from app.extensions import db
from app.mail.transports import Transport, transport_for
from app.models import OutboxMessage
from tests.mail.smtp_server import Certificate, SmtpServer, self_signed
from tests.processes import free_port


@pytest.fixture
def smtp(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """A plain SMTP server, and OSTIARY_SMTP_URL pointing at it."""
    server = SmtpServer(free_port()).start()
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{server.port}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def mail_settings(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set mail settings on the shared app for one test only."""

    def configure(**settings: object) -> None:
        for name, value in settings.items():
            monkeypatch.setitem(app.config, name, value)

    configure(SMTP_TIMEOUT_SECONDS=5, MAIL_RETRY_INITIAL_SECONDS=60, MAIL_RETRY_MAX_SECONDS=3600, MAIL_MAX_ATTEMPTS=10)
    return configure


@pytest.fixture
def transport(app: Flask) -> Callable[[], Transport]:
    return lambda: transport_for(app.config)


def queued() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.query(OutboxMessage).order_by(OutboxMessage.id))


def eml_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.eml")) if directory.exists() else []
