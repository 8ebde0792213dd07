"""`ostiary api-keys ...`: machine credentials traded for access tokens with client_credentials."""

from __future__ import annotations

import time

import click

from app.cli.common import CLI_ACTOR, Group, all_pages, emit
from app.cli.display import details, moment, table
from app.cli.time_options import FUTURE
from app.models import ApiKey
from app.services import api_keys, users
from app.services.representations import api_key_dict


@click.group("api-keys", cls=Group)
def api_keys_group() -> None:
    """Manage API keys of users and service accounts."""


@api_keys_group.command("create")
@click.option("--owner", required=True, help="The owner: a service account's sub, or a user's sub, email or username.")
@click.option("--name", required=True)
@click.option("--scope", default="", help="Scopes of the key: never more than the owner may hold.")
@click.option("--expires", "expires_at", type=FUTURE, metavar="TIME",
              help="When it stops working: ISO 8601 (2027-01-01), Unix seconds, or a duration from now (90d). "
                   "Default: the key does not expire.")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), help="The same as --expires <days>d.")
def api_keys_create(owner: str, name: str, scope: str, expires_at: int | None, expires_in_days: int | None) -> None:
    """Create a key; it is printed once and only its SHA-256 digest is stored."""
    if expires_at is not None and expires_in_days is not None:
        raise click.UsageError("--expires and --expires-in-days exclude each other")
    if expires_in_days is not None:
        expires_at = int(time.time()) + expires_in_days * 86400
    issued = api_keys.create_api_key(users.find_owner(owner), name, scope, expires_at=expires_at, actor=CLI_ACTOR)
    payload = {**api_key_dict(issued.api_key), "key": issued.key}
    emit(payload, f"key_id: {issued.api_key.key_id}\nkey:    {issued.key}\n(shown once: store it now)")


@api_keys_group.command("list")
@click.option("--owner", help="Only the keys of this owner.")
def api_keys_list(owner: str | None) -> None:
    """List API keys (of one owner with --owner): never the keys themselves."""
    who = users.find_owner(owner) if owner else None
    found = all_pages(lambda limit, cursor: api_keys.key_page(who, limit, cursor))
    now = time.time()
    rows = [(k.key_id, k.name, k.owner.sub, k.scope, _status(k, now), moment(k.expires_at, now),
             moment(k.last_used_at, now)) for k in found]
    emit([api_key_dict(k) for k in found],
         table(("KEY ID", "NAME", "OWNER", "SCOPE", "STATUS", "EXPIRES", "LAST USED"), rows, "No API keys."))


def _status(api_key: ApiKey, now: float) -> str:
    if api_key.revoked_at is not None:
        return "revoked"
    return "expired" if api_key.expires_at is not None and api_key.expires_at <= now else "live"


@api_keys_group.command("show")
@click.argument("key_id")
def api_keys_show(key_id: str) -> None:
    """Show an API key: never the key itself, which only its holder has."""
    found = api_key_dict(api_keys.get_api_key(key_id))
    emit(found, details(found))


@api_keys_group.command("revoke")
@click.argument("key_id")
def api_keys_revoke(key_id: str) -> None:
    """Revoke a key: the token endpoint refuses it from the next request on."""
    revoked = api_keys.revoke_api_key(api_keys.get_api_key(key_id), actor=CLI_ACTOR)
    emit(api_key_dict(revoked), f"Revoked API key {revoked.key_id}")
