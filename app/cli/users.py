"""`ostiary users ...`"""

from __future__ import annotations

import sys
from typing import Any

import click
from flask.cli import with_appcontext

from app.cli.common import app_errors, emit, json_option
from app.models import User


def user_dict(user: User) -> dict[str, Any]:
    return {"sub": user.sub, "email": user.email, "username": user.username, "name": user.name,
            "is_admin": user.is_admin, "is_active": user.is_active, "created_at": user.created_at}


@click.group("users")
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
@click.option("--admin", is_flag=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@json_option
@with_appcontext
@app_errors
def users_create(email: str, name: str | None, username: str | None, admin: bool, password_stdin: bool, as_json: bool) -> None:
    """Create a user; the password is prompted for or read from stdin, never an argument."""
    from app.services.users import create_user

    password = _read_password(password_stdin)
    user = create_user(email, password, name=name, username=username, is_admin=admin)
    emit(as_json, user_dict(user), f"Created user {user.email} (sub {user.sub})")


@users_group.command("list")
@json_option
@with_appcontext
def users_list(as_json: bool) -> None:
    from app.services.users import list_users

    found = list_users()
    text = "\n".join(f"{u.sub}  {u.email}{'  admin' if u.is_admin else ''}{'' if u.is_active else '  disabled'}" for u in found)
    emit(as_json, [user_dict(u) for u in found], text or "No users.")
