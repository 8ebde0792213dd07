"""`ostiary serve`: gunicorn with app/gunicorn_conf.py, each worker running its own create_app()."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from app.config import environment, load_settings


class OstiaryServer(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
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

        return create_app()


def run(host: str, port: int, workers: int | None = None, threads: int | None = None) -> None:
    """Serve until stopped. Bad settings fail here, once, rather than in every worker."""
    from app import secret_key

    secret_key(load_settings(environment(), None))
    options: dict[str, Any] = {"bind": f"{host}:{port}"}
    if workers is not None:
        options["workers"] = workers
    if threads is not None:
        options["threads"] = threads
    OstiaryServer(options).run()
