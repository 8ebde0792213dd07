"""`ostiary clients ...`"""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from app.cli.common import app_errors, emit, json_option
from app.models import Client


def client_dict(client: Client) -> dict[str, Any]:
    return {"client_id": client.client_id, "name": client.name, "public": client.is_public,
            "redirect_uris": client.redirect_uris, "post_logout_redirect_uris": client.post_logout_redirect_uris,
            "grant_types": client.grant_types, "scope": client.scope, "audience": client.audience}


@click.group("clients")
def clients_group() -> None:
    """Manage OAuth clients."""


@clients_group.command("create")
@click.option("--name", required=True)
@click.option("--public", is_flag=True, help="A public client (no secret; browser or native app).")
@click.option("--redirect-uri", "redirect_uris", multiple=True)
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True)
@click.option("--grant-type", "grant_types", multiple=True,
              type=click.Choice(["authorization_code", "refresh_token", "client_credentials"]))
@click.option("--scope", help='Space-separated scopes, e.g. "openid profile email offline_access api:read".')
@click.option("--audience", help="The access-token `aud` for this client (default: the server default).")
@json_option
@with_appcontext
@app_errors
def clients_create(name: str, public: bool, redirect_uris: tuple[str, ...], post_logout_redirect_uris: tuple[str, ...],
                   grant_types: tuple[str, ...], scope: str | None, audience: str | None, as_json: bool) -> None:
    """Register a client; its secret is printed once and only its digest is stored."""
    from app.services.clients import create_client

    registration = create_client(
        name, public=public, redirect_uris=list(redirect_uris), post_logout_redirect_uris=list(post_logout_redirect_uris),
        grant_types=list(grant_types) or None, scope=scope, audience=audience,
    )
    payload = {**client_dict(registration.client), "client_secret": registration.client_secret}
    text = f"client_id:     {registration.client.client_id}"
    if registration.client_secret:
        text += f"\nclient_secret: {registration.client_secret}\n(shown once: store it now)"
    emit(as_json, payload, text)


@clients_group.command("list")
@json_option
@with_appcontext
def clients_list(as_json: bool) -> None:
    from app.services.clients import list_clients

    found = list_clients()
    text = "\n".join(f"{c.client_id}  {c.name}  {'public' if c.is_public else 'confidential'}  {' '.join(c.grant_types)}" for c in found)
    emit(as_json, [client_dict(c) for c in found], text or "No clients.")
