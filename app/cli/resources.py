"""`ostiary resources ...`: resource servers (RFC 8707)."""

from __future__ import annotations

import json
from typing import Any

import click

from app.cli.common import CLI_ACTOR, Group, all_pages, emit
from app.cli.display import details, table
from app.services import resources
from app.services.representations import resource_dict


@click.group("resources", cls=Group)
def resources_group() -> None:
    """Manage resource servers: the audiences (and scopes) access tokens can be issued for."""


@resources_group.command("create")
@click.option("--identifier", required=True, help="Absolute URI, the `aud` the resource server checks.")
@click.option("--name", required=True)
@click.option("--scope", default="", help='Scopes the resource understands, e.g. "invoices:read invoices:write".')
def resources_create(identifier: str, name: str, scope: str) -> None:
    """Register a resource server (RFC 8707): its identifier is the `aud` of the tokens issued for it."""
    resource = resources.create_resource(identifier, name, scope, actor=CLI_ACTOR)
    emit(resource_dict(resource), f"Created resource {resource.id}: {resource.identifier}")


@resources_group.command("list")
def resources_list() -> None:
    """List the registered resource servers."""
    found = all_pages(resources.resource_page)
    emit([resource_dict(r) for r in found],
         table(("ID", "IDENTIFIER", "NAME", "SCOPE"), [(r.id, r.identifier, r.name, r.scope) for r in found],
               "No resources."))


@resources_group.command("show")
@click.argument("resource")
def resources_show(resource: str) -> None:
    """Show a resource (by id or identifier)."""
    found = resource_dict(resources.find_registered(resource))
    emit(found, details(found))


@resources_group.command("metadata")
@click.argument("resource")
def resources_metadata(resource: str) -> None:
    """Print the RFC 9728 protected resource metadata the resource server should serve (always JSON)."""
    document = resources.protected_resource_metadata(resources.find_registered(resource))
    emit(document, json.dumps(document, indent=2))


@resources_group.command("update")
@click.argument("resource")
@click.option("--name")
@click.option("--scope", help='Replaces the scopes ("" for none).')
def resources_update(resource: str, name: str | None, scope: str | None) -> None:
    """Rename a resource or change its scopes; its identifier never changes."""
    changes: dict[str, Any] = {k: v for k, v in {"name": name, "scope": scope}.items() if v is not None}
    updated = resources.update_resource(resources.find_registered(resource), changes, actor=CLI_ACTOR)
    emit(resource_dict(updated), f"Updated resource {updated.identifier}")


@resources_group.command("delete")
@click.argument("resource")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def resources_delete(resource: str, yes: bool) -> None:
    """Delete a resource; clients lose the permission to request it."""
    found = resources.find_registered(resource)
    if not yes:
        click.confirm(f"Delete resource {found.identifier}?", abort=True)
    identifier = found.identifier
    resources.delete_resource(found, actor=CLI_ACTOR)
    emit({"identifier": identifier, "deleted": True}, f"Deleted resource {identifier}")
