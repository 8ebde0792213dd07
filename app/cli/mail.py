"""`ostiary mail`: drain the outbox now (cron), send a test message, list and re-queue queued messages."""

from __future__ import annotations

from typing import Any

import click
from flask import current_app

from app.cli.common import CLI_ACTOR, Group, emit
from app.cli.display import moment, table
from app.mail.transports import transport_for
from app.models.outbox import STATUSES, OutboxMessage
from app.services import outbox
from app.services.mail_delivery import SENT, deliver_due, deliver_one


@click.group("mail", cls=Group)
def mail_group() -> None:
    """Mail delivery through the outbox."""


@mail_group.command("drain")
def mail_drain() -> None:
    """Deliver every due message now and exit (for cron, or where no server runs the delivery loop)."""
    transport = transport_for(current_app.config)
    outcomes = deliver_due(transport)
    counts = {outcome: outcomes[outcome] for outcome in ("sent", "deferred", "failed")}
    emit(counts, f"Sent {counts['sent']}, deferred {counts['deferred']}, failed {counts['failed']}"
                          f" (through {transport}).")


@mail_group.command("send-test")
@click.argument("address")
def mail_send_test(address: str) -> None:
    """Queue a test message to ADDRESS and try it at once: checks OSTIARY_SMTP_URL end to end."""
    transport = transport_for(current_app.config)
    queued = outbox.queue_test_message(address)
    attempt = deliver_one(transport, queued.id)
    result: dict[str, Any] = {"message": queued.id, "outcome": attempt.outcome if attempt else "queued",
                              "error": attempt.error if attempt else None}
    if attempt is None or attempt.outcome != SENT:
        emit(result, f"Not sent ({result['outcome']}): {result['error']}. See `ostiary mail list`.")
        raise SystemExit(1)
    emit(result, f"Sent a test message to {address} through {transport}.")


@mail_group.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only messages in this state.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def mail_list(status: str | None, limit: int) -> None:
    """Messages still in the outbox (sent ones are gone), oldest first."""
    found = outbox.messages(status, limit)
    rows = [(m.id, m.status, m.attempts, moment(m.next_attempt_at), m.template, m.recipient, m.last_error)
            for m in found]
    emit([_message_dict(m) for m in found],
         table(("ID", "STATUS", "TRIES", "NEXT ATTEMPT", "TEMPLATE", "RECIPIENT", "LAST ERROR"), rows,
               "The outbox is empty."))


@mail_group.command("requeue")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Every failed message.")
def mail_requeue(ids: tuple[int, ...], all_failed: bool) -> None:
    """Make failed (or waiting) messages due now, with a fresh set of tries."""
    if not ids and not all_failed:
        raise click.UsageError("give message ids or --all-failed")
    count = outbox.requeue(ids, all_failed=all_failed, actor=CLI_ACTOR)
    emit({"requeued": count}, f"Re-queued {count} message(s).")


def _message_dict(message: OutboxMessage) -> dict[str, Any]:
    return {"id": message.id, "status": message.status, "attempts": message.attempts, "template": message.template,
            "recipient": message.recipient, "created_at": message.created_at,
            "next_attempt_at": message.next_attempt_at, "last_error": message.last_error}
