"""What `ostiary serve` promises an operator, under each server it runs: a request in flight when SIGTERM comes is
answered before the server exits, a second server on a taken port does not start, systemd is told when it is ready,
idle connections are kept 75 s, and a worker whose Python is stuck is replaced."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests

from app.serve import SERVERS
from tests.ops.nodes import worker_pids
from tests.processes import OSTIARY, Node, eventually, free_port, ostiary_env, ostiary_json, serve

# Past hyper's default header read timeout (30 s), which also ends an idle connection; below the 75 s keep-alive.
IDLE_SECONDS = 35
STUCK_AFTER_SECONDS = 30  # app/gunicorn_conf.py `timeout`


@pytest.fixture
def installed(tmp_path: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """A SQLite installation and a client_credentials client."""
    env = ostiary_env(f"sqlite:///{tmp_path / 'served.db'}", tmp_path / "keys", free_port())
    ostiary_json(env, "init")
    machine = ostiary_json(env, "clients", "create", "--name", "served", "--grant-type", "client_credentials",
                           "--scope", "api:read")
    return env, machine


def connect(node: Node) -> socket.socket:
    return socket.create_connection(("127.0.0.1", node.port), timeout=15)


def read_response(sock: socket.socket) -> bytes:
    """One whole HTTP/1.1 response with a Content-Length."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536) or b"<closed>"
        if received.endswith(b"<closed>"):
            return received
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536) or b""
    return head + b"\r\n\r\n" + body


def token_request(machine: dict[str, Any], body: bytes) -> bytes:
    credentials = base64.b64encode(f"{machine['client_id']}:{machine['client_secret']}".encode()).decode()
    return (f"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {credentials}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n").encode()


@pytest.mark.parametrize("server", SERVERS)
def test_a_request_in_flight_at_sigterm_is_answered(installed, tmp_path, server):
    env, machine = installed
    body = b"grant_type=client_credentials&scope=api%3Aread"
    with serve(env, tmp_path / "serve.log", workers=1, server=server) as node, connect(node) as in_flight:
        in_flight.sendall(token_request(machine, body) + body[:10])  # the rest of the body is still to come
        time.sleep(1)  # the worker is reading the body
        node.process.send_signal(signal.SIGTERM)
        time.sleep(1)
        in_flight.sendall(body[10:])
        answer = read_response(in_flight)
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
        assert b'"access_token"' in answer
        assert node.process.wait(timeout=25) == 0


@pytest.mark.parametrize("server", SERVERS)
def test_a_second_server_on_a_port_in_use_does_not_start(installed, tmp_path, server):
    env, _ = installed
    with serve(env, tmp_path / "first.log", workers=1, server="granian") as first:
        second = subprocess.run([str(OSTIARY), "serve", "--port", str(first.port), "--workers", "1", "--server", server],
                                env=env, capture_output=True, text=True, timeout=60, check=False)
        assert second.returncode != 0, second.stderr
        for _ in range(20):  # every connection reaches the first: none were taken by the second
            with connect(first) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                assert read_response(sock).startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize("server", SERVERS)
def test_systemd_is_told_when_the_server_is_ready(installed, tmp_path, server):
    """deploy/ostiary.service is Type=notify: systemd starts what depends on Ostiary once READY=1 arrives."""
    env, _ = installed
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(tmp_path / "notify"))
        notify.settimeout(30)
        with serve(env | {"NOTIFY_SOCKET": str(tmp_path / "notify")}, tmp_path / "serve.log", workers=1,
                   server=server):
            assert b"READY=1" in notify.recv(4096).split(b"\n")


def nodes_of_each_server(stack: ExitStack, env: dict[str, str], tmp_path: Path) -> dict[str, Node]:
    """One node per server, side by side, so a test waits its time once for both."""
    return {server: stack.enter_context(serve(env, tmp_path / f"{server}.log", workers=1, port=free_port(),
                                              server=server))
            for server in SERVERS}


@pytest.mark.slow
def test_an_idle_connection_is_kept_past_thirty_seconds(installed, tmp_path):
    env, _ = installed
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with ExitStack() as stack:
        connections = {server: stack.enter_context(connect(node))
                       for server, node in nodes_of_each_server(stack, env, tmp_path).items()}
        for sock in connections.values():
            sock.sendall(request)
            assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        time.sleep(IDLE_SECONDS)
        for server, sock in connections.items():
            sock.sendall(request)
            assert read_response(sock).startswith(b"HTTP/1.1 200 "), server


@pytest.mark.slow
def test_a_worker_stuck_for_the_timeout_is_replaced(installed, tmp_path):
    env, _ = installed
    with ExitStack() as stack:
        nodes = nodes_of_each_server(stack, env, tmp_path)
        stuck = {server: worker_pids(node.process.pid)[0] for server, node in nodes.items()}
        for pid in stuck.values():
            os.kill(pid, signal.SIGSTOP)
            stack.callback(continue_if_alive, pid)
        for server, node in nodes.items():
            eventually(lambda pid=node.process.pid, old=stuck[server]: old not in worker_pids(pid) and worker_pids(pid),
                       timeout=STUCK_AFTER_SECONDS + 15, interval=0.5, what=f"{server} replaces the stuck worker")
            eventually(lambda url=node.url: requests.get(f"{url}/healthz", timeout=5).status_code == 200, timeout=30,
                       interval=0.2, what=f"{server} serves again", ignoring=(requests.RequestException,))


def continue_if_alive(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass
