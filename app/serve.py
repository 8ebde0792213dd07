"""`ostiary serve`: gunicorn running create_app(), keep-alive capable gthread workers."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class OstiaryServer(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from app import create_app

        return create_app()


def run(host: str, port: int, workers: int, threads: int) -> None:
    OstiaryServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            # gthread keeps connections alive; sync workers close each one, which costs clients a handshake.
            "worker_class": "gthread",
            "threads": threads,
            "keepalive": 5,
            "timeout": 30,
            "graceful_timeout": 20,
            "accesslog": None,  # the app writes its own JSON access log
        }
    ).run()
