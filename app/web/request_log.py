"""A request id on every request (echoed in X-Request-ID) and one JSON access-log line per response."""

from __future__ import annotations

import logging
import re
import time

from flask import Flask, Response, g, request

from app.security.secrets import generate_secret

log = logging.getLogger("ostiary.access")
REQUEST_ID_HEADER = "X-Request-ID"
# An upstream id is reused only if it is short and harmless to echo and log.
SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def start_request() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if SAFE_REQUEST_ID.match(incoming) else generate_secret(12)
    g.request_started = time.perf_counter()


def finish_request(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    log.info(
        "request",
        extra={
            "method": request.method,
            "path": request.path,  # never the query string: it may carry codes or tokens
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000, 2),
            "remote_addr": request.remote_addr,
        },
    )
    return response


def init_app(app: Flask) -> None:
    app.before_request(start_request)
    app.after_request(finish_request)
