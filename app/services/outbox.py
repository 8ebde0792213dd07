"""The outbox: a page queues mail in its own transaction; delivery happens after the commit, outside the request.

enqueue() joins the caller's use case (the message exists if and only if the account, token or change that
caused it does); the delivery steps (claim, mark_sent, defer, fail) run in the transactions of
app/services/mail_delivery.py; requeue() is an operator's use case of its own.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import current_app, has_app_context
from sqlalchemy import and_, delete, event, select, update
from sqlalchemy.orm import Session

from app.errors import ValidationError
from app.extensions import db
from app.mail.message import UnsafeHeader, check_header, check_recipient, default_sender, new_message_id
from app.models.clock import now
from app.models.outbox import FAILED, PENDING, SENDING, OutboxMessage
from app.services import audit
from app.services.mail_templates import render
from app.services.transaction import rows_changed, transaction

WORKER = "ostiary.mail_worker"  # this process's delivery thread, if it runs one (app/services/mail_worker.py)
_WAKE = "ostiary.outbox.wake"


def enqueue(to: str, template: str, context: Mapping[str, Any], *, user_sub: str | None = None) -> OutboxMessage:
    """Queue templates/mail/<template> for `to`; it is sent after the caller commits, never during the request.

    A recipient or subject that could inject a header (CR, LF, a second address) is refused here,
    as a ValidationError, before anything is stored.
    """
    try:
        recipient = check_recipient(to)
        content = render(template, context)
        check_header(content.subject, "subject")
    except UnsafeHeader as exc:
        raise ValidationError(str(exc), field="email") from None
    message = OutboxMessage(
        message_id=new_message_id(sender()), recipient=recipient, template=template, subject=content.subject,
        text_body=content.text, html_body=content.html, user_sub=user_sub, status=PENDING, attempts=0,
        next_attempt_at=now(), created_at=now(),
    )
    db.session.add(message)
    db.session.info[_WAKE] = True  # after the commit, this process's delivery thread starts at once
    return message


def sender() -> str:
    """OSTIARY_MAIL_FROM, else `<brand name> <no-reply@issuer host>`."""
    config = current_app.config
    return config["MAIL_FROM"] or default_sender(config["BRAND_NAME"], urlsplit(config["ISSUER"]).hostname or "")


def issuer_link(path: str, **query: str) -> str:
    """An absolute link for a message, built on the configured issuer: never on the request's Host header."""
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError("path must be absolute on the issuer, e.g. /verify-email")
    return current_app.config["ISSUER"] + path + (f"?{urlencode(query)}" if query else "")


def claim(lease_seconds: int, message_id: int | None = None) -> OutboxMessage | None:
    """Take the oldest due message (or the given one, if due) for one delivery attempt.

    PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED inside one UPDATE, so concurrent claimants on any
    node each get a different message and never wait for one another. SQLite ignores the locking
    clause and serialises writers, which makes the same conditional UPDATE exclusive there too.
    A claimed message is due again once its lease lapses: a worker that died mid-send loses it.
    """
    moment = now()
    due = and_(OutboxMessage.status.in_((PENDING, SENDING)), OutboxMessage.next_attempt_at <= moment)
    pick = select(OutboxMessage.id).where(due)
    if message_id is not None:
        pick = pick.where(OutboxMessage.id == message_id)
    pick = pick.order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(1).with_for_update(skip_locked=True)
    return db.session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id == pick.scalar_subquery(), due)
        .values(status=SENDING, attempts=OutboxMessage.attempts + 1, lease=secrets.token_hex(16),
                next_attempt_at=moment + lease_seconds)
        .returning(OutboxMessage)
        .execution_options(populate_existing=True)
    ).one_or_none()


def mark_sent(message: OutboxMessage) -> bool:
    """The transport took it: delete it (its body holds live links). False if the claim had lapsed meanwhile."""
    return rows_changed(
        delete(OutboxMessage).where(OutboxMessage.id == message.id, OutboxMessage.lease == message.lease)
        .execution_options(synchronize_session=False)
    ) == 1


def defer(message: OutboxMessage, error: str, retry_at: int) -> bool:
    """Back to the queue until retry_at."""
    return _settle(message, status=PENDING, next_attempt_at=retry_at, last_error=error[:500])


def fail(message: OutboxMessage, error: str) -> bool:
    """Out of tries, or refused for good: kept, visible and re-queueable (`ostiary mail requeue`)."""
    return _settle(message, status=FAILED, last_error=error[:500])


def queue_test_message(address: str) -> OutboxMessage:
    """`ostiary mail send-test`: one message to check the transport end to end, queued in its own use case."""
    with transaction():
        return enqueue(address, "test_message", {})


def requeue(ids: Sequence[int] = (), *, all_failed: bool = False, actor: str | None) -> int:
    """Failed or waiting messages due now, with a fresh budget of tries (after the operator fixed the relay)."""
    if ids:
        condition = and_(OutboxMessage.status.in_((FAILED, PENDING)), OutboxMessage.id.in_(ids))
    elif all_failed:
        condition = OutboxMessage.status == FAILED
    else:
        return 0
    with transaction():
        count = rows_changed(
            update(OutboxMessage).where(condition).values(status=PENDING, attempts=0, next_attempt_at=now())
            .execution_options(synchronize_session=False)
        )
        audit.record("mail.requeued", actor=actor, count=count, messages=list(ids) or "all failed")
    return count


def messages(status: str | None = None, limit: int = 50) -> list[OutboxMessage]:
    """Queued messages, oldest first."""
    statement = select(OutboxMessage).order_by(OutboxMessage.id).limit(limit)
    if status is not None:
        statement = statement.where(OutboxMessage.status == status)
    return list(db.session.scalars(statement))


def _settle(message: OutboxMessage, **values: Any) -> bool:
    # Only the holder of the claim records its outcome: a lapsed claim may have been retaken and delivered.
    return rows_changed(
        update(OutboxMessage).where(OutboxMessage.id == message.id, OutboxMessage.lease == message.lease)
        .values(lease=None, **values).execution_options(synchronize_session=False)
    ) == 1


@event.listens_for(Session, "after_commit")
def _wake_delivery(session: Session) -> None:
    if session.info.pop(_WAKE, False) and has_app_context():
        worker = current_app.extensions.get(WORKER)
        if worker is not None:
            worker.wake()


@event.listens_for(Session, "after_rollback")
def _forget_wake(session: Session) -> None:
    session.info.pop(_WAKE, None)
