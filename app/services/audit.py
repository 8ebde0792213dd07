"""Audit trail: a row in audit_events and a structured log line for every security-relevant event."""

from __future__ import annotations

import logging
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models.audit import AuditEvent
from app.services.pagination import DEFAULT_LIMIT, Page, paginate

log = logging.getLogger("ostiary.audit")
OUTCOMES = ("success", "failure")
# Unix seconds up to the end of year 9999: any later bound is a mistake, not a query.
MAX_TIMESTAMP = 253402300799


def record(
    event: str, *, outcome: str = "success", user_sub: str | None = None, client_id: str | None = None, **details: Any
) -> None:
    """Add the event to the caller's transaction (never committed here: the use case commits it with its own
    work, or rolls both back) and write its log line."""
    db.session.add(entry(event, outcome=outcome, user_sub=user_sub, client_id=client_id, **details))


def entry(
    event: str, *, outcome: str = "success", user_sub: str | None = None, client_id: str | None = None, **details: Any
) -> AuditEvent:
    """The event's row, for the caller to write with its own rows (new_rows.insert_together), and its log line."""
    ip, request_id = _request_facts()
    _log(event, outcome, user_sub, client_id, ip, details)
    return AuditEvent(event=event, outcome=outcome, user_sub=user_sub, client_id=client_id, ip=ip,
                      request_id=request_id, details=details)


def log_only(
    event: str, *, outcome: str = "success", user_sub: str | None = None, client_id: str | None = None, **details: Any
) -> None:
    """The log line without a row: for high-volume events whose request writes nothing else (a client_credentials
    token, a failed client authentication), where a row would add a database commit to every request."""
    ip, _ = _request_facts()
    _log(event, outcome, user_sub, client_id, ip, details)


def _request_facts() -> tuple[str | None, str | None]:
    if not has_request_context():
        return None, None
    return request.remote_addr, g.get("request_id")


def _log(event: str, outcome: str, user_sub: str | None, client_id: str | None, ip: str | None,
         details: dict[str, Any]) -> None:
    log.info(event, extra={"audit": True, "outcome": outcome, "user_sub": user_sub, "client_id": client_id,
                           "ip": ip, **details})


def event_page(
    *,
    event: str | None = None,
    outcome: str | None = None,
    user_sub: str | None = None,
    client_id: str | None = None,
    since: int | None = None,
    until: int | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[AuditEvent]:
    """Events matching every filter given, newest first; `since` is inclusive, `until` exclusive."""
    statement = select(AuditEvent)
    for column, value, field in ((AuditEvent.event, event, "event"), (AuditEvent.user_sub, user_sub, "user_sub"),
                                 (AuditEvent.client_id, client_id, "client_id")):
        if value:
            statement = statement.where(column == _text_filter(value, field, column.type.length))
    if outcome:
        if outcome not in OUTCOMES:
            raise ValidationError(f"outcome must be one of {', '.join(OUTCOMES)}", field="outcome")
        statement = statement.where(AuditEvent.outcome == outcome)
    if since is not None:
        statement = statement.where(AuditEvent.at >= _timestamp(since, "since"))
    if until is not None:
        statement = statement.where(AuditEvent.at < _timestamp(until, "until"))
    return paginate(statement, AuditEvent.id, limit, cursor, descending=True)


def _text_filter(value: str, field: str, max_length: int) -> str:
    # PostgreSQL refuses NUL in a text parameter; no stored value has a control character or is longer.
    if len(value) > max_length or not value.isprintable():
        raise ValidationError(f"{field} must be at most {max_length} printable characters", field=field)
    return value


def _timestamp(value: int, field: str) -> int:
    if not 0 <= value <= MAX_TIMESTAMP:
        raise ValidationError(f"{field} must be Unix seconds between 0 and {MAX_TIMESTAMP}", field=field)
    return value
