"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.oauth.signing import keyring
from app.security.keys import KeyError_
from app.web.view_options import any_host, api

bp = any_host(api(Blueprint("health", __name__)))  # load balancers reach a node by its own address


@bp.route("/healthz")
def healthz() -> Response:
    """The process answers."""
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz() -> Response | tuple[Response, int]:
    """Ready to serve: the database answers and a signing key is loaded."""
    checks = {"database": "ok", "keys": "ok"}
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session().invalidate()  # a dropped connection cannot even roll back: discard it
        checks["database"] = "unavailable"
    try:
        keyring().current  # noqa: B018 - raises when no key can sign
    except KeyError_:
        checks["keys"] = "missing"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503
