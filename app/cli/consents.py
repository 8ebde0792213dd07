"""`ostiary consents ...`: what people have allowed which clients, and taking it back."""

from __future__ import annotations

import time

import click

from app.cli.common import CLI_ACTOR, Group, all_pages, emit
from app.cli.display import moment, table
from app.services import clients, consents, users
from app.services.representations import consent_dict


@click.group("consents", cls=Group)
def consents_group() -> None:
    """List and revoke what people have allowed clients."""


@consents_group.command("list")
@click.option("--user", "user_ref", help="Only the consents of this user: sub, email or username.")
@click.option("--client", "client_id", help="Only the consents given to this client.")
def consents_list(user_ref: str | None, client_id: str | None) -> None:
    """List consents: who allowed which client what, and since when."""
    user = users.find_person(user_ref) if user_ref else None
    if client_id is not None:
        clients.require(client_id)
    found = all_pages(lambda limit, cursor: consents.consent_page(user, client_id, limit, cursor))
    now = time.time()
    rows = [(c.user.email or c.user.sub, c.client_id, c.scope, " ".join(c.resources or []) or "-",
             moment(c.created_at, now), moment(c.granted_at, now)) for c in found]
    emit([consent_dict(c) for c in found],
         table(("USER", "CLIENT", "SCOPE", "RESOURCES", "SINCE", "LAST ALLOWED"), rows, "No consents."))


@consents_group.command("revoke")
@click.argument("user_ref", metavar="USER")
@click.argument("client_id", metavar="CLIENT_ID")
def consents_revoke(user_ref: str, client_id: str) -> None:
    """Revoke what USER allowed CLIENT_ID: the consent goes, with the client's refresh and access tokens for USER."""
    user = users.find_person(user_ref)
    consents.remove(user, clients.require(client_id).client_id, actor=CLI_ACTOR)
    emit({"user_sub": user.sub, "client_id": client_id, "revoked": True},
         f"Revoked the consent of {user.email or user.sub} to {client_id}, and the client's tokens for them.")
