"""`ostiary mail drain | send-test | list | requeue` against a real SMTP server."""

from __future__ import annotations

import json

from sqlalchemy import update

from app.cli import cli
from app.extensions import db
from app.models import OutboxMessage
from app.services import outbox
from tests.mail.conftest import eml_files, queued
from tests.processes import free_port


def queue(count: int) -> None:
    for n in range(count):
        outbox.enqueue(f"user{n}@example.com", "test_message", {})
    db.session.commit()


def test_drain_delivers_everything_due_and_says_how_much(ctx, runner, smtp, mail_settings):
    queue(3)
    result = runner.invoke(cli, ["mail", "drain", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"sent": 3, "deferred": 0, "failed": 0}
    assert len(smtp.inbox.wait_for(3)) == 3 and queued() == []


def test_drain_without_smtp_writes_eml_files(ctx, runner, mail_dir):
    queue(1)
    result = runner.invoke(cli, ["mail", "drain"])
    assert result.exit_code == 0 and f"Sent 1, deferred 0, failed 0 (through files in {mail_dir})." in result.output
    assert len(eml_files(mail_dir)) >= 1


def test_send_test_goes_through_the_outbox_at_once(ctx, runner, smtp, mail_settings):
    result = runner.invoke(cli, ["mail", "send-test", "ops@example.com", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["outcome"] == "sent"
    [received] = smtp.inbox.wait_for(1)
    assert received.message["Subject"] == "Test message from Ostiary" and received.rcpt_tos == ["ops@example.com"]


def test_send_test_to_a_down_relay_says_why_and_leaves_the_message_queued(ctx, runner, mail_settings):
    mail_settings(SMTP_URL=f"smtp://user:hunter2-secret@127.0.0.1:{free_port()}")
    result = runner.invoke(cli, ["mail", "send-test", "ops@example.com", "--json"])
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["outcome"] == "deferred" and "ConnectionRefusedError" in body["error"]
    assert "hunter2" not in result.output and queued()[0].status == "pending"


def test_send_test_refuses_a_header_injection_without_a_traceback(ctx, runner):
    result = runner.invoke(cli, ["mail", "send-test", "ops@example.com\r\nBcc: x@evil.example"])
    assert result.exit_code == 1 and "recipient must not contain line breaks" in result.output
    assert "Traceback" not in result.output and queued() == []


def test_failed_messages_are_listed_and_requeued_by_an_operator(ctx, runner, smtp, mail_settings):
    queue(2)
    db.session.execute(update(OutboxMessage).where(OutboxMessage.recipient == "user1@example.com")
                       .values(status="failed", attempts=10, last_error="SMTPDataError: 554 rejected"))
    db.session.commit()

    listed = json.loads(runner.invoke(cli, ["mail", "list", "--status", "failed", "--json"]).output)
    assert [(m["recipient"], m["attempts"], m["last_error"]) for m in listed] == [
        ("user1@example.com", 10, "SMTPDataError: 554 rejected")]
    assert "user1@example.com" in runner.invoke(cli, ["mail", "list"]).output
    assert runner.invoke(cli, ["mail", "requeue"]).exit_code == 2  # ids or --all-failed, never everything by accident

    result = runner.invoke(cli, ["mail", "requeue", "--all-failed", "--json"])
    assert json.loads(result.output) == {"requeued": 1}
    assert {(m.status, m.attempts) for m in queued()} == {("pending", 0)}
    assert runner.invoke(cli, ["mail", "drain"]).exit_code == 0
    assert len(smtp.inbox.wait_for(2)) == 2
    assert runner.invoke(cli, ["mail", "list"]).output.strip() == "The outbox is empty."
