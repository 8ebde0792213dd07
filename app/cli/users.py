"""`ostiary users ...`"""

from __future__ import annotations

import sys
from typing import Any

import click
from flask import current_app

from app.cli.common import CLI_ACTOR, Group, all_pages, emit, warn, warn_of_undefined_scopes
from app.cli.display import details, moment, table
from app.services import invitations, lockouts, second_factors, users
from app.services.representations import user_dict


@click.group("users", cls=Group)
def users_group() -> None:
    """Manage users."""


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise click.UsageError("no terminal to prompt on: pass the password on standard input with --password-stdin")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_group.command("create")
@click.argument("email")
@click.option("--name")
@click.option("--username")
@click.option("--admin", is_flag=True, help="Give the user the admin role.")
@click.option("--role", "roles", multiple=True, help="A role (repeatable).")
@click.option("--scope", default="", help='API scopes the user may hold in API keys, e.g. "api:read".')
@click.option("--email-verified", is_flag=True, help="The email address is known to be the user's.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(email: str, name: str | None, username: str | None, admin: bool, roles: tuple[str, ...], scope: str,
                 email_verified: bool, password_stdin: bool) -> None:
    """Create a user; the password is prompted for or read from stdin, never an argument."""
    password = _read_password(password_stdin)
    user = users.create_user(email, password, name=name, username=username, is_admin=admin, roles=list(roles),
                             scope=scope, email_verified=email_verified, actor=CLI_ACTOR)
    warn_of_undefined_scopes(user.scope)
    emit(user_dict(user), f"Created user {user.email} (sub {user.sub})")


@users_group.command("invite")
@click.argument("email")
@click.option("--name", help="The invitee's name, offered on the invitation page.")
def users_invite(email: str, name: str | None) -> None:
    """Mail EMAIL a single-use link to create an account and choose a password."""
    invitation = invitations.invite(email, name=name, actor=CLI_ACTOR)
    valid_days = current_app.config["INVITATION_TTL_SECONDS"] / 86400
    emit({"email": invitation.email, "name": invitation.name},
         f"Invited {invitation.email}: the link works once, for {valid_days:g} days")


@users_group.command("list")
@click.option("--search", help="Only users whose email, username or name contains this.")
def users_list(search: str | None) -> None:
    """List people (service accounts have their own list), oldest first."""
    found = all_pages(lambda limit, cursor: users.user_page(search, limit, cursor))
    rows = [(u.sub, u.email, u.username, u.name, u.roles, "active" if u.is_active else "disabled", moment(u.created_at))
            for u in found]
    emit([user_dict(u) for u in found],
         table(("SUB", "EMAIL", "USERNAME", "NAME", "ROLES", "STATUS", "CREATED"), rows, "No users."))


@users_group.command("show")
@click.argument("user")
def users_show(user: str) -> None:
    """Show a user (by sub, email or username)."""
    found = users.find_person(user)
    emit(user_dict(found), details(user_dict(found)))


@users_group.command("update")
@click.argument("user")
@click.option("--email")
@click.option("--username")
@click.option("--name")
@click.option("--role", "roles", multiple=True, help="The user's roles: replaces them all (repeatable).")
@click.option("--no-roles", is_flag=True, help="Remove every role.")
@click.option("--scope", help='API scopes the user may hold in API keys ("" for none).')
@click.option("--email-verified/--no-email-verified", default=None,
              help="Is the email address known to be the user's? (A new --email is unverified unless given.)")
def users_update(user: str, email: str | None, username: str | None, name: str | None, roles: tuple[str, ...],
                 no_roles: bool, scope: str | None, email_verified: bool | None) -> None:
    """Change a user's profile, roles or API scopes."""
    changes: dict[str, Any] = {k: v for k, v in {"email": email, "username": username, "name": name,
                                                 "scope": scope, "email_verified": email_verified}.items()
                               if v is not None}
    if roles or no_roles:
        changes["roles"] = list(roles)
    updated = users.update_user(users.find_person(user), changes, actor=CLI_ACTOR)
    if scope is not None:
        warn_of_undefined_scopes(updated.scope)
    emit(user_dict(updated), f"Updated user {updated.email}")


@users_group.command("disable")
@click.argument("user")
def users_disable(user: str) -> None:
    """Disable a user: their sessions and refresh tokens are revoked at once."""
    found = users.disable_user(users.find_person(user), actor=CLI_ACTOR)
    emit(user_dict(found), f"Disabled user {found.email}; their sessions and refresh tokens were revoked")


@users_group.command("enable")
@click.argument("user")
def users_enable(user: str) -> None:
    """Enable a disabled user: they may sign in again."""
    found = users.enable_user(users.find_person(user), actor=CLI_ACTOR)
    emit(user_dict(found), f"Enabled user {found.email}")


@users_group.command("unlock")
@click.argument("user")
def users_unlock(user: str) -> None:
    """Lift a sign-in lockout: forget the user's failed sign-ins now, not at the end of the lockout period."""
    found = users.find_person(user)
    if not current_app.config["REDIS_URL"]:
        warn("OSTIARY_REDIS_URL is not set, so each server process counts failed sign-ins on its own, out of this "
             "command's reach: a lockout there ends by itself within OSTIARY_SIGN_IN_LOCKOUT_SECONDS "
             f"({current_app.config['SIGN_IN_LOCKOUT_SECONDS']} s), or when the server restarts.")
    cleared = lockouts.unlock(found, actor=CLI_ACTOR)
    locked = cleared >= current_app.config["SIGN_IN_FAILURES_PER_ACCOUNT"]
    emit({"sub": found.sub, "failures_cleared": cleared},
         f"Unlocked {found.email}: {cleared} failed sign-ins forgotten" if locked
         else f"{found.email} was not locked out ({cleared or 'no'} failed sign-ins counted; now none)")


@users_group.command("remove-factors")
@click.argument("user")
def users_remove_factors(user: str) -> None:
    """Remove a user's authenticator app, passkeys and recovery codes; their sessions end and their apps' tokens
    are revoked. For a person who lost every second factor."""
    found = users.find_person(user)
    removed = second_factors.remove_all(found, actor=CLI_ACTOR)
    emit({"sub": found.sub, "totp": removed.totp, "passkeys": removed.passkeys,
          "recovery_codes": removed.recovery_codes_left},
         f"Removed the second factors of {found.email} (authenticator app: {'yes' if removed.totp else 'no'}, "
         f"passkeys: {removed.passkeys}, unused recovery codes: {removed.recovery_codes_left}); their sessions and "
         "tokens were revoked")


@users_group.command("set-password")
@click.argument("user")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--revoke-api-keys", is_flag=True, help="Also revoke the user's API keys.")
def users_set_password(user: str, password_stdin: bool, revoke_api_keys: bool) -> None:
    """Set a user's password; their sessions end and their apps' tokens are revoked."""
    found = users.find_person(user)
    revoked = users.set_password(found, _read_password(password_stdin), actor=CLI_ACTOR, revoke_api_keys=revoke_api_keys)
    emit({"sub": found.sub, "password": "set", "api_keys_revoked": revoked},
         f"Password set for {found.email}; their sessions and tokens were revoked"
         + (f", and {revoked} API key{'s' if revoked != 1 else ''}" if revoke_api_keys else ""))


@users_group.command("delete")
@click.argument("user")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def users_delete(user: str, yes: bool) -> None:
    """Delete a user and everything issued to them."""
    found = users.find_person(user)
    if not yes:
        click.confirm(f"Delete {found.email} and everything issued to them?", abort=True)
    sub = found.sub
    users.delete_user(found, actor=CLI_ACTOR)
    emit({"sub": sub, "deleted": True}, f"Deleted user {sub}")
