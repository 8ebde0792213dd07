"""GET /metrics for Prometheus, and the per-request counters behind it."""

from __future__ import annotations

import hmac
import ipaddress
import time

from flask import Blueprint, Flask, Response, current_app, g, request

from app import metrics
from app.web.errors import error_response
from app.web.view_options import any_host, api, no_store

bp = api(Blueprint("metrics", __name__))

# A label value for requests no route matched (404, 405): never the raw path, which anyone can vary.
UNMATCHED = "unmatched"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded")


def _from_allowed_network() -> bool:
    """A direct connection from an allowlisted network.

    A request relayed by a reverse proxy is never allowed by address: a proxy on the same host
    would otherwise make every visitor look like loopback.
    """
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in current_app.extensions["ostiary.metrics_networks"])


def _has_bearer_token() -> bool:
    expected = current_app.config["METRICS_BEARER_TOKEN"]
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.encode())


@bp.route("/metrics")
@no_store
@any_host  # a scraper reaches each node by its own address
def scrape() -> Response:
    """Prometheus text exposition format, for allowlisted scrapers only."""
    if not (_has_bearer_token() or _from_allowed_network()):
        return error_response(403, "access_denied", "metrics are served to allowlisted networks or with the metrics token")
    body, content_type = metrics.exposition(request.headers.get("Accept", ""))
    return Response(body, content_type=content_type)


def start_request() -> None:
    g.metrics_started = time.perf_counter()
    metrics.instruments().in_progress.inc()


def count_response(response: Response) -> Response:
    instruments = metrics.instruments()
    endpoint = request.endpoint or UNMATCHED
    method = request.method if request.method in KNOWN_METHODS else "other"
    metrics.labelled(instruments.requests, endpoint, method, str(response.status_code)).inc()
    started = g.get("metrics_started")
    if started is not None:  # None when an earlier before_request hook ended the request first
        metrics.labelled(instruments.latency, endpoint).observe(time.perf_counter() - started)
    return response


def end_request(exc: BaseException | None) -> None:
    if "metrics_started" in g:
        metrics.instruments().in_progress.dec()


def init_app(app: Flask) -> None:
    """Register first, so no earlier before_request hook can fail before the clock starts."""
    app.extensions["ostiary.metrics_networks"] = [
        ipaddress.ip_network(network, strict=False) for network in app.config["METRICS_ALLOWED_NETWORKS"]
    ]
    metrics.instruments()  # fail at start-up, not on the first request, if the storage is wrong
    app.register_blueprint(bp)
    app.before_request(start_request)
    app.after_request(count_response)
    app.teardown_request(end_request)
