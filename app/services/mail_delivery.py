"""Delivering the outbox: claim a due message, send it, record the outcome; retry with back-off, never lose one.

Each attempt is two separate transactions: the claim (so no other worker takes the message while it is
being sent), then the outcome with its audit event. Delivery is at least once: a worker
that dies after the relay accepted a message but before the second commit sends it again once the
claim lapses, under the same Message-ID.
"""

from __future__ import annotations

import logging
import random
import smtplib
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from flask import current_app

from app.extensions import db
from app.mail.message import Content, UnsafeHeader, build_message
from app.mail.transports import Transport
from app.models.clock import now
from app.models.outbox import OutboxMessage
from app.services import audit, outbox
from app.services.transaction import separate_transaction

log = logging.getLogger(__name__)
SENT, DEFERRED, FAILED = "sent", "deferred", "failed"


@dataclass(frozen=True)
class Attempt:
    message_id: int
    outcome: str  # sent | deferred | failed
    error: str | None = None


def lease_seconds() -> int:
    """How long a claim lasts: every step of an SMTP session (connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA,
    QUIT) may take up to the time-out, and a claim must outlive the slowest send."""
    return 10 * current_app.config["SMTP_TIMEOUT_SECONDS"] + 30


def retry_delay(attempt: int, initial_seconds: int, max_seconds: int, rng: random.Random | None = None) -> int:
    """Exponential back-off with jitter: initial·2^(attempt-1), capped at max, scaled by a random factor in [½, 1].

    The jitter spreads the retries of a backlog (say, after a relay outage) instead of sending them in one burst.
    """
    ceiling = min(max_seconds, initial_seconds * 2 ** min(attempt - 1, 32))
    return max(1, round(ceiling * (rng or random).uniform(0.5, 1.0)))


def is_permanent(exc: Exception) -> bool:
    """RFC 5321 §4.2.1: a 5yz reply to RCPT or DATA is about this message and will not change on retry.

    Every other failure (connection, TLS, AUTH, a 4yz reply) is about the relay or our configuration,
    and may pass once that is fixed.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPDataError):
        return 500 <= exc.smtp_code < 600
    return isinstance(exc, UnsafeHeader)


def describe(exc: Exception) -> str:
    """A short account of the failure for the outbox row and the audit trail: the relay's reply, never the message."""
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{type(exc).__name__}: {exc.smtp_code} {reply}"[:500]
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        return f"SMTPRecipientsRefused: {codes}"
    return f"{type(exc).__name__}: {exc}"[:500]


def deliver_one(transport: Transport, message_id: int | None = None) -> Attempt | None:
    """One attempt at the oldest due message (or the given one); None when nothing is due."""
    # The claim is committed before the send, deliberately: no other worker takes the message while it is in flight.
    with separate_transaction():
        message = outbox.claim(lease_seconds(), message_id)
        if message is not None:
            db.session.expunge(message)  # keep the claim as taken: a reload after the commit could read a retaken lease
    if message is None:
        return None
    try:
        transport.send(build_message(
            sender=outbox.sender(), recipient=message.recipient, message_id=message.message_id,
            created_at=message.created_at,
            content=Content(subject=message.subject, text=message.text_body, html=message.html_body),
        ))
    except (OSError, ValueError) as exc:  # smtplib, socket and ssl errors are OSErrors; UnsafeHeader a ValueError
        with separate_transaction():
            return _record_failure(message, exc)
    with separate_transaction():
        details = _details(message)
        if not outbox.mark_sent(message):
            log.warning("mail claim lapsed during the send; the message may go out twice", extra=details)
        audit.record("mail.sent", user_sub=message.user_sub, **details)
    return Attempt(message.id, SENT)


def deliver_due(transport: Transport, stop: threading.Event | None = None) -> Counter[str]:
    """Attempt every due message, oldest first, until none is due or `stop` is set.

    A retryable failure ends the round: the relay is down or refusing us, and the rest would only
    fail the same way; they wait for the next round instead of spending their tries.
    """
    outcomes: Counter[str] = Counter()
    while stop is None or not stop.is_set():
        attempt = deliver_one(transport)
        if attempt is None:
            break
        outcomes[attempt.outcome] += 1
        if attempt.outcome == DEFERRED:
            break
    return outcomes


def _record_failure(message: OutboxMessage, exc: Exception) -> Attempt:
    config = current_app.config
    error = describe(exc)
    details = _details(message) | {"error": error}
    if is_permanent(exc) or message.attempts >= config["MAIL_MAX_ATTEMPTS"]:
        outbox.fail(message, error)
        audit.record("mail.failed", outcome="failure", user_sub=message.user_sub, **details)
        return Attempt(message.id, FAILED, error)
    retry_at = now() + retry_delay(message.attempts, config["MAIL_RETRY_INITIAL_SECONDS"],
                                   config["MAIL_RETRY_MAX_SECONDS"])
    outbox.defer(message, error, retry_at)
    audit.record("mail.deferred", outcome="failure", user_sub=message.user_sub, retry_at=retry_at,
                 **details)
    return Attempt(message.id, DEFERRED, error)


def _details(message: OutboxMessage) -> dict[str, Any]:
    # Identifiers only: never the address, the subject's personal parts or the body with its link.
    return {"outbox_id": message.id, "template": message.template, "attempts": message.attempts}
