"""Consent: a person allows or refuses a client's request, and what they allowed is remembered, so they are asked
again only for scopes, or a resource, not yet allowed to that client."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db
from app.models import Consent, User
from app.services import audit
from app.services.transaction import transaction


def covers(user: User, client_id: str, scope: str, resource: str | None) -> bool:
    """The scope was allowed, and so was the RFC 8707 resource, if one is named (None: the default audience)."""
    consent = db.session.scalar(select(Consent).where(Consent.user_id == user.id, Consent.client_id == client_id))
    if consent is None:
        return False
    return set(scope.split()) <= set(consent.scope.split()) and (resource is None or resource in consent.resources)


def grant(user: User, client_id: str, scope: str, resource: str | None) -> None:
    """The person allows the client this scope (and resource): remembered and audited, in one transaction."""
    with transaction():
        audit.record("consent.granted", **_decision(user, client_id, scope, resource))
        _remember(user, client_id, scope, resource)


def deny(user: User, client_id: str, scope: str, resource: str | None) -> None:
    """The person refuses (the client is told access_denied): audited; nothing already allowed is forgotten."""
    with transaction():
        audit.record("consent.denied", outcome="failure", **_decision(user, client_id, scope, resource))


def _decision(user: User, client_id: str, scope: str, resource: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {"user_sub": user.sub, "client_id": client_id, "scope": scope}
    if resource is not None:
        details["resource"] = resource
    return details


def _remember(user: User, client_id: str, scope: str, resource: str | None) -> None:
    """Merge scope and resource into the one row per user and client. Concurrent decisions (a double-click on
    Allow) neither collide on the unique constraint nor lose each other's additions: insert-if-missing, then lock
    and merge."""
    insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
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
