"""Sign-in limits as people meet them: a 429 page that says how long to wait (RFC 6585 §4)."""

from __future__ import annotations

import math

from flask import Response
from flask_babel import ngettext


def wait_message(retry_after_seconds: int) -> str:
    # The same words whether the account or the address is locked, and for unknown accounts too.
    minutes = math.ceil(retry_after_seconds / 60)
    return ngettext("Too many failed sign-in attempts. Try again in %(num)d minute.",
                    "Too many failed sign-in attempts. Try again in %(num)d minutes.", minutes)


def requests_wait_message(retry_after_seconds: int) -> str:
    """A form that sends mail was used too often (by this address or from this network)."""
    minutes = math.ceil(retry_after_seconds / 60)
    return ngettext("Too many requests. Try again in %(num)d minute.",
                    "Too many requests. Try again in %(num)d minutes.", minutes)


def too_many_requests(page: str, retry_after_seconds: int) -> Response:
    response = Response(page, status=429)
    response.headers["Retry-After"] = str(retry_after_seconds)
    return response
