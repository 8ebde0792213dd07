"""`ostiary clients ...`"""

from __future__ import annotations

import time
from typing import Any

import click

from app.cli.common import CLI_ACTOR, Group, all_pages, emit
from app.cli.display import details, moment, table
from app.cli.time_options import FUTURE
from app.services import client_registration, clients, one_time_tokens
from app.services.representations import client_dict

GRANT_TYPE = click.Choice(clients.GRANT_TYPES)


@click.group("clients", cls=Group)
def clients_group() -> None:
    """Manage OAuth clients."""


@clients_group.command("create")
@click.option("--name", required=True)
@click.option("--public", is_flag=True, help="A public client (no secret; browser or native app).")
@click.option("--redirect-uri", "redirect_uris", multiple=True)
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True)
@click.option("--grant-type", "grant_types", multiple=True, type=GRANT_TYPE)
@click.option("--scope", help='Space-separated scopes, e.g. "openid profile email offline_access api:read".')
@click.option("--audience", help="The access-token `aud` for this client (default: the server default).")
@click.option("--resource", "resources", multiple=True, help="A resource identifier the client may request (RFC 8707).")
@click.option("--introspect-resource", "introspect_resources", multiple=True,
              help="A registered resource this client serves: it may introspect tokens meant for it (RFC 7662 §4).")
@click.option("--introspect-all", is_flag=True, help="The client may introspect every token (RFC 7662 §4).")
@click.option("--require-mfa", is_flag=True, help="Every sign-in for this client needs a second factor.")
def clients_create(name: str, public: bool, redirect_uris: tuple[str, ...], post_logout_redirect_uris: tuple[str, ...],
                   grant_types: tuple[str, ...], scope: str | None, audience: str | None, resources: tuple[str, ...],
                   introspect_resources: tuple[str, ...], introspect_all: bool, require_mfa: bool) -> None:
    """Register a client; its secret is printed once and only its digest is stored."""
    registration = clients.create_client(
        name, public=public, redirect_uris=list(redirect_uris), post_logout_redirect_uris=list(post_logout_redirect_uris),
        grant_types=list(grant_types) or None, scope=scope, audience=audience, resources=list(resources),
        introspect_resources=list(introspect_resources), introspect_all=introspect_all, require_mfa=require_mfa,
        actor=CLI_ACTOR,
    )
    payload = {**client_dict(registration.client), "client_secret": registration.client_secret}
    text = f"client_id:     {registration.client.client_id}"
    if registration.client_secret:
        text += f"\nclient_secret: {registration.client_secret}\n(shown once: store it now)"
    emit(payload, text)


@clients_group.command("list")
def clients_list() -> None:
    """List the registered clients."""
    found = all_pages(clients.client_page)
    rows = [(c.client_id, c.name, "public" if c.is_public else "confidential", c.grant_types,
             "active" if c.is_active else "disabled", c.registered_via, moment(c.created_at)) for c in found]
    emit([client_dict(c) for c in found],
         table(("CLIENT ID", "NAME", "TYPE", "GRANT TYPES", "STATUS", "REGISTERED BY", "CREATED"), rows, "No clients."))


@clients_group.command("show")
@click.argument("client_id")
def clients_show(client_id: str) -> None:
    """Show a client's registration (never its secret)."""
    found = client_dict(clients.require(client_id))
    emit(found, details(found))


@clients_group.command("update")
@click.argument("client_id")
@click.option("--name")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Replaces the redirect URIs (repeatable).")
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True,
              help="Replaces the post-logout redirect URIs (repeatable).")
@click.option("--grant-type", "grant_types", multiple=True, type=GRANT_TYPE, help="Replaces the grant types.")
@click.option("--scope", help='Replaces the allowed scopes ("" for none).')
@click.option("--audience", help='The access-token `aud` ("" for the server default).')
@click.option("--resource", "resources", multiple=True, help="Replaces the allowed resources (repeatable).")
@click.option("--no-resources", is_flag=True, help="Allow no resource.")
@click.option("--introspect-resource", "introspect_resources", multiple=True,
              help="Replaces the resources whose tokens the client may introspect (repeatable).")
@click.option("--no-introspect-resources", is_flag=True, help="Introspect no resource's tokens.")
@click.option("--introspect-all/--no-introspect-all", default=None, help="May the client introspect every token?")
@click.option("--require-mfa/--no-require-mfa", default=None, help="Does every sign-in need a second factor?")
def clients_update(client_id: str, name: str | None, redirect_uris: tuple[str, ...],
                   post_logout_redirect_uris: tuple[str, ...], grant_types: tuple[str, ...], scope: str | None,
                   audience: str | None, resources: tuple[str, ...], no_resources: bool,
                   introspect_resources: tuple[str, ...], no_introspect_resources: bool,
                   introspect_all: bool | None, require_mfa: bool | None) -> None:
    """Change a client's metadata; options not given stay as they are."""
    changes: dict[str, Any] = {k: v for k, v in {"name": name, "scope": scope, "audience": audience,
                                                 "introspect_all": introspect_all,
                                                 "require_mfa": require_mfa}.items() if v is not None}
    lists = {"redirect_uris": redirect_uris, "post_logout_redirect_uris": post_logout_redirect_uris,
             "grant_types": grant_types, "resources": resources, "introspect_resources": introspect_resources}
    changes.update({k: list(v) for k, v in lists.items() if v})
    if no_resources:
        changes["resources"] = []
    if no_introspect_resources:
        changes["introspect_resources"] = []
    updated = clients.update_client(clients.require(client_id), changes, actor=CLI_ACTOR)
    emit(client_dict(updated), f"Updated client {updated.client_id}")


@clients_group.command("disable")
@click.argument("client_id")
def clients_disable(client_id: str) -> None:
    """Refuse a client everywhere as if it were not registered; its refresh and access tokens are revoked."""
    disabled = clients.disable_client(clients.require(client_id), actor=CLI_ACTOR)
    emit(client_dict(disabled), f"Disabled client {client_id}; its refresh and access tokens were revoked")


@clients_group.command("enable")
@click.argument("client_id")
def clients_enable(client_id: str) -> None:
    """Serve a disabled client again (what disabling revoked stays revoked)."""
    enabled = clients.enable_client(clients.require(client_id), actor=CLI_ACTOR)
    emit(client_dict(enabled), f"Enabled client {client_id}")


@clients_group.command("rotate-secret")
@click.argument("client_id")
def clients_rotate_secret(client_id: str) -> None:
    """Replace the secret; the old one stops working at once and the new one is printed once."""
    secret = clients.rotate_secret(clients.require(client_id), actor=CLI_ACTOR)
    emit({"client_id": client_id, "client_secret": secret},
         f"client_secret: {secret}\n(shown once: store it now)")


@clients_group.command("delete")
@click.argument("client_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def clients_delete(client_id: str, yes: bool) -> None:
    """Delete a client and what it was issued."""
    found = clients.require(client_id)
    if not yes:
        click.confirm(f"Delete client {found.name} ({client_id})?", abort=True)
    clients.delete_client(found, actor=CLI_ACTOR)
    emit({"client_id": client_id, "deleted": True}, f"Deleted client {client_id}")


@clients_group.command("initial-token")
@click.option("--expires", "expires_at", type=FUTURE, default="1d", show_default=True,
              help="When the token expires: a duration from now (1h, 7d) or a time.")
def clients_initial_token(expires_at: int) -> None:
    """Mint an initial access token (RFC 7591 §3): one client registers itself with it at /oauth/register
    (OSTIARY_REGISTRATION=token). Printed once; stored as a digest; used up by the registration."""
    ttl = expires_at - int(time.time())
    if not 0 < ttl <= one_time_tokens.MAX_TTL_SECONDS:
        raise click.BadParameter("must be in the future, at most 30 days away", param_hint="--expires")
    issued = client_registration.issue_initial_access_token(ttl, actor=CLI_ACTOR)
    emit({"initial_access_token": issued.token, "expires_at": issued.expires_at},
         f"initial_access_token: {issued.token}\nexpires:              {moment(issued.expires_at)}\n"
         "(shown once: hand it to the client's developer)")
