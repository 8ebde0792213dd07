"""The delivery loop: woken by a commit in its process, polling otherwise, stopping cleanly; a page that queues
mail answers at once whatever the relay does; `ostiary serve` runs one loop per worker and stops them on SIGTERM."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask, request

from app.extensions import csrf, db
from app.serve import SERVERS
from app.services import outbox
from app.services.mail_worker import DeliveryWorker
from tests.mail.conftest import queued
from tests.mail.smtp_server import SmtpServer
from tests.ops.nodes import migrated_app
from tests.processes import eventually, free_port, ostiary_env, serve

LINK = "http://127.0.0.1:8000/verify-email?token=" + "V" * 43


@pytest.fixture
def page_app(build_app: Callable[..., Flask]) -> Callable[..., Flask]:
    """A second app on the test database with a page that queues a verification message, as sign-up will."""

    def make(**settings: object) -> Flask:
        page = build_app(**settings)

        @page.post("/signup-like")
        @csrf.exempt
        def signup_like() -> str:
            outbox.enqueue(request.form["email"], "verify_email", {"link": LINK, "valid_for": 3600})
            db.session.commit()
            return "Check your mail"

        return page

    return make


def post_signup(page: Flask) -> float:
    started = time.monotonic()
    response = page.test_client().post("/signup-like", data={"email": "alice@example.com"})
    assert response.status_code == 200 and response.text == "Check your mail"
    return time.monotonic() - started


def test_a_commit_wakes_the_loop_at_once_and_stop_is_prompt(ctx, page_app):
    server = SmtpServer(free_port()).start()
    page = page_app(SMTP_URL=f"smtp://127.0.0.1:{server.port}", MAIL_POLL_SECONDS=120)
    worker = DeliveryWorker(page).start()
    try:
        time.sleep(0.2)  # the first round found nothing; the next poll is two minutes away
        post_signup(page)
        assert len(server.inbox.wait_for(1, timeout=5)) == 1  # woken by the commit, not by polling
    finally:
        started = time.monotonic()
        assert worker.stop(5) is True
        assert time.monotonic() - started < 1
        server.stop()
    assert queued() == []


@pytest.mark.slow
@pytest.mark.parametrize("outage", ["refused", "silent"])
def test_a_down_relay_never_slows_or_fails_the_page_and_the_message_goes_out_when_it_returns(
        ctx, page_app, outage):
    port = free_port()
    silent = socket.create_server(("127.0.0.1", port)) if outage == "silent" else None  # accepts, never answers
    page = page_app(SMTP_URL=f"smtp://127.0.0.1:{port}", SMTP_TIMEOUT_SECONDS=2, MAIL_POLL_SECONDS=1,
                    MAIL_RETRY_INITIAL_SECONDS=1, MAIL_RETRY_MAX_SECONDS=2)
    worker = DeliveryWorker(page).start()
    server = SmtpServer(port)
    try:
        assert post_signup(page) < 0.5
        eventually(lambda: any(m.attempts and m.status == "pending" for m in queued()), what="a failed attempt")
        assert post_signup(page) < 0.5  # while the loop is stuck on the silent relay, too
        [error] = {m.last_error for m in queued() if m.last_error}
        assert ("ConnectionRefusedError" if outage == "refused" else "timed out") in error

        if silent is not None:
            silent.close()
        server.start()  # the relay is back
        assert len(server.inbox.wait_for(2, timeout=15)) == 2
        eventually(lambda: queued() == [], what="an empty outbox")
    finally:
        worker.stop(5)
        server.stop()
        if silent is not None:
            silent.close()


@pytest.mark.slow
@pytest.mark.parametrize("http_server", SERVERS)
def test_ostiary_serve_runs_a_loop_per_worker_and_stops_them_on_sigterm(tmp_path: Path, http_server: str):
    server = SmtpServer(free_port()).start()
    port = free_port()
    database = f"sqlite:///{tmp_path / 'serve.db'}"
    env = ostiary_env(database, tmp_path / "keys", port, SMTP_URL=f"smtp://127.0.0.1:{server.port}",
                      MAIL_POLL_SECONDS=1, LOG_LEVEL="INFO")
    log_path = tmp_path / "serve.log"
    try:
        with migrated_app(database, tmp_path / "keys", f"http://127.0.0.1:{port}") as setup:
            with setup.app_context():
                for n in range(10):
                    outbox.enqueue(f"user{n}@example.com", "test_message", {})
                db.session.commit()
            with serve(env, log_path, workers=2, server=http_server):
                assert len(server.inbox.wait_for(10, timeout=20)) == 10
                with setup.app_context():  # queued by another process: found by polling
                    outbox.enqueue("late@example.com", "test_message", {})
                    db.session.commit()
                assert len(server.inbox.wait_for(11, timeout=20)) == 11
    finally:
        server.stop()
    recipients = sorted(r.rcpt_tos[0] for r in server.inbox.received)
    assert recipients == sorted(["late@example.com"] + [f"user{n}@example.com" for n in range(10)])  # once each
    log = log_path.read_text()
    assert log.count('"mail delivery started"') == 2 and log.count('"mail delivery stopped"') == 2, log[-3000:]
