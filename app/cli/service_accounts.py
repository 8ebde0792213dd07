"""`ostiary service-accounts ...`: non-human owners of API keys."""

from __future__ import annotations

import click

from app.cli.common import CLI_ACTOR, Group, all_pages, emit
from app.cli.display import moment, table
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
    account = service_accounts.create_service_account(name, roles=list(roles), scope=scope, actor=CLI_ACTOR)
    emit(service_account_dict(account), f"Created service account {account.name} (sub {account.sub})")


@service_accounts_group.command("list")
def service_accounts_list() -> None:
    found = all_pages(service_accounts.service_account_page)
    rows = [(a.sub, a.name, a.roles, a.scope, moment(a.created_at)) for a in found]
    emit([service_account_dict(a) for a in found],
         table(("SUB", "NAME", "ROLES", "SCOPE", "CREATED"), rows, "No service accounts."))


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
