"""`ostiary service-accounts ...`: non-human owners of API keys."""

from __future__ import annotations

from typing import Any

import click

from app.cli.common import CLI_ACTOR, Group, all_pages, emit, warn_of_undefined_scopes
from app.cli.display import details, moment, table
from app.services import service_accounts
from app.services.representations import service_account_dict


@click.group("service-accounts", cls=Group)
def service_accounts_group() -> None:
    """Manage service accounts: they own API keys and never sign in."""


@service_accounts_group.command("create")
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, help="A role (repeatable); `admin` lets its keys use the admin API.")
@click.option("--scope", default="", help='API scopes its keys may carry, e.g. "invoices:read".')
def service_accounts_create(name: str, roles: tuple[str, ...], scope: str) -> None:
    """Create a service account: no email, no password, it only owns API keys."""
    account = service_accounts.create_service_account(name, roles=list(roles), scope=scope, actor=CLI_ACTOR)
    warn_of_undefined_scopes(account.scope)
    emit(service_account_dict(account), f"Created service account {account.name} (sub {account.sub})")


@service_accounts_group.command("list")
def service_accounts_list() -> None:
    """List the service accounts."""
    found = all_pages(service_accounts.service_account_page)
    rows = [(a.sub, a.name, a.roles, a.scope, moment(a.created_at)) for a in found]
    emit([service_account_dict(a) for a in found],
         table(("SUB", "NAME", "ROLES", "SCOPE", "CREATED"), rows, "No service accounts."))


@service_accounts_group.command("show")
@click.argument("sub")
def service_accounts_show(sub: str) -> None:
    """Show a service account (by sub)."""
    found = service_account_dict(service_accounts.get_service_account(sub))
    emit(found, details(found))


@service_accounts_group.command("update")
@click.argument("sub")
@click.option("--name")
@click.option("--role", "roles", multiple=True, help="Its roles: replaces them all (repeatable).")
@click.option("--no-roles", is_flag=True, help="Remove every role.")
@click.option("--scope", help='API scopes its keys may carry ("" for none); its keys lose scopes it loses.')
def service_accounts_update(sub: str, name: str | None, roles: tuple[str, ...], no_roles: bool,
                            scope: str | None) -> None:
    """Rename a service account or change its roles or scopes."""
    changes: dict[str, Any] = {k: v for k, v in {"name": name, "scope": scope}.items() if v is not None}
    if roles or no_roles:
        changes["roles"] = list(roles)
    account = service_accounts.get_service_account(sub)
    updated = service_accounts.update_service_account(account, changes, actor=CLI_ACTOR)
    if scope is not None:
        warn_of_undefined_scopes(updated.scope)
    emit(service_account_dict(updated), f"Updated service account {updated.name} (sub {updated.sub})")


@service_accounts_group.command("delete")
@click.argument("sub")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def service_accounts_delete(sub: str, yes: bool) -> None:
    """Delete a service account and its API keys."""
    account = service_accounts.get_service_account(sub)
    if not yes:
        click.confirm(f"Delete service account {account.name} and its API keys?", abort=True)
    service_accounts.delete_service_account(account, actor=CLI_ACTOR)
    emit({"sub": sub, "deleted": True}, f"Deleted service account {sub}")
