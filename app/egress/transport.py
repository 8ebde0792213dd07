"""A requests transport adapter that sends through the address policy, the limits and no redirect.

The pinning lives in urllib3's connection (`_new_conn`), the one place that opens a socket: the host is resolved
there once, every address is checked, and the socket connects to a checked address itself, so no second lookup can
answer differently (DNS rebinding). TLS is layered on that socket by urllib3 as usual, with SNI and certificate
verification on the URL's host name. Any requests Session (Authlib's OAuth2Session among them) gets the policy
by mounting `EgressAdapter`.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3HTTPError
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from app.egress.addresses import AddressPolicy
from app.egress.errors import (
    ConnectionFailed,
    EgressError,
    EgressTimeout,
    RedirectRefused,
    ResponseTooLarge,
    TLSFailed,
    URLRefused,
)
from app.egress.sockets import connect_checked, egress_call

log = logging.getLogger(__name__)

_READ_CHUNK_BYTES = 16 * 1024


@dataclass(frozen=True)
class Limits:
    """Time-outs per socket operation, one deadline for the whole exchange, and a cap on the body."""

    connect_timeout_seconds: float = 3.0
    read_timeout_seconds: float = 5.0
    deadline_seconds: float = 8.0
    max_bytes: int = 64 * 1024


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return connect_checked(self, plain_http=False)


class _CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return connect_checked(self, plain_http=True)


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


def check_url(url: str, policy: AddressPolicy) -> None:
    """An absolute https URL (http only for a loopback test server), no user information, a real port."""
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise URLRefused(f"{url!r} contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise URLRefused(f"{url!r} is malformed: {exc}") from None
    schemes = {"https", "http"} if policy.allows_plain_http else {"https"}
    if parts.scheme.lower() not in schemes or not parts.hostname:
        raise URLRefused(f"{url!r} is not an absolute {' or '.join(sorted(schemes))} URL")
    if "@" in parts.netloc:
        raise URLRefused(f"{url!r} contains user information")
    if port == 0:
        raise URLRefused(f"{url!r} names port 0")


def _loggable(url: str) -> str:
    """scheme://host/path: a query string may carry something secret."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"
    except ValueError:
        return "(malformed URL)"


def log_failure(url: str, error: EgressError) -> None:
    log.warning("outbound request failed", extra={"url": _loggable(url), "error": type(error).__name__,
                                                   "detail": str(error)})


def _translate(exc: requests.RequestException | Exception, url: str) -> EgressError:
    """requests' and urllib3's many exceptions as one of ours, the detail kept for the log."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        reason = getattr(current, "reason", None)
        current = reason if isinstance(reason, BaseException) else (current.__cause__ or current.__context__)
    detail = f"{_loggable(url)}: {exc}"
    if any(isinstance(e, NewConnectionError) for e in chain):  # urllib3 makes it a ConnectTimeoutError too
        return ConnectionFailed(detail)
    if any(isinstance(e, (TimeoutError, Urllib3Timeout, requests.Timeout)) for e in chain):
        return EgressTimeout(detail)
    tls_errors = (ssl.SSLError, ssl.CertificateError, Urllib3SSLError, requests.exceptions.SSLError)
    if any(isinstance(e, tls_errors) for e in chain):
        return TLSFailed(detail)
    return ConnectionFailed(detail)


class EgressAdapter(HTTPAdapter):
    """A requests transport adapter that sends through the address policy, the limits and no redirect."""

    def __init__(self, policy: AddressPolicy, ssl_context: ssl.SSLContext, limits: Limits) -> None:
        self.policy = policy
        self.ssl_context = ssl_context
        self.limits = limits
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, ssl_context=self.ssl_context, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        # Our TLS context decides trust; a caller's verify=False or CA path is ignored, never honoured.
        host_params, _ = super().build_connection_pool_key_attributes(request, True, None)
        return host_params, {"cert_reqs": "CERT_REQUIRED"}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # requests would load its CA file into our context on every connection; the context already has its roots.
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
        *,
        limits: Limits | None = None,
    ) -> requests.Response:
        """One exchange: checked URL and addresses, no proxy, the deadline, a body read whole but capped."""
        limits = limits or self.limits
        url = request.url or ""
        try:
            check_url(url, self.policy)
            with egress_call(self.policy, time.monotonic() + limits.deadline_seconds):
                return self._send(request, limits)
        except EgressError as exc:
            log_failure(url, exc)
            raise

    def _send(self, request: requests.PreparedRequest, limits: Limits) -> requests.Response:
        url = request.url or ""
        try:
            response = super().send(
                request,
                stream=True,
                timeout=(limits.connect_timeout_seconds, limits.read_timeout_seconds),
                verify=True,
                proxies={},  # a proxy would resolve the name itself, past the address policy
            )
        except requests.RequestException as exc:
            raise _translate(exc, url) from None
        try:
            if 300 <= response.status_code < 400:
                raise RedirectRefused(
                    f"{_loggable(url)} answered {response.status_code} to {response.headers.get('Location')!r}",
                    status=response.status_code,
                )
            response._content = _read_capped(response, limits.max_bytes, url)
            response._content_consumed = True
        except BaseException:
            response.close()
            raise
        return response


def _read_capped(response: requests.Response, max_bytes: int, url: str) -> bytes:
    """The body, decoded, never more than max_bytes of it held (a compressed bomb stops at the cap too)."""
    declared = response.headers.get("Content-Length", "")
    too_large = ResponseTooLarge(f"{_loggable(url)} sent more than {max_bytes} bytes",
                                 f"the response is larger than {max_bytes} bytes")
    if declared.isdigit() and int(declared) > max_bytes and "Content-Encoding" not in response.headers:
        raise too_large
    body = bytearray()
    try:
        for chunk in response.raw.stream(_READ_CHUNK_BYTES, decode_content=True):
            body += chunk
            if len(body) > max_bytes:
                raise too_large
    except (Urllib3HTTPError, OSError) as exc:  # urllib3's read, protocol, decode and time-out errors
        raise _translate(exc, url) from None
    return bytes(body)
