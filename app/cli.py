"""`ostiary` command line: init, serve, users, clients. Every command takes --json."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from app.config import ConfigError
from app.errors import AppError
from app.models import Client, User
from app.security.keys import KeyError_

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def emit(as_json: bool, payload: Any, text: str) -> None:
    click.echo(json.dumps(payload, indent=2) if as_json else text)


def app_errors(func: Callable) -> Callable:
    """Bad input is a clear message and exit status 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AppError as exc:
            raise click.ClickException(exc.description) from None

    return wrapper


def user_dict(user: User) -> dict[str, Any]:
    return {"sub": user.sub, "email": user.email, "username": user.username, "name": user.name,
            "is_admin": user.is_admin, "is_active": user.is_active, "created_at": user.created_at}


def client_dict(client: Client) -> dict[str, Any]:
    return {"client_id": client.client_id, "name": client.name, "public": client.is_public,
            "redirect_uris": client.redirect_uris, "post_logout_redirect_uris": client.post_logout_redirect_uris,
            "grant_types": client.grant_types, "scope": client.scope, "audience": client.audience}


def _create_app() -> Flask:
    from app import create_app

    try:
        return create_app()
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


class OstiaryGroup(FlaskGroup):
    """Operational failures (database, key files) are one clear line, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise click.ClickException(f"database error: {reason} (has `ostiary init` been run?)") from None
        except (KeyError_, OSError) as exc:
            raise click.ClickException(str(exc)) from None


cli = OstiaryGroup(create_app=_create_app, add_default_commands=False, help="Ostiary identity provider.")


@cli.command("init")
@click.option("--demo", is_flag=True, help="Also create a demo admin and a demo client (first run only).")
@json_option
@with_appcontext
def init_command(demo: bool, as_json: bool) -> None:
    """Migrate the database and make sure a signing key exists. Safe to run again."""
    from flask_migrate import upgrade

    from app.oauth.signing import keyring

    upgrade()
    result: dict[str, Any] = {"database": "migrated", "kid": keyring().current.kid}
    lines = [f"Database migrated. Signing key: {result['kid']}"]
    if demo:
        from app.cli_demo import create_demo

        result["demo"] = create_demo()
        lines.append(result["demo"]["instructions"])
    emit(as_json, result, "\n".join(lines))


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64))
def serve_command(host: str, port: int, workers: int, threads: int) -> None:
    """Serve through gunicorn."""
    from app.serve import run

    run(host=host, port=port, workers=workers, threads=threads)


@cli.group("users")
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


@cli.group("clients")
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

