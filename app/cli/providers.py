"""`ostiary providers ...`: upstream identity providers people may sign in through (README "Federation")."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from app.cli.common import CLI_ACTOR, Group, emit
from app.cli.display import details, table
from app.services import providers
from app.services.providers import provider_dict


@click.group("providers", cls=Group)
def providers_group() -> None:
    """Manage upstream identity providers (sign in with Google, Microsoft, GitHub, another OpenID provider)."""


def _read_secret(secret_stdin: bool) -> str:
    if secret_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise click.UsageError("no terminal to prompt on: pass the secret on standard input with --client-secret-stdin")
    return click.prompt("Client secret", hide_input=True)


def _pairs(option: str) -> Callable[[click.Context, click.Parameter, tuple[str, ...]], dict[str, str] | None]:
    def parse(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str] | None:
        if not values:
            return None
        pairs = {}
        for item in values:
            ours, sep, theirs = item.partition("=")
            if not sep or not ours or not theirs:
                raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint=option)
            pairs[ours] = theirs
        return pairs
    return parse


def _settings(options: Callable[..., Any]) -> Callable[..., Any]:
    """The settings `create` and `update` share."""
    for decorator in reversed([
        click.option("--display-name", help='The button says "Continue with DISPLAY NAME".'),
        click.option("--issuer", help="OpenID Connect: the issuer URL (its discovery document configures the rest)."),
        click.option("--client-id", help="The client id registered at the provider."),
        click.option("--client-secret-stdin", is_flag=True, help="Read the client secret from standard input."),
        click.option("--scope", help='Scopes asked of the provider, e.g. "openid email profile".'),
        click.option("--authorization-endpoint", help="OAuth 2.0 (or to override discovery): the authorize URL."),
        click.option("--token-endpoint", help="OAuth 2.0 (or to override discovery): the token URL."),
        click.option("--userinfo-endpoint", help="OAuth 2.0 (or to override discovery): the user-info URL."),
        click.option("--token-endpoint-auth-method", type=click.Choice(providers.AUTH_METHODS)),
        click.option("--claim", "claim_mapping", multiple=True, callback=_pairs("--claim"),
                     help="OURS=THEIRS: take our claim (sub, email, email_verified, name, picture, groups) from "
                          "the provider's member THEIRS (repeatable; replaces the mapping)."),
        click.option("--role", "role_mapping", multiple=True, callback=_pairs("--role"),
                     help="GROUP=ROLE: accounts created through the provider in GROUP get ROLE (repeatable)."),
        click.option("--trusted-domain", "trusted_domains", multiple=True,
                     help="A domain the provider is authoritative for: its verified emails there link an existing "
                          "verified account without a confirmation (repeatable; replaces the list)."),
        click.option("--sign-up/--no-sign-up", "allow_sign_up", default=None,
                     help="Create accounts just in time for new people (default: yes, where OSTIARY_SIGNUP is open "
                          "or in a --trusted-domain)."),
        click.option("--enable/--disable", "enabled", default=None, help="Offer the provider on the sign-in page."),
    ]):
        options = decorator(options)
    return options


def _changes(options: dict[str, Any]) -> dict[str, Any]:
    return {name: (list(value) if isinstance(value, tuple) else value) for name, value in options.items()
            if value is not None and value != ()}


@providers_group.command("create")
@click.option("--name", required=True, help="Lower-case letters, digits and '-': in the redirect URI, fixed.")
@click.option("--preset", type=click.Choice(list(providers.PRESETS)), help="Google, Microsoft Entra ID or GitHub.")
@click.option("--kind", type=click.Choice(["oidc", "oauth2"]), help="Without a preset: oidc (default) or oauth2.")
@click.option("--tenant", help="Microsoft: a tenant id or domain, or common / organizations / consumers.")
@_settings
def providers_create(name: str, preset: str | None, kind: str | None, tenant: str | None, client_id: str | None,
                     client_secret_stdin: bool, **settings: Any) -> None:
    """Add a provider; register the printed redirect URI at the provider. The secret is never shown again."""
    if not client_id:
        raise click.UsageError("--client-id is required")
    provider = providers.create_provider(
        name, client_id=client_id, client_secret=_read_secret(client_secret_stdin), preset=preset, kind=kind,
        tenant=tenant, issuer=settings.pop("issuer"), actor=CLI_ACTOR, **_changes(settings))
    found = provider_dict(provider)
    emit(found, f"Created provider {provider.name}\nredirect_uri: {found['redirect_uri']}\n"
                "(register it at the provider as the client's redirect URI)")


@providers_group.command("list")
def providers_list() -> None:
    """List the providers."""
    found = providers.list_providers()
    rows = [(p.name, p.display_name, p.preset or p.kind, p.issuer or p.authorization_endpoint,
             "enabled" if p.enabled else "disabled", providers.redirect_uri(p)) for p in found]
    emit([provider_dict(p) for p in found],
         table(("NAME", "DISPLAY NAME", "KIND", "ISSUER", "STATUS", "REDIRECT URI"), rows, "No providers."))


@providers_group.command("show")
@click.argument("name")
def providers_show(name: str) -> None:
    """Show a provider's configuration (never its client secret)."""
    found = provider_dict(providers.get_provider(name))
    emit(found, details(found))


@providers_group.command("update")
@click.argument("name")
@_settings
def providers_update(name: str, client_secret_stdin: bool, **settings: Any) -> None:
    """Change a provider's settings, or replace its client secret with --client-secret-stdin."""
    provider = providers.get_provider(name)
    secret = _read_secret(True) if client_secret_stdin else None
    providers.update_provider(provider, _changes(settings), client_secret=secret, actor=CLI_ACTOR)
    found = provider_dict(provider)
    emit(found, f"Updated provider {provider.name}")


@providers_group.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def providers_delete(name: str, yes: bool) -> None:
    """Delete a provider and the identities linked through it (the accounts stay)."""
    provider = providers.get_provider(name)
    if not yes:
        click.confirm(f"Delete provider {name} and every identity linked through it?", abort=True)
    providers.delete_provider(provider, actor=CLI_ACTOR)
    emit({"name": name, "deleted": True}, f"Deleted provider {name}")
