"""gunicorn's request-line and header-field limits, for a server whose own are far larger (granian: a request
target of 64 KiB, 400 KiB of headers; its limit of 100 header fields is gunicorn's). A request over them gets the
page gunicorn's refusal gets (app/web/server_pages.py), and the connection closes, as gunicorn closes it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask

from app.web.server_pages import refusal

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

# gunicorn's limit_request_line and limit_request_field_size (their defaults).
MAX_REQUEST_LINE = 4094
MAX_HEADER_FIELD = 8190
# The headers a WSGI environ does not name HTTP_*.
_UNPREFIXED_HEADERS = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}


class RequestLimits:
    """The WSGI app a granian worker serves: `app`, behind gunicorn's limits."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        refused = over_limit(environ)
        if refused is None:
            return self.app(environ, start_response)
        response: Any = refusal(self.app, *refused)
        response.headers["Connection"] = "close"  # granian's HTTP layer (hyper) closes it after the answer
        return response(environ, start_response)  # type: ignore[no-any-return]


def over_limit(environ: WSGIEnvironment) -> tuple[int, str] | None:
    """(status, why) for a request gunicorn would refuse for its size, else None. The request line is measured
    as the server decoded it (a percent-escape counts as one character)."""
    query = environ.get("QUERY_STRING", "")
    line = (len(environ["REQUEST_METHOD"]) + len(environ.get("PATH_INFO", "")) + (len(query) + 1 if query else 0)
            + len(environ.get("SERVER_PROTOCOL", "HTTP/1.1")) + 2)
    if line > MAX_REQUEST_LINE:
        return 414, f"The request line is longer than {MAX_REQUEST_LINE} bytes."
    for key, value in environ.items():
        name = key[5:] if key.startswith("HTTP_") else _UNPREFIXED_HEADERS.get(key)
        if name is not None and len(name) + 2 + len(value) > MAX_HEADER_FIELD:
            return 431, f"A header field is longer than {MAX_HEADER_FIELD} bytes."
    return None
