"""Prometheus instruments: requests and latency by endpoint, tokens issued, sign-in failures, token reuse.

Under gunicorn every worker is its own process, so the counts go to per-process files in
PROMETHEUS_MULTIPROC_DIR (set by app/gunicorn_conf.py) and are summed when scraped. prometheus_client
picks its storage when it is first imported, so it is imported here only when the first app is
created: by then a gunicorn worker has the variable, whatever modules the master imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge, Histogram

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds; token requests take ~2-5 ms, sign-ins ~150 ms of argon2, a database outage up to the connect timeout.
LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Instruments:
    requests: Counter
    latency: Histogram
    in_progress: Gauge
    tokens_issued: Counter
    sign_in_failures: Counter
    token_reuse: Counter


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_DIR_ENV))


@cache
def instruments() -> Instruments:
    """Created once per process, however many apps the process creates (tests create several)."""
    from prometheus_client import Counter, Gauge, Histogram, values

    if multiprocess_mode() and values.ValueClass is values.MutexValue:
        raise RuntimeError(
            f"prometheus_client was imported before {MULTIPROC_DIR_ENV} was set: each worker would count alone"
        )
    return Instruments(
        requests=Counter(
            "ostiary_http_requests", "HTTP requests by Flask endpoint, method and status.",
            ["endpoint", "method", "status"],
        ),
        latency=Histogram(
            "ostiary_http_request_duration_seconds", "Time to build the response, by Flask endpoint.",
            ["endpoint"], buckets=LATENCY_BUCKETS,
        ),
        # livesum: a dead worker's requests stop counting once gunicorn's child_exit hook marks it dead.
        in_progress=Gauge(
            "ostiary_http_requests_in_progress", "Requests being served now.", multiprocess_mode="livesum"
        ),
        tokens_issued=Counter("ostiary_tokens_issued", "Token responses with status 200, by grant type.", ["grant_type"]),
        sign_in_failures=Counter("ostiary_sign_in_failures", "Sign-ins refused for wrong credentials."),
        token_reuse=Counter(
            "ostiary_token_reuse_detected",
            "Used refresh tokens or authorization codes presented again; each revokes its token family.",
            ["token_type"],
        ),
    )


@cache
def labelled(metric: Counter | Histogram, *values: str) -> Any:
    """metric.labels(*values), looked up once per label set: labels() checks its arguments and takes a lock on every
    call. Each set is kept for good, as the metric keeps it: endpoints, methods, statuses and grant types are few."""
    return metric.labels(*values)


def token_issued(grant_type: str) -> None:
    labelled(instruments().tokens_issued, grant_type).inc()


def sign_in_failed() -> None:
    instruments().sign_in_failures.inc()


def token_reuse_detected(token_type: str) -> None:
    """token_type: "refresh_token" or "authorization_code" (RFC 9700 §4.14.2, RFC 6749 §4.1.2)."""
    labelled(instruments().token_reuse, token_type).inc()


def exposition(accept: str) -> tuple[bytes, str]:
    """Body and content type in the format the scraper accepts: all workers' files summed, or this process's registry."""
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.exposition import choose_encoder
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = REGISTRY
    if multiprocess_mode():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    encode, content_type = choose_encoder(accept)
    return encode(registry), content_type
