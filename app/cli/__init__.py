"""`ostiary` command line. Every command takes --json; failures are one line, never a traceback."""

from __future__ import annotations

import sys
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup, ScriptInfo
from flask_migrate import upgrade
from sqlalchemy.exc import SQLAlchemyError

from app import create_app
from app.cli.api_keys import api_keys_group
from app.cli.audit import audit_group
from app.cli.clients import clients_group
from app.cli.common import emit, json_option
from app.cli.demo import create_demo
from app.cli.keys import keys_group
from app.cli.mail import mail_group
from app.cli.ops import purge_command
from app.cli.resources import resources_group
from app.cli.service_accounts import service_accounts_group
from app.cli.users import users_group
from app.config import ConfigError
from app.oauth.signing import keyring
from app.security.keys import KeyError_
from app.serve import run


def _create_app() -> Flask:
    try:
        return create_app()
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


class OstiaryCLI(AppGroup):
    """Ostiary's own commands: not Flask's (--app, --debug, --env-file) nor its plugins' developer commands
    (`db migrate`, `limiter`), which FlaskGroup would offer. Operational failures (database, key files) are
    one clear line, never a traceback."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        # The app the commands' with_appcontext loads (a test runner passes its own).
        extra.setdefault("obj", ScriptInfo(create_app=_create_app, set_debug_flag=False))
        return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise click.ClickException(f"database error: {reason} (has `ostiary init` been run?)") from None
        except (KeyError_, OSError) as exc:
            raise click.ClickException(str(exc)) from None


@click.group("ostiary", cls=OstiaryCLI)
@click.version_option(package_name="ostiary", message="%(prog)s %(version)s")
def cli() -> None:
    """Ostiary identity provider."""


@cli.command("init")
@click.option("--demo", is_flag=True, help="Also create a demo admin and a demo client (first run only).")
@json_option
def init_command(demo: bool, as_json: bool) -> None:
    """Migrate the database and make sure a signing key exists. Safe to run again."""
    upgrade()
    result: dict[str, Any] = {"database": "migrated", "kid": keyring().current.kid}
    lines = [f"Database migrated. Signing key: {result['kid']}"]
    if demo:
        result["demo"] = create_demo()
        lines.append(result["demo"]["instructions"])
    emit(as_json, result, "\n".join(lines))


# No app in this process: each gunicorn worker creates its own after the fork (see app/gunicorn_conf.py).
@cli.command("serve", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes  [default: one per CPU]")
@click.option("--threads", type=click.IntRange(1, 64), help="Threads per worker  [default: 4]")
def serve_command(host: str, port: int, workers: int | None, threads: int | None) -> None:
    """Serve through gunicorn."""
    try:
        run(host=host, port=port, workers=workers, threads=threads)
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


for group in (users_group, clients_group, resources_group, api_keys_group, service_accounts_group, keys_group,
              audit_group, purge_command, mail_group):
    cli.add_command(group)
