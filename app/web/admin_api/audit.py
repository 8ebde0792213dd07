"""/admin/api/audit-events: the audit trail, newest first, read-only."""

from __future__ import annotations

from flask import Response

from app.services import audit
from app.services.representations import audit_event_dict
from app.web.admin_api import bp, page_response
from app.web.admin_api.bodies import query_integer, query_limit, query_string


@bp.get("/audit-events")
def list_audit_events() -> Response:
    page = audit.event_page(
        event=query_string("event"), outcome=query_string("outcome"), user_sub=query_string("user_sub"),
        client_id=query_string("client_id"), since=query_integer("since"), until=query_integer("until"),
        limit=query_limit(), cursor=query_string("cursor"),
    )
    return page_response(page, audit_event_dict)
