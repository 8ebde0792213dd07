"""Ostiary as separate processes: the `ostiary` command, `ostiary serve` on a free port, and a poller to wait with."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Self, TypeVar

import requests

from tests.settings import SERVED_SETTINGS, as_env, installation

OSTIARY = Path(sys.executable).with_name("ostiary")
START_TIMEOUT_SECONDS = 30
# The server `serve` runs where a test does not name one: OSTIARY_TEST_SERVER=granian runs the served tests on it.
TEST_SERVER = os.environ.get("OSTIARY_TEST_SERVER", "gunicorn")

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def eventually(check: Callable[[], T], timeout: float = 10, interval: float = 0.05, what: str = "the condition",
               ignoring: tuple[type[BaseException], ...] = ()) -> T:
    """Call check() until it returns something true, and return that; an exception of `ignoring` counts as "not
    yet", any other is raised at once. After `timeout` seconds: AssertionError naming `what` and the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            last: Any = check()
        except ignoring as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen in {timeout} s (last: {last!r})")
        time.sleep(interval)


def ostiary_env(database_url: str, keys_dir: Path, port: int, **settings: Any) -> dict[str, str]:
    """The environment of one installation served on `port` (its issuer): the one settings table, as_env()."""
    return as_env(installation(database_url, keys_dir, f"http://127.0.0.1:{port}", **(SERVED_SETTINGS | settings)))


def ostiary(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, run as an operator runs it: a subprocess with its own environment."""
    return subprocess.run(
        [str(OSTIARY), *args], env=env, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True, text=True, timeout=60, check=False,
    )


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def ostiary_json(env: dict[str, str], *args: str) -> Any:
    return ok_json(ostiary(env, *args, "--json"))


@dataclass
class Node:
    """One `ostiary serve` process (a server's master and its workers) on its own port, started once `ready_path`
    answers 200: /readyz (database and keys usable) by default, /healthz where the database may be away."""

    env: dict[str, str]
    log_path: Path
    workers: int = 2
    threads: int = 4
    port: int = field(default_factory=free_port)
    ready_path: str = "/readyz"
    name_port: bool = True  # False: `ostiary serve` finds the port itself (from the issuer), as an operator's would
    server: str = TEST_SERVER
    process: subprocess.Popen | None = None
    _log: BinaryIO | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Node:
        self._log = self.log_path.open("ab")
        port = ["--port", str(self.port)] if self.name_port else []
        self.process = subprocess.Popen(
            [str(OSTIARY), "serve", *port, "--workers", str(self.workers), "--threads", str(self.threads),
             "--server", self.server],
            env=self.env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )
        try:
            eventually(self._ready, timeout=START_TIMEOUT_SECONDS, interval=0.1, what=f"{self.url}{self.ready_path}",
                       ignoring=(requests.RequestException,))
        except AssertionError as exc:
            self.stop()
            raise AssertionError(f"ostiary serve did not start: {exc}\n{self.log()}") from None
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"ostiary serve exited with {self.process.returncode}")
        return requests.get(f"{self.url}{self.ready_path}", timeout=5).status_code == 200

    def stop(self) -> None:
        """SIGTERM: the server's graceful shutdown, as an orchestrator would stop a node."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextmanager
def serve(env: dict[str, str], log_path: Path, workers: int = 2, threads: int = 4, port: int | None = None,
          **options: Any) -> Iterator[Node]:
    """`ostiary serve` until the block ends; on the issuer's port unless another is named (a node behind a proxy or
    a load balancer has its own), and on a free one where the environment names no issuer. `options`: Node's."""
    if port is None:
        issuer = env.get("OSTIARY_ISSUER")
        port = int(issuer.rpartition(":")[2]) if issuer else free_port()
    with Node(env, log_path, workers=workers, threads=threads, port=port, **options) as node:
        yield node
