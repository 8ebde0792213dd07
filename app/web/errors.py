"""Errors become a friendly page for people and {"error", "error_description"} for machines: each endpoint's
declared audience (app/web/view_options.py) picks the rendering, and a path no route matched is answered for
the routes around it."""

from __future__ import annotations

import logging
import traceback

from flask import Flask, Response, jsonify, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from app.errors import AppError
from app.extensions import db
from app.security.throttle import Throttled
from app.web import error_pages
from app.web.error_pages import Situation
from app.web.view_options import API, audience

log = logging.getLogger(__name__)

HTTP_ERROR_CODES = {400: "invalid_request", 401: "unauthorized", 404: "not_found", 405: "invalid_request",
                    413: "invalid_request", 429: "slow_down", 503: "temporarily_unavailable"}


def error_response(status: int, error: str, description: str, situation: Situation | None = None) -> Response:
    """The error as this request's audience reads it; a person's page tells `situation` (by default the status's)."""
    if audience() == API:
        return api_error(status, error, description)
    return page_error(status, error, description, situation)


def api_error(status: int, error: str, description: str) -> Response:
    """RFC 6749 §5.2's shape, for every machine API: {"error", "error_description"}, never cached."""
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def page_error(status: int, error: str, description: str, situation: Situation | None = None) -> Response:
    """A readable page for a person in a browser (app/web/error_pages.py)."""
    return error_pages.render(status, error, description, situation)


def handle_http_exception(exc: HTTPException) -> ResponseReturnValue:
    if exc.response is not None:
        return exc.response  # already a complete answer (e.g. an RFC 6750 challenge): keep it
    status = exc.code or 500
    if status == 413:
        return error_response(413, "invalid_request", "request body is too large")
    response = error_response(status, HTTP_ERROR_CODES.get(status, "server_error"), exc.description or exc.name)
    for name, value in exc.get_headers():
        if name == "Allow":  # RFC 9110 §15.5.6: a 405 lists the allowed methods
            response.headers[name] = value
    return response


def handle_csrf_error(exc: CSRFError) -> Response:
    return error_response(400, "invalid_request", exc.description or "The CSRF token is missing or invalid.",
                          error_pages.FORM_EXPIRED)


def handle_throttled(exc: Throttled) -> Response:
    """A limit no form reported itself (RFC 6585 §4): how long to wait."""
    if audience() == API:
        response = api_error(429, "slow_down", "too many attempts, retry later")
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response
    return error_pages.render(429, "slow_down", "too many attempts", error_pages.TOO_MANY_ATTEMPTS,
                              retry_after_seconds=exc.retry_after_seconds)


def handle_app_error(exc: AppError) -> Response:
    if audience() == API:
        response = jsonify(exc.to_dict())
        response.status_code = exc.status_code
        return response
    return page_error(exc.status_code, exc.error, exc.description)


def handle_database_down(exc: OperationalError | InterfaceError | PoolTimeoutError) -> Response:
    cause = getattr(exc, "orig", None) or exc  # the pool's TimeoutError wraps no driver error
    log.error("database unavailable: %s", type(cause).__name__)
    response = error_response(503, "temporarily_unavailable", "The service is temporarily unavailable. Try again shortly.")
    response.headers["Retry-After"] = "5"
    return response


def handle_unstorable_input(exc: DataError) -> Response:
    """A value the database cannot hold (on PostgreSQL: NUL in text, more than a column's length) is the request's fault."""
    log.warning("input refused by the database: %s", type(getattr(exc, "orig", None) or exc).__name__)
    return error_response(400, "invalid_request", "The request contains a value that cannot be accepted.")


def release_database_session(exc: BaseException | None) -> None:
    """Runs before Flask-SQLAlchemy's own teardown: its rollback on a connection the database dropped
    would raise after the response is built, and the WSGI server would answer 500 instead."""
    try:
        db.session.remove()
    except SQLAlchemyError:
        log.warning("database connection lost while releasing it: discarded")
        db.session().invalidate()  # drop the connection without talking to the server
        db.session.remove()


def handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, SQLAlchemyError):
        # The driver's message quotes row values (PostgreSQL's "Failing row contains (...)", which may be a
        # password hash): log where it failed and the error class, not the text.
        cause = getattr(exc, "orig", None) or exc
        stack = "".join(traceback.format_tb(exc.__traceback__))
        log.error("unhandled database error on %s %s: %s (SQLSTATE %s)\n%s", request.method, request.path,
                  type(cause).__name__, getattr(cause, "sqlstate", None), stack)
    else:
        log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "server_error", "Something went wrong on our side.")


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(Throttled, handle_throttled)
    app.register_error_handler(AppError, handle_app_error)
    # Unreachable server, a connection it closed, no free connection in the pool: all mean "try again shortly".
    for database_down in (OperationalError, InterfaceError, PoolTimeoutError):
        app.register_error_handler(database_down, handle_database_down)
    app.register_error_handler(DataError, handle_unstorable_input)
    app.register_error_handler(Exception, handle_unexpected)
    app.teardown_appcontext(release_database_session)  # registered after db.init_app, so it runs first
