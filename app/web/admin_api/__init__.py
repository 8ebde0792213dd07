"""The admin JSON API under /admin/api/: thin views over app.services, protected as an OAuth resource server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, g, jsonify, request

from app.services.pagination import Page
from app.web.admin_api.auth import admin_error_response, authenticate_admin
from app.web.admin_api.openapi import document
from app.web.view_options import api, no_store

# Bearer tokens, never cookies; bodies carry secrets shown once and personal data.
bp = no_store(api(Blueprint("admin_api", __name__, url_prefix="/admin/api")))


@bp.before_request
def require_admin() -> Response | None:
    """Every operation but the OpenAPI document needs an administrator's token."""
    if request.endpoint == "admin_api.openapi":
        return None
    try:
        g.admin = authenticate_admin()
    except OAuth2Error as error:
        return admin_error_response(error)
    return None


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(document())


def actor() -> str:
    """Who acts, for the audit trail."""
    return g.admin.sub


def page_response(page: Page[Any], represent: Callable[[Any], dict[str, Any]]) -> Response:
    return jsonify(items=[represent(item) for item in page.items], next_cursor=page.next_cursor)


def created(payload: dict[str, Any], location: str) -> Response:
    response = jsonify(payload)
    response.status_code = 201
    response.headers["Location"] = location
    return response


def no_content() -> Response:
    return Response(status=204)


# The operations register themselves on bp.
from app.web.admin_api import (  # noqa: F401
    api_keys,
    audit,
    clients,
    consents,
    providers,
    resources,
    service_accounts,
    users,
)
