"""Sockets for outbound requests: opened only to checked addresses, every operation held to the call's deadline."""

from __future__ import annotations

import socket
import ssl
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.connection import HTTPConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from app.egress.addresses import AddressPolicy
from app.egress.errors import EgressError


@dataclass(frozen=True)
class _Call:
    policy: AddressPolicy
    deadline: float  # time.monotonic()


# The call in progress on this thread: which policy connects, and when its time is up.
_current: ContextVar[_Call | None] = ContextVar("ostiary_egress_call", default=None)


@contextmanager
def egress_call(policy: AddressPolicy, deadline: float) -> Iterator[None]:
    """Connections opened and sockets used inside follow `policy` and end by `deadline` (time.monotonic())."""
    token = _current.set(_Call(policy, deadline))
    try:
        yield
    finally:
        _current.reset(token)


def _hold_to_deadline(sock: socket.socket) -> None:
    """Before each socket operation: its time-out never reaches past the call's deadline."""
    call = _current.get()
    if call is None:
        return
    remaining = call.deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("deadline passed")
    timeout = sock.gettimeout()
    if timeout is None or timeout > remaining:
        sock.settimeout(remaining)


class _DeadlineMixin:
    # A per-read time-out alone lets a server drip one byte at a time for ever (headers, body or handshake).
    def recv(self, *args: Any, **kwargs: Any) -> Any:
        _hold_to_deadline(self)  # type: ignore[arg-type]
        return super().recv(*args, **kwargs)  # type: ignore[misc]

    def recv_into(self, *args: Any, **kwargs: Any) -> Any:
        _hold_to_deadline(self)  # type: ignore[arg-type]
        return super().recv_into(*args, **kwargs)  # type: ignore[misc]

    def send(self, *args: Any, **kwargs: Any) -> Any:
        _hold_to_deadline(self)  # type: ignore[arg-type]
        return super().send(*args, **kwargs)  # type: ignore[misc]

    def sendall(self, *args: Any, **kwargs: Any) -> Any:
        _hold_to_deadline(self)  # type: ignore[arg-type]
        return super().sendall(*args, **kwargs)  # type: ignore[misc]


class _DeadlineSocket(_DeadlineMixin, socket.socket):
    pass


class _DeadlineSSLSocket(_DeadlineMixin, ssl.SSLSocket):
    def do_handshake(self, block: bool = False) -> None:
        _hold_to_deadline(self)
        super().do_handshake(block)


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Verified TLS 1.2+ against the public roots, or only against `ca_bundle` (tests, development)."""
    context = ssl.create_default_context(cafile=ca_bundle or requests.certs.where())
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.sslsocket_class = _DeadlineSSLSocket  # every TLS read and write keeps to the deadline too
    return context


def connect_checked(connection: HTTPConnection, *, plain_http: bool) -> socket.socket:
    """Resolve once, check every address, connect to a checked one: there is no other DNS lookup."""
    call = _current.get()
    if call is None:  # fail closed: only EgressAdapter.send opens these connections
        raise EgressError("a connection was opened outside egress_call()")
    addresses = call.policy.checked_addresses(connection._dns_host, connection.port, plain_http=plain_http)
    timeout = connection.timeout if isinstance(connection.timeout, (int, float)) else None
    failures = []
    for address in addresses:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = _DeadlineSocket(family, socket.SOCK_STREAM)
        try:
            for option in connection.socket_options or ():
                sock.setsockopt(*option)
            sock.settimeout(timeout)
            _hold_to_deadline(sock)
            sock.connect((str(address), connection.port))
        except TimeoutError as exc:
            sock.close()
            raise ConnectTimeoutError(connection, f"connecting to {address} timed out") from exc
        except OSError as exc:
            sock.close()
            failures.append(f"{address}: {exc}")
            continue
        sys.audit("http.client.connect", connection, connection.host, connection.port)
        return sock
    raise NewConnectionError(connection, f"cannot connect to {connection.host!r}: {'; '.join(failures)}")
