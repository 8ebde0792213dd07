"""Ostiary as separate processes: `ostiary serve` (gunicorn, several workers) and the `ostiary` command."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

OSTIARY = Path(sys.executable).with_name("ostiary")
SECRET_KEY = "ops-test-secret-key-that-is-long-enough-0123456789"
READY_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ostiary_env(database_url: str, keys_dir: Path, port: int, **settings: Any) -> dict[str, str]:
    """The environment of one installation: OSTIARY_* from the caller's shell never leaks in."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    env = clean | {
        "OSTIARY_DATABASE_URL": database_url,
        "OSTIARY_KEYS_DIR": str(keys_dir),
        "OSTIARY_ISSUER": f"http://127.0.0.1:{port}",
        "OSTIARY_SECRET_KEY": SECRET_KEY,
        "OSTIARY_ARGON2_TIME_COST": "1",
        "OSTIARY_ARGON2_MEMORY_KIB": "1024",
        "OSTIARY_ARGON2_PARALLELISM": "1",
        "OSTIARY_LOG_LEVEL": "WARNING",
    }
    return env | {f"OSTIARY_{name}": str(value) for name, value in settings.items()}


def ostiary(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(OSTIARY), *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=60, check=False)


def ostiary_json(env: dict[str, str], *args: str) -> Any:
    result = ostiary(env, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@contextmanager
def serving(env: dict[str, str], log_path: Path, workers: int = 2) -> Iterator[str]:
    """`ostiary serve` on the issuer's port until the block ends; yields the base URL once /readyz answers 200."""
    base_url = env["OSTIARY_ISSUER"]
    port = base_url.rpartition(":")[2]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(OSTIARY), "serve", "--port", port, "--workers", str(workers), "--threads", "4"],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(base_url, process, log_path)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"ostiary serve exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except requests.RequestException:  # refused before the bind, timed out while workers boot
            pass
        time.sleep(0.1)
    raise AssertionError(f"ostiary serve was not ready in {READY_TIMEOUT_SECONDS} s:\n{log_path.read_text()[-3000:]}")
