"""Purge rows nothing can use any more, in short batches, so a scheduled run never blocks serving."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, delete, exists, or_, select
from sqlalchemy.orm import InstrumentedAttribute, aliased

from app.models import (
    AccessTokenRecord,
    AuditEvent,
    AuthorizationCode,
    Client,
    LoginSession,
    OneTimeToken,
    RefreshToken,
    User,
)
from app.models.clock import now
from app.services import signup
from app.services.client_registration import unused_registrations
from app.services.transaction import rows_changed, separate_transaction

log = logging.getLogger(__name__)

# Rows per DELETE, each a separate transaction: a batch holds its locks (on SQLite, the whole database)
# for milliseconds, so requests interleave with a purge of any size.
BATCH_SIZE = 1000
SECONDS_PER_DAY = 86400


def family_is_live(family_id: Any, moment: int) -> ColumnElement[bool]:
    """A token family lives while one of its refresh tokens can still be used or one of its access tokens is valid.

    Until then its used codes and used refresh tokens are kept: presenting one again must still be
    recognised as a replay and revoke the family (RFC 6749 §4.1.2, RFC 9700 §4.14.2).
    """
    live_refresh = aliased(RefreshToken)
    return or_(
        exists().where(
            live_refresh.family_id == family_id,
            live_refresh.used_at.is_(None),
            live_refresh.revoked_at.is_(None),
            live_refresh.expires_at > moment,
        ),
        exists().where(
            AccessTokenRecord.family_id == family_id,
            AccessTokenRecord.revoked_at.is_(None),
            AccessTokenRecord.expires_at > moment,
        ),
    )


def purgeable(moment: int, audit_retention_days: int) -> dict[str, tuple[InstrumentedAttribute, ColumnElement[bool]]]:
    """Table name -> (key column, condition of the rows to delete)."""
    idle_ttl = current_app.config["SESSION_IDLE_TTL_SECONDS"]
    return {
        "authorization_codes": (
            AuthorizationCode.id,
            (AuthorizationCode.expires_at <= moment)
            & (AuthorizationCode.used_at.is_(None) | ~family_is_live(AuthorizationCode.family_id, moment)),
        ),
        # Expired, revoked and used tokens alike go with their family, not before.
        "refresh_tokens": (RefreshToken.id, ~family_is_live(RefreshToken.family_id, moment)),
        # A revoked access token stays listed until it expires: introspection and userinfo must refuse it.
        "access_tokens": (AccessTokenRecord.jti, AccessTokenRecord.expires_at <= moment),
        "login_sessions": (LoginSession.id, ~LoginSession.live(moment, idle_ttl)),
        "audit_events": (AuditEvent.id, AuditEvent.at < moment - audit_retention_days * SECONDS_PER_DAY),
        # Used or not, an expired link can never work again: "invalid or expired" needs no row to say so.
        "one_time_tokens": (OneTimeToken.id, OneTimeToken.expires_at <= moment),
        "clients": (Client.id, unused_registrations(moment - current_app.config["REGISTRATION_UNUSED_SECONDS"])),
        # Self-service sign-ups never confirmed; what they own (their links) goes with them (ON DELETE CASCADE).
        "users": (User.id, signup.abandoned(moment)),
    }


def delete_in_batches(key: InstrumentedAttribute, condition: ColumnElement[bool], batch_size: int) -> int:
    """DELETE ... WHERE key IN (SELECT key ... LIMIT n), one transaction per batch; returns the rows deleted."""
    model = key.class_
    total = 0
    while True:
        batch = select(key).where(condition).limit(batch_size).scalar_subquery()
        with separate_transaction():
            deleted = rows_changed(delete(model).where(key.in_(batch)).execution_options(synchronize_session=False))
        total += deleted
        if deleted < batch_size:
            return total


def purge(audit_retention_days: int, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Delete expired codes and one-time tokens, dead token families, expired access-token records, ended sessions,
    old audit rows, open registrations nobody used and self-service sign-ups nobody confirmed."""
    moment = now()
    counts = {
        table: delete_in_batches(key, condition, batch_size)
        for table, (key, condition) in purgeable(moment, audit_retention_days).items()
    }
    log.info("purge", extra={"deleted": counts, "audit_retention_days": audit_retention_days})
    return counts
