"""`ostiary` command line: one module per command group, each command built by app.cli.common.command."""

from __future__ import annotations

import logging
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo
from flask_migrate import upgrade  # type: ignore[import-untyped]

from app import create_app, serve
from app.cli.api_keys import api_keys_group
from app.cli.audit import audit_group
from app.cli.clients import clients_group
from app.cli.common import CommandError, Group, emit, warn
from app.cli.consents import consents_group
from app.cli.demo import create_demo
from app.cli.keys import keys_group
from app.cli.mail import mail_group
from app.cli.ops import purge_command
from app.cli.providers import providers_group
from app.cli.resources import resources_group
from app.cli.service_accounts import service_accounts_group
from app.cli.users import users_group
from app.config import environment
from app.extensions import db
from app.oauth.signing import keyring
from app.schema import CURRENT, NEWER, OUTDATED, UNINITIALISED, latest_revision, schema_state


def _create_app() -> Flask:
    """The app, with a ConfigError reported by the command that needed it (app/cli/common.py)."""
    app = create_app()
    # The JSON log lines (migrations, audit events) are for the server's log collector; an operator's terminal
    # shows the command's result, and the audit trail keeps its rows (`ostiary audit list`). Warnings and
    # errors still show, and OSTIARY_LOG_LEVEL=DEBUG shows everything.
    if app.config["LOG_LEVEL"].upper() != "DEBUG":
        logging.getLogger().setLevel(logging.WARNING)
    return app


class OstiaryCLI(Group):
    """Ostiary's own commands: not Flask's (--app, --debug, --env-file) nor its plugins' developer commands
    (`db migrate`), which FlaskGroup would offer."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        # The app the commands' with_appcontext loads (a test runner passes its own).
        extra.setdefault("obj", ScriptInfo(create_app=_create_app, set_debug_flag=False))
        return super().make_context(info_name, args, parent, **extra)


@click.group("ostiary", cls=OstiaryCLI)
@click.version_option(package_name="ostiary", message="%(prog)s %(version)s")
def cli() -> None:
    """Ostiary identity provider."""


@cli.command("init")
@click.option("--demo", is_flag=True, help="Also create a demo admin and a demo client (first run only).")
def init_command(demo: bool) -> None:
    """Migrate the database and make sure a signing key exists. Safe to run again."""
    state, revision = schema_state(db.session.connection())
    db.session.commit()  # the migrations run on a connection of their own
    if state == NEWER:
        raise CommandError("database_error", f"the database schema is at {revision}, which this release does not "
                                             f"know (its latest is {latest_revision()}): a later release migrated it")
    upgrade()
    result: dict[str, Any] = {"database": "migrated", "kid": keyring().current.kid}
    done = {UNINITIALISED: f"Database initialised: schema {latest_revision()}.",
            OUTDATED: f"Database migrated from schema {revision} to {latest_revision()}.",
            CURRENT: f"Database already at schema {latest_revision()}."}[state]
    lines = [f"{done} Signing key: {result['kid']}", served_at(current_app.config["ISSUER"])]
    if demo:
        result["demo"] = create_demo()
        lines.append(result["demo"]["instructions"])
    emit(result, "\n".join(lines))


def served_at(issuer: str) -> str:
    """Where `ostiary serve` will answer: the configured issuer, else http://localhost:8000 (app/serve.py)."""
    if environment().get("OSTIARY_ISSUER"):
        return f"Serve it with `ostiary serve`, at {issuer}."
    return f"Serve it with `ostiary serve`, at {issuer} (or with `ostiary serve --port N`, at http://localhost:N)."


# No app in this process: each worker creates its own after the fork (see app/gunicorn_conf.py).
@cli.command("serve", needs_app=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535),
              help="[default: the port of a loopback http OSTIARY_ISSUER, else 8000]")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes  [default: one per CPU]")
@click.option("--threads", type=click.IntRange(1, 64), help="Threads per worker  [default: 4]")
@click.option("--server", type=click.Choice(serve.SERVERS), default="gunicorn", show_default=True,
              envvar="OSTIARY_SERVER", help="The HTTP server (README \"Serving\" says what each keeps).")
def serve_command(host: str, port: int | None, workers: int | None, threads: int | None, server: str) -> None:
    """Serve through gunicorn or granian. Without OSTIARY_ISSUER the issuer is the URL served,
    http://localhost:<port>."""
    planned = serve.plan(port)
    if planned.warning:
        warn(planned.warning)
    serve.run(host, planned, workers=workers, threads=threads, server=server)


for group in (users_group, clients_group, resources_group, api_keys_group, service_accounts_group, consents_group,
              keys_group, audit_group, purge_command, mail_group, providers_group):
    cli.add_command(group)
