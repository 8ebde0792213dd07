"""gunicorn answers some requests itself, before the app sees them: a request line longer than
limit_request_line (414), headers over its limits (431), a request it cannot parse (400), a failure outside the
app (500). Its stock HTML page would reach a person; each worker renders the app's error page instead."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import gunicorn.util  # type: ignore[import-untyped]
from flask import Flask, Response

from app.web.errors import HTTP_ERROR_CODES, page_error
from app.web.headers import add_security_headers

log = logging.getLogger(__name__)


def install(app: object) -> None:
    """gunicorn post_worker_init: this worker's own error answers become the app's page (nothing for a non-Flask
    app). gunicorn's handlers call gunicorn.util.write_error; its stock page stays the fallback."""
    if not isinstance(app, Flask) or getattr(gunicorn.util.write_error, "ostiary_page", False):
        return
    gunicorn.util.write_error = _writer(app, gunicorn.util.write_error)


def _writer(app: Flask, stock: Callable[..., Any]) -> Callable[..., Any]:
    def write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
        try:
            answer = page(app, status_int, reason, mesg)
        except Exception:  # an answer of some kind must still go out
            log.exception("the error page could not be rendered; gunicorn's own was sent")
            stock(sock, status_int, reason, mesg)
            return
        gunicorn.util.write_nonblock(sock, answer)

    write_error.ostiary_page = True  # type: ignore[attr-defined]
    return write_error


def page(app: Flask, status: int, reason: str, detail: str) -> bytes:
    """The whole HTTP/1.1 response; the connection closes, as gunicorn's own answer does."""
    response = refusal(app, status, detail)
    body = response.get_data()
    lines = [f"HTTP/1.1 {status} {reason}", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in response.headers.items() if name != "Content-Length"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def refusal(app: Flask, status: int, detail: str) -> Response:
    """The app's error page for a request refused before it was read: for no path, in the default language."""
    with app.test_request_context("/"):
        response = add_security_headers(page_error(status, HTTP_ERROR_CODES.get(status, "invalid_request"), detail))
        response.get_data()  # rendered while the context lasts
    return response
