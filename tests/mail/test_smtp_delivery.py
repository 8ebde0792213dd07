"""SMTP delivery against a real server (aiosmtpd): STARTTLS, implicit TLS, AUTH, refusals, back-off, lapsed
claims, and no message sent twice by concurrent delivery loops (CI runs this on PostgreSQL)."""

from __future__ import annotations

import random
import threading
import time
from urllib.parse import quote

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import AuditEvent, OutboxMessage
from app.services import outbox
from app.services.mail_delivery import deliver_due, deliver_one, lease_seconds, retry_delay
from tests.mail.conftest import queued
from tests.mail.smtp_server import PASSWORD, USER, SmtpServer
from tests.processes import free_port

LINK = "http://127.0.0.1:8000/reset?token=" + "R" * 43
CREDENTIALS = f"{USER}:{quote(PASSWORD, safe='')}"  # RFC 3986 userinfo: the password's space, /, : and @ escaped


def queue(count: int = 1, to: str = "alice@example.com") -> list[int]:
    messages = [outbox.enqueue(to, "password_reset", {"link": LINK, "valid_for": 1800}) for _ in range(count)]
    db.session.commit()
    return [message.id for message in messages]


def audit_events(name: str) -> list[AuditEvent]:
    return db.session.query(AuditEvent).filter_by(event=name).order_by(AuditEvent.id).all()


def test_a_message_is_delivered_with_every_header_and_both_parts(ctx, smtp, mail_settings, transport):
    [message_id] = queue()
    stored_id = queued()[0].message_id

    assert deliver_one(transport()).outcome == "sent"

    [received] = smtp.inbox.wait_for(1)
    assert received.rcpt_tos == ["alice@example.com"] and received.mail_from == "no-reply@localhost"
    message = received.message
    assert (message["From"], message["To"]) == ("Ostiary <no-reply@localhost>", "alice@example.com")
    assert message["Subject"] == "Reset your Ostiary password" and message["Message-ID"] == stored_id
    assert message["Date"] and message.get_content_type() == "multipart/alternative"
    assert LINK in message.get_body(("plain",)).get_content() and LINK in message.get_body(("html",)).get_content()
    assert queued() == [] and audit_events("mail.sent")[0].details["outbox_id"] == message_id


def test_starttls_and_auth_with_a_password_that_needs_escaping(ctx, app, certificate, mail_settings, transport):
    server = SmtpServer(free_port(), starttls=certificate, auth=True).start()
    try:
        mail_settings(SMTP_URL=f"smtp://{CREDENTIALS}@127.0.0.1:{server.port}?starttls=1&cafile={certificate.cafile}")
        queue()
        assert deliver_one(transport()).outcome == "sent"
        [received] = server.inbox.wait_for(1)
        assert received.tls and received.authenticated
    finally:
        server.stop()


def test_implicit_tls(ctx, certificate, mail_settings, transport):
    server = SmtpServer(free_port(), implicit_tls=certificate, auth=True).start()
    try:
        mail_settings(SMTP_URL=f"smtps://{CREDENTIALS}@127.0.0.1:{server.port}?cafile={certificate.cafile}")
        queue()
        attempt = deliver_one(transport())
        assert attempt.outcome == "sent", attempt
        assert server.inbox.wait_for(1)[0].tls
    finally:
        server.stop()


@pytest.mark.parametrize(("url", "error"), [
    # A relay that offers no STARTTLS is never used in plain text.
    ("smtp://127.0.0.1:{port}?starttls=1", "SMTPNotSupportedError"),
    # A certificate nobody vouches for is refused (no cafile: the system's CAs).
    ("smtps://127.0.0.1:{tls_port}", "SSLCertVerificationError"),
    ("smtp://127.0.0.1:{auth_port}?starttls=1&cafile={cafile}", "SMTPSenderRefused: 530"),  # AUTH required
])
def test_no_downgrade_no_untrusted_certificate_no_unauthenticated_send(ctx, smtp, certificate, mail_settings,
                                                                       transport, url, error):
    tls = SmtpServer(free_port(), implicit_tls=certificate).start()
    auth = SmtpServer(free_port(), starttls=certificate, auth=True).start()
    try:
        mail_settings(SMTP_URL=url.format(port=smtp.port, tls_port=tls.port, auth_port=auth.port,
                                          cafile=certificate.cafile))
        queue()
        attempt = deliver_one(transport())
        assert attempt.outcome == "deferred" and error in attempt.error, attempt
        assert smtp.inbox.received == tls.inbox.received == auth.inbox.received == []
    finally:
        tls.stop()
        auth.stop()


def test_a_wrong_password_is_retried_not_lost_and_never_recorded(ctx, certificate, mail_settings, transport):
    server = SmtpServer(free_port(), starttls=certificate, auth=True).start()
    try:
        mail_settings(SMTP_URL=f"smtp://{USER}:wrong-password@127.0.0.1:{server.port}?starttls=1"
                               f"&cafile={certificate.cafile}")
        queue()
        attempt = deliver_one(transport())
        assert attempt.outcome == "deferred" and "SMTPAuthenticationError: 535" in attempt.error
        assert "wrong-password" not in attempt.error and queued()[0].status == "pending"
    finally:
        server.stop()


def test_retry_delays_grow_exponentially_with_jitter_up_to_the_cap():
    rng = random.Random(7)
    for attempt in range(1, 15):
        ceiling = min(3600, 30 * 2 ** (attempt - 1))
        delays = {retry_delay(attempt, 30, 3600, rng) for _ in range(200)}
        assert ceiling / 2 - 1 <= min(delays) and max(delays) <= ceiling
        assert len(delays) > 10  # jittered, not one fixed value
    assert retry_delay(10_000, 30, 3600) <= 3600


def test_a_temporary_refusal_backs_off_then_fails_at_the_bound_and_an_operator_requeues_it(
        ctx, smtp, mail_settings, transport):
    mail_settings(MAIL_MAX_ATTEMPTS=3, MAIL_RETRY_INITIAL_SECONDS=60)
    smtp.inbox.data_reply = "451 4.3.0 Try again later"
    [message_id] = queue()

    for attempt in (1, 2):
        before = int(time.time())
        result = deliver_one(transport())
        assert result.outcome == "deferred" and "451 4.3.0 Try again later" in result.error
        [row] = queued()
        ceiling = 60 * 2 ** (attempt - 1)
        assert row.status == "pending" and row.attempts == attempt
        assert before + ceiling // 2 - 1 <= row.next_attempt_at <= int(time.time()) + ceiling
        assert deliver_one(transport()) is None  # not due before its time
        db.session.execute(update(OutboxMessage).values(next_attempt_at=0))
        db.session.commit()

    assert deliver_one(transport()).outcome == "failed"
    [row] = queued()
    assert row.status == "failed" and row.attempts == 3 and "451" in row.last_error
    assert deliver_one(transport()) is None  # kept, visible, not retried by itself
    assert [e.outcome for e in audit_events("mail.deferred") + audit_events("mail.failed")] == ["failure"] * 3

    smtp.inbox.data_reply = None
    assert outbox.requeue(all_failed=True, actor="cli") == 1
    db.session.commit()
    assert deliver_one(transport()).outcome == "sent"
    assert len(smtp.inbox.wait_for(1)) == 1 and queued() == []
    assert audit_events("mail.requeued")[0].details == {"actor": "cli", "count": 1, "messages": "all failed"}
    assert message_id == audit_events("mail.sent")[0].details["outbox_id"]


def test_a_permanent_refusal_fails_at_once_and_does_not_stop_the_others(ctx, smtp, mail_settings, transport):
    smtp.inbox.rcpt_reply = "550 5.1.1 No such user"
    queue(3)

    assert deliver_due(transport()) == {"failed": 3}
    assert {(m.status, m.attempts) for m in queued()} == {("failed", 1)}
    assert "SMTPRecipientsRefused: [550]" in queued()[0].last_error


def test_a_down_relay_ends_the_round_without_spending_the_others_tries(ctx, app, mail_settings, transport):
    mail_settings(SMTP_URL=f"smtp://127.0.0.1:{free_port()}")  # nothing listens there
    queue(5)

    assert deliver_due(transport()) == {"deferred": 1}
    assert sorted(m.attempts for m in queued()) == [0, 0, 0, 0, 1]
    assert "ConnectionRefusedError" in next(m for m in queued() if m.attempts).last_error


def test_a_claim_lapses_when_its_worker_dies_and_the_late_worker_cannot_overwrite_the_outcome(
        ctx, smtp, mail_settings, transport):
    queue()
    dead = outbox.claim(lease_seconds())  # a worker that claimed, then died before sending
    db.session.commit()
    assert dead is not None and deliver_one(transport()) is None  # claimed: nobody else takes it

    db.session.execute(update(OutboxMessage).values(next_attempt_at=int(time.time()) - 1))  # the lease lapses
    db.session.commit()
    assert deliver_one(transport()).outcome == "sent"
    assert outbox.defer(dead, "late", 0) is False and outbox.mark_sent(dead) is False
    assert len(smtp.inbox.wait_for(1)) == 1 and queued() == []


def test_two_concurrent_delivery_loops_never_send_one_message_twice(app, ctx, smtp, mail_settings, transport):
    count = 40
    queue(count)
    expected = sorted(m.message_id for m in queued())
    barrier = threading.Barrier(2)
    outcomes: list[dict[str, int]] = []

    def loop() -> None:
        with app.app_context():
            barrier.wait()
            try:
                outcomes.append(dict(deliver_due(transport())))
            finally:
                db.session.remove()

    loops = [threading.Thread(target=loop) for _ in range(2)]
    for thread in loops:
        thread.start()
    for thread in loops:
        thread.join(60)

    received = smtp.inbox.wait_for(count)
    assert sorted(r.message["Message-ID"] for r in received) == expected  # each exactly once
    assert sum(o.get("sent", 0) for o in outcomes) == count and queued() == []
    assert all(o.get("sent", 0) > 0 for o in outcomes), outcomes  # both loops did deliver


def test_postgresql_claims_skip_locked_rows_instead_of_waiting(app, ctx, mail_settings):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers")
    first, second = queue(2)
    with db.engine.connect() as other:
        # Another node's claim, its transaction still open: row `first` is locked.
        locked = other.execute(update(OutboxMessage).where(OutboxMessage.id == first).values(attempts=7)).rowcount
        assert locked == 1
        started = time.monotonic()
        claimed = outbox.claim(lease_seconds())
        assert claimed.id == second and time.monotonic() - started < 1
        db.session.commit()
        other.rollback()
