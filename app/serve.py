"""`ostiary serve`: gunicorn with app/gunicorn_conf.py (or granian with the same numbers, app/granian_server.py),
each worker running its own create_app()."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

from app.config import ENV_PREFIX, database_url, engine_options, environment, is_loopback, load_settings
from app.schema import check_before_serving

DEFAULT_PORT = 8000
SERVERS = ("gunicorn", "granian")


@dataclass(frozen=True)
class Plan:
    """What `serve` binds and the settings its workers add: the issuer when none is configured."""

    port: int
    overrides: dict[str, Any] = field(default_factory=dict)
    warning: str | None = None


class OstiaryServer(BaseApplication):
    def __init__(self, options: dict[str, Any], overrides: dict[str, Any] | None = None) -> None:
        self.options = options
        self.overrides = overrides or {}
        super().__init__()

    def load_config(self) -> None:
        """app/gunicorn_conf.py, then GUNICORN_CMD_ARGS, then the options given to `ostiary serve`."""
        from app import gunicorn_conf

        for name, value in vars(gunicorn_conf).items():
            if name in self.cfg.settings:
                self.cfg.set(name, value)
        from_environment = self.cfg.parser().parse_args(self.cfg.get_cmd_args_from_env())
        for name, value in vars(from_environment).items():
            if value is not None and name != "args":
                self.cfg.set(name, value)
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        from app import create_app

        return create_app(self.overrides)


def plan(port: int | None, environ: Mapping[str, str] | None = None) -> Plan:
    """The port: --port, else the port a loopback OSTIARY_ISSUER names, else 8000. The issuer: OSTIARY_ISSUER,
    else the URL served, http://localhost:<port>, so discovery and tokens name where the server really answers.
    Bad settings fail here (ConfigError), once, rather than in every worker."""
    environ = environment() if environ is None else environ
    settings = load_settings(environ, None)
    if not environ.get(f"{ENV_PREFIX}ISSUER"):
        port = DEFAULT_PORT if port is None else port
        return Plan(port, {"ISSUER": f"http://localhost:{port}"})
    issuer = settings["ISSUER"]
    parts = urlsplit(issuer)
    if parts.scheme != "http" or not is_loopback(parts.hostname):
        # gunicorn serves plain http: an https issuer is a TLS proxy's address, and its port is the proxy's.
        return Plan(DEFAULT_PORT if port is None else port)
    issuer_port = parts.port or 80
    port = (parts.port or DEFAULT_PORT) if port is None else port
    warning = None if port == issuer_port else (
        f"{ENV_PREFIX}ISSUER={issuer} names port {issuer_port}, but this server listens on {port}: discovery, tokens "
        f"and redirects send clients where this server does not answer (unless a proxy there forwards to it). "
        f"Unset {ENV_PREFIX}ISSUER, or serve --port {issuer_port}.")
    return Plan(port, warning=warning)


def run(host: str, planned: Plan, workers: int | None = None, threads: int | None = None,
        server: str = "gunicorn") -> None:
    """Serve until stopped; never a database without this release's schema (SchemaNotReady)."""
    from app import secret_key

    settings = load_settings(environment(), planned.overrides)
    secret_key(settings)
    check_before_serving(database_url(settings["DATABASE_URL"]), engine_options(settings))
    if server == "granian":
        from app import granian_server

        granian_server.run(host, planned.port, workers, threads, planned.overrides)
        return
    options: dict[str, Any] = {"bind": f"{host}:{planned.port}"}
    if workers is not None:
        options["workers"] = workers
    if threads is not None:
        options["threads"] = threads
    OstiaryServer(options, planned.overrides).run()
