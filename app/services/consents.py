"""Remembered consent: a user is asked again only for scopes, or a resource, not yet allowed to a client."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db
from app.models import Consent, User
from app.services.transaction import transaction


def _find(user: User, client_id: str) -> Consent | None:
    return db.session.scalar(select(Consent).where(Consent.user_id == user.id, Consent.client_id == client_id))


def covers(user: User, client_id: str, scope: str, resource: str | None) -> bool:
    """The scope was allowed, and so was the RFC 8707 resource, if one is named (None: the default audience)."""
    consent = _find(user, client_id)
    if consent is None:
        return False
    return set(scope.split()) <= set(consent.scope.split()) and (resource is None or resource in consent.resources)


def remember(user: User, client_id: str, scope: str, resource: str | None) -> None:
    """Merge scope and resource into the one row per user and client. Concurrent decisions (a double-click on
    Allow) neither collide on the unique constraint nor lose each other's additions: insert-if-missing, then lock
    and merge."""
    insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    with transaction():
        db.session.execute(
            insert(Consent)
            .values(user_id=user.id, client_id=client_id, scope="", resources=[])
            .on_conflict_do_nothing(index_elements=[Consent.user_id, Consent.client_id])
        )
        consent = db.session.scalars(
            select(Consent)
            .where(Consent.user_id == user.id, Consent.client_id == client_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        consent.scope = " ".join(dict.fromkeys(consent.scope.split() + scope.split()))
        if resource is not None and resource not in consent.resources:
            consent.resources = [*consent.resources, resource]  # a new list: JSON columns do not track mutation
