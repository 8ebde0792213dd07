"""`ostiary audit list`: the audit trail from the command line, the same filters as GET /admin/api/audit-events."""

from __future__ import annotations

from typing import Any

import click

from app.cli.common import Group, all_pages, emit
from app.cli.display import moment, table, value
from app.cli.time_options import PAST
from app.services.audit import OUTCOMES, event_page
from app.services.representations import audit_event_dict

DEFAULT_COUNT = 50
MAX_COUNT = 10_000


@click.group("audit", cls=Group)
def audit_group() -> None:
    """Read the audit trail."""


@audit_group.command("list")
@click.option("--event", help="Only this event, e.g. sign_in or client.created.")
@click.option("--outcome", type=click.Choice(OUTCOMES))
@click.option("--user", "user_sub", metavar="SUB", help="Only events concerning this user or service account.")
@click.option("--client", "client_id", metavar="ID", help="Only events concerning this client or API key id.")
@click.option("--since", type=PAST, metavar="TIME",
              help="At or after this time: ISO 8601 (2026-12-01, 2026-12-01T09:30:00Z), Unix seconds, or a duration "
                   "ago (30m, 1h, 7d).")
@click.option("--until", type=PAST, metavar="TIME", help="Before this time (the same forms).")
@click.option("--limit", type=click.IntRange(1, MAX_COUNT), default=DEFAULT_COUNT, show_default=True,
              help="At most this many events, newest first.")
def audit_list(limit: int, **filters: Any) -> None:
    """List audit events, newest first."""
    found = all_pages(lambda page_size, cursor: event_page(**filters, limit=page_size, cursor=cursor), limit)
    rows = [(moment(e.at), e.event, e.outcome, e.user_sub, e.client_id, e.ip, value("details", e.details))
            for e in found]
    emit([audit_event_dict(e) for e in found],
         table(("AT", "EVENT", "OUTCOME", "USER", "CLIENT", "IP", "DETAILS"), rows, "No audit events."))
