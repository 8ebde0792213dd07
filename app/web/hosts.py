"""The issuer is this server's one name: a request for another host is refused, so no Host is ever echoed."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

from app.config import is_loopback
from app.web.errors import error_response
from app.web.view_options import ANY_HOST, declared


def _hostname(authority: str) -> str | None:
    """The host of `host[:port]`, lower case, without the port; None when it is not one."""
    try:
        return urlsplit(f"//{authority}").hostname
    except ValueError:
        return None


# Asked on every request with the same few Host values; bounded, as the Host header is the client's to choose.
@lru_cache(maxsize=64)
def is_our_host(authority: str, issuer: str) -> bool:
    """The issuer's host on any port (each node listens on its own); on loopback, any loopback name."""
    requested, ours = _hostname(authority), urlsplit(issuer).hostname
    return requested is not None and (requested == ours or (is_loopback(requested) and is_loopback(ours)))


def refuse_other_hosts() -> Response | None:
    """RFC 9110 §7.4: a request whose Host is not the issuer's gets a 400, not a page that names that host; only
    views declared @any_host answer any."""
    if declared(ANY_HOST):
        return None
    issuer, host = current_app.config["ISSUER"], request.host
    # Werkzeug leaves request.host empty when the Host header holds what no host name can.
    if host and is_our_host(host, issuer):
        return None
    return error_response(400, "invalid_request", f"this server is {issuer}, not the host the request names")


def init_app(app: Flask) -> None:
    # A doubled slash is a 404, not a redirect: Werkzeug's 308 spelled the request's Host into its Location.
    app.url_map.merge_slashes = False
    app.before_request(refuse_other_hosts)
