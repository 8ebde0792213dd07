"""`ostiary purge`: housekeeping for a schedule (cron, a systemd timer, a Kubernetes CronJob)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.common import emit, json_option
from app.services import housekeeping


@click.command("purge")
@click.option("--audit-days", type=click.IntRange(min=1), default=None,
              help="Keep audit events this many days (default: OSTIARY_AUDIT_RETENTION_DAYS).")
@json_option
@with_appcontext
def purge_command(audit_days: int | None, as_json: bool) -> None:
    """Delete expired codes, tokens and sessions, and old audit events. Safe while serving."""
    days = audit_days or current_app.config["AUDIT_RETENTION_DAYS"]
    counts = housekeeping.purge(audit_retention_days=days)
    text = ", ".join(f"{count} {table.replace('_', ' ')}" for table, count in counts.items())
    emit(as_json, {"deleted": counts, "audit_retention_days": days}, f"Deleted {text} (audit kept {days} days).")
