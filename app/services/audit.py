"""Audit trail: a row in audit_events and a structured log line for every security-relevant event."""

from __future__ import annotations

import logging
from typing import Any

from flask import g, has_request_context, request

from app.extensions import db
from app.models.audit import AuditEvent

log = logging.getLogger("ostiary.audit")


def record(
    event: str,
    *,
    outcome: str = "success",
    user_sub: str | None = None,
    client_id: str | None = None,
    commit: bool = True,
    store: bool = True,
    **details: Any,
) -> None:
    """Add the event to the current transaction (committed unless the caller commits it with its own work).

    store=False writes the log line only: for high-volume events whose request writes nothing else
    (client_credentials tokens), where a row would add a database commit to every request.
    """
    ip = request.remote_addr if has_request_context() else None
    request_id = g.get("request_id") if has_request_context() else None
    if store:
        db.session.add(
            AuditEvent(event=event, outcome=outcome, user_sub=user_sub, client_id=client_id, ip=ip,
                       request_id=request_id, details=details)
        )
        if commit:
            db.session.commit()
    log.info(event, extra={"audit": True, "outcome": outcome, "user_sub": user_sub, "client_id": client_id,
                           "ip": ip, **details})
