"""Consent: a person allows or refuses a client's request, and what they allowed is remembered, so they are asked
again only for scopes, or a resource, not yet allowed to that client. A person withdraws it by refusing, or by
removing the app from their account page; an administrator can too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import selectinload

from app.errors import NotFoundError
from app.extensions import db
from app.models import Client, Consent, User
from app.services import audit
from app.services.pagination import Page, paginate
from app.services.revocation import revoke_issued
from app.services.transaction import rows_changed, transaction


@dataclass(frozen=True)
class ConnectedApp:
    """A client the person has allowed something, with what and since when (consent.created_at)."""

    consent: Consent
    client: Client


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
    """The person refuses (the client is told access_denied): audited, and whatever they had allowed this client
    before is withdrawn as by remove(), so it must ask again and holds no token from the earlier consent."""
    with transaction():
        withdrawn = _withdraw(user, client_id)
        audit.record("consent.denied", outcome="failure", withdrawn=withdrawn,
                     **_decision(user, client_id, scope, resource))


def remove(user: User, client_id: str, *, actor: str | None) -> None:
    """The person (from "Connected apps") or an administrator takes back what the person allowed the client: the
    consent is deleted, the client's refresh tokens for the person are revoked with their access tokens (RFC 7009
    §2.1), its codes not yet redeemed void. NotFoundError if there was no consent."""
    with transaction():
        if not _withdraw(user, client_id):
            raise NotFoundError("no such consent")
        audit.record("consent.revoked", user_sub=user.sub, client_id=client_id, actor=actor)


def connected_apps(user: User) -> list[ConnectedApp]:
    """The apps the person has allowed something, most recently allowed first."""
    rows = db.session.execute(
        select(Consent, Client).join(Client, Client.client_id == Consent.client_id)
        .where(Consent.user_id == user.id).order_by(Consent.granted_at.desc(), Consent.id.desc()))
    return [ConnectedApp(consent, client) for consent, client in rows]


def consent_page(user: User | None, client_id: str | None, limit: int, cursor: str | None) -> Page[Consent]:
    """Consents, oldest first, of one person and/or one client when given (the admin API and CLI)."""
    statement = select(Consent).options(selectinload(Consent.user))
    if user is not None:
        statement = statement.where(Consent.user_id == user.id)
    if client_id is not None:
        statement = statement.where(Consent.client_id == client_id)
    return paginate(statement, Consent.id, limit, cursor)


def _withdraw(user: User, client_id: str) -> bool:
    """Delete the consent and revoke what was issued under it; False (and nothing revoked) if there was none."""
    if not rows_changed(delete(Consent).where(Consent.user_id == user.id, Consent.client_id == client_id)
                        .execution_options(synchronize_session=False)):
        return False
    revoke_issued(user, client_id=client_id)
    return True


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
