"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.oauth.signing import keyring
from app.schema import not_ready_reason, schema_state
from app.security.keys import NoSigningKeyError
from app.web.view_options import any_host, api

bp = any_host(api(Blueprint("health", __name__)))  # load balancers reach a node by its own address


@bp.route("/healthz")
def healthz() -> Response:
    """The process answers."""
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz() -> Response | tuple[Response, int]:
    """Ready to serve: the database answers with this release's schema, and a signing key is loaded."""
    checks = {"database": "ok", "keys": "ok"}
    reason = None
    try:
        state, revision = schema_state(db.session.connection())
        reason = not_ready_reason(state, revision)  # None for this release's schema, or a later release's
        if reason:
            checks["database"] = state
    except SQLAlchemyError:
        db.session().invalidate()  # a dropped connection cannot even roll back: discard it
        checks["database"] = "unavailable"
    try:
        _ = keyring().current
    except NoSigningKeyError:
        checks["keys"] = "missing"
    ready = all(value == "ok" for value in checks.values())
    body: dict[str, Any] = {"status": "ok" if ready else "unavailable", "checks": checks}
    if reason:
        body["reason"] = reason
    return jsonify(body), 200 if ready else 503
