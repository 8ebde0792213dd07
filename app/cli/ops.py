"""`ostiary purge`: housekeeping for a schedule (cron, a systemd timer, a Kubernetes CronJob)."""

from __future__ import annotations

import click
from flask import current_app

from app.cli.common import command, emit
from app.services import housekeeping


@command("purge")
@click.option("--audit-days", type=click.IntRange(min=1), default=None,
              help="Keep audit events this many days (default: OSTIARY_AUDIT_RETENTION_DAYS).")
def purge_command(audit_days: int | None) -> None:
    """Delete expired codes, tokens and sessions, and old audit events. Safe while serving."""
    days = audit_days or current_app.config["AUDIT_RETENTION_DAYS"]
    counts = housekeeping.purge(audit_retention_days=days)
    text = ", ".join(f"{count} {table.replace('_', ' ')}" for table, count in counts.items())
    emit({"deleted": counts, "audit_retention_days": days}, f"Deleted {text} (audit kept {days} days).")
