"""Ostiary nodes for the operations tests: `ostiary serve` on any port, and databases of their own on PostgreSQL."""

from __future__ import annotations

import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Self

import psycopg
import pytest
import requests
from flask import Flask
from flask_migrate import upgrade

from app import create_app
from app.extensions import db
from tests.ops.ostiary_process import OSTIARY, SECRET_KEY, free_port

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
START_TIMEOUT_SECONDS = 30


@contextmanager
def postgres_database(topic: str) -> Iterator[str]:
    """A new, empty database for one test, dropped afterwards; skipped when PostgreSQL is not running here.

    The name is unique per run: other people's test runs on this server must never drop ours.
    """
    name = f"ostiary_{topic}_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc})")
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def migrated_app(database_url: str, keys_dir: Path, issuer: str) -> Iterator[Flask]:
    """An app in this process on the nodes' database and keys, for set-up and checks; migrated like `ostiary init`."""
    app = create_app({
        "DATABASE_URL": database_url, "KEYS_DIR": str(keys_dir), "ISSUER": issuer, "SECRET_KEY": SECRET_KEY,
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 1024, "ARGON2_PARALLELISM": 1,
    })
    with app.app_context():
        upgrade()
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()  # before the database is dropped


@dataclass
class Node:
    """One `ostiary serve` process (a gunicorn master and its workers) listening on its own port."""

    env: dict[str, str]
    log_path: Path
    workers: int = 2
    threads: int = 4
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    _log: BinaryIO | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Node:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(OSTIARY), "serve", "--port", str(self.port), "--workers", str(self.workers),
             "--threads", str(self.threads)],
            env=self.env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"ostiary serve did not start (exit status {self.process.returncode}):\n{self.log()}")

    def stop(self) -> None:
        """SIGTERM: gunicorn's graceful shutdown, as an orchestrator would stop a node."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn workers of a master, from /proc."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []
