"""Queueing mail (issue 10 item 1): in the caller's transaction, rendered from templates, no header injection;
on the embedded default, .eml files and the link in the log."""

from __future__ import annotations

import json
import logging
import random
import stat

import pytest
from sqlalchemy import update

from app.errors import ValidationError
from app.extensions import db
from app.logs import JSONFormatter
from app.models import AuditEvent, OutboxMessage
from app.services import outbox
from app.services.mail_delivery import deliver_due, deliver_one
from app.services.mail_templates import duration, render
from tests.mail.conftest import eml_files, queued

LINK = "http://127.0.0.1:8000/verify-email?token=" + "T" * 43
MESSAGES = {
    "verify_email": {"link": LINK, "code": "123456", "valid_for": 86400},
    "password_reset": {"link": LINK, "valid_for": 1800},
    "email_change": {"link": LINK, "valid_for": 3600},
    "email_change_notice": {"link": LINK, "new_email": "new@example.com"},
    "invitation": {"link": LINK, "valid_for": 7 * 86400},
    "test_message": {},
}


@pytest.mark.parametrize(("template", "context"), MESSAGES.items())
def test_every_template_renders_subject_text_and_html_with_the_product_name_and_link(ctx, app, template, context,
                                                                                   monkeypatch):
    monkeypatch.setitem(app.config, "BRAND_NAME", "Acme Login")
    content = render(template, context)

    assert "Acme Login" in content.subject and "Acme Login" in content.text and "Acme Login" in content.html
    assert "\n" not in content.subject and "Ostiary" not in content.subject + content.text + content.html
    for value in ("link", "code"):
        if value in context:
            assert context[value] in content.text and context[value] in content.html
    assert content.html.startswith("<!doctype html>") and f"<title>{content.subject}</title>" in content.html


def test_templates_escape_html_and_refuse_a_missing_variable(ctx):
    content = render("email_change_notice", {"link": LINK, "new_email": "<b>x@example.com</b>"})
    assert "&lt;b&gt;x@example.com&lt;/b&gt;" in content.html and "<b>x@" not in content.html
    assert "<b>x@example.com</b>" in content.text  # plain text is not HTML
    with pytest.raises(Exception, match="'link' is undefined"):
        render("password_reset", {"valid_for": 60})  # an empty link must never go out
    with pytest.raises(ValueError, match="not a mail template name"):
        render("../base", {})


@pytest.mark.parametrize(("seconds", "text"), [
    (60, "1 minute"), (90, "2 minutes"), (1800, "30 minutes"), (3600, "1 hour"), (5400, "90 minutes"),
    (86400, "1 day"), (172800, "2 days"), (7200, "2 hours"),
])
def test_validity_is_stated_in_the_largest_exact_unit(seconds, text):
    assert duration(seconds) == text


def test_enqueue_joins_the_callers_transaction_and_sends_nothing(ctx, mail_dir):
    files_before = eml_files(mail_dir)
    message = outbox.enqueue("alice@example.com", "password_reset", MESSAGES["password_reset"], user_sub="sub-1")
    assert message.status == "pending" and message.attempts == 0
    db.session.rollback()
    assert queued() == []  # the use case failed: no mail about it

    outbox.enqueue("alice@example.com", "password_reset", MESSAGES["password_reset"], user_sub="sub-1")
    db.session.commit()
    [row] = queued()
    assert (row.recipient, row.template, row.user_sub) == ("alice@example.com", "password_reset", "sub-1")
    assert row.subject == "Reset your Ostiary password" and LINK in row.text_body
    assert row.message_id.startswith("<") and row.message_id.endswith("@localhost>")  # the sender's domain
    assert eml_files(mail_dir) == files_before  # queued, not sent



def test_message_ids_stay_unique_when_the_random_module_is_reseeded(ctx):
    """Message-IDs are unique in the outbox; a test framework or library re-seeding `random` must not repeat one."""
    for _ in range(2):
        random.seed(1234)
        outbox.enqueue("alice@example.com", "password_reset", MESSAGES["password_reset"])
    db.session.commit()
    assert len({row.message_id for row in queued()}) == 2

INJECTIONS = [
    "victim@example.com\r\nBcc: attacker@evil.example",
    "victim@example.com\nBcc: attacker@evil.example",
    "victim@example.com\r",
    "victim@example.com, attacker@evil.example",
    "Victim <victim@example.com>",
    "victim@example.com\x00",
    "victim@@example.com",
    "no-at-sign",
    "",
    "a" * 310 + "@example.com",
]


@pytest.mark.parametrize("recipient", INJECTIONS)
def test_a_recipient_that_is_not_one_plain_address_is_refused_before_anything_is_stored(ctx, recipient):
    with pytest.raises(ValidationError, match="recipient"):
        outbox.enqueue(recipient, "test_message", {})
    db.session.commit()
    assert queued() == []


def test_a_subject_with_a_line_break_is_refused(ctx, app, monkeypatch):
    monkeypatch.setitem(app.config, "BRAND_NAME", "Acme\r\nBcc: attacker@evil.example")  # past config checks
    with pytest.raises(ValidationError, match="subject must not contain line breaks"):
        outbox.enqueue("alice@example.com", "test_message", {})


def test_a_tampered_row_is_never_sent_and_fails_for_good(ctx, smtp, transport):
    outbox.enqueue("alice@example.com", "test_message", {})
    db.session.commit()
    db.session.execute(update(OutboxMessage).values(subject="Hi\r\nBcc: attacker@evil.example"))
    db.session.commit()

    attempt = deliver_one(transport())

    assert attempt.outcome == "failed" and "line breaks" in attempt.error
    assert smtp.inbox.received == [] and queued()[0].status == "failed"


def test_issuer_links_ignore_the_request_host(ctx, app):
    with app.test_request_context("/", headers={"Host": "evil.example"}):
        assert outbox.issuer_link("/reset", token="abc") == f"{app.config['ISSUER']}/reset?token=abc"
    for path in ("reset", "//evil.example/reset"):
        with pytest.raises(ValueError, match="absolute"):
            outbox.issuer_link(path)


def test_without_smtp_mail_becomes_private_eml_files_and_the_link_is_logged(ctx, app, mail_dir, transport, caplog):
    files_before = eml_files(mail_dir)
    outbox.enqueue("alice@example.com", "verify_email", MESSAGES["verify_email"], user_sub="sub-1")
    db.session.commit()

    with caplog.at_level(logging.INFO):
        assert deliver_due(transport()) == {"sent": 1}

    [path] = [p for p in eml_files(mail_dir) if p not in files_before]
    assert stat.S_IMODE(mail_dir.stat().st_mode) == 0o700 and stat.S_IMODE(path.stat().st_mode) == 0o600
    from email import message_from_bytes, policy
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "alice@example.com" and message["From"] == "Ostiary <no-reply@localhost>"
    assert message["Subject"] == "Confirm your email address for Ostiary"
    assert message["Date"] and message["Message-ID"] and message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert LINK in message.get_body(("plain",)).get_content()
    # A newcomer finds the link in the server log, as a field and in the line itself.
    [line] = [r for r in caplog.records if r.name == "app.mail.transports"]
    assert LINK in line.getMessage() and line.links == [LINK]
    assert queued() == []  # delivered: the row and the link in it are gone
    [event] = db.session.query(AuditEvent).filter_by(event="mail.sent").all()
    assert event.user_sub == "sub-1" and event.details["template"] == "verify_email"
    assert "T" * 43 not in json.dumps(event.details)


def test_with_smtp_no_log_line_or_audit_event_carries_the_link_or_code(ctx, smtp, mail_settings, transport, caplog):
    outbox.enqueue("alice@example.com", "verify_email", MESSAGES["verify_email"], user_sub="sub-1")
    db.session.commit()

    with caplog.at_level(logging.DEBUG):
        assert deliver_due(transport()) == {"sent": 1}

    assert len(smtp.inbox.wait_for(1)) == 1
    formatter = JSONFormatter()
    # Everything Ostiary logged (the test server's own "mail.log" shows the whole SMTP dialogue).
    logged = "\n".join(formatter.format(record) for record in caplog.records if record.name != "mail.log")
    assert "mail.sent" in logged
    assert "T" * 43 not in logged and "123456" not in logged and "alice@example.com" not in logged
    details = json.dumps([e.details for e in db.session.query(AuditEvent)])
    assert "T" * 43 not in details and "123456" not in details
