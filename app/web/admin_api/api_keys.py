"""/admin/api/api-keys: machine credentials of users and service accounts."""

from __future__ import annotations

from flask import Response, jsonify, url_for

from app.errors import ValidationError
from app.services import api_keys
from app.services.pagination import Page
from app.services.representations import api_key_dict
from app.services.users import get_by_sub
from app.web.admin_api import actor, bp, created, page_response
from app.web.admin_api.bodies import json_body, query_limit, query_string


@bp.get("/api-keys")
def list_api_keys() -> Response:
    limit, cursor, owner_sub = query_limit(), query_string("cursor"), query_string("owner")
    owner = get_by_sub(owner_sub) if owner_sub else None
    if owner_sub and owner is None:
        return page_response(Page([], None), api_key_dict)  # nobody's keys
    return page_response(api_keys.key_page(owner, limit, cursor), api_key_dict)


@bp.post("/api-keys")
def create_api_key() -> Response:
    body = json_body("ApiKeyCreate")
    owner = get_by_sub(body["owner"])
    if owner is None:
        raise ValidationError("owner is not a user or service account", field="owner")
    issued = api_keys.create_api_key(owner, body["name"], body.get("scope", ""), expires_at=body.get("expires_at"),
                                     actor=actor())
    payload = {**api_key_dict(issued.api_key), "key": issued.key}
    return created(payload, url_for(".get_api_key", key_id=issued.api_key.key_id))


@bp.get("/api-keys/<key_id>")
def get_api_key(key_id: str) -> Response:
    return jsonify(api_key_dict(api_keys.get_api_key(key_id)))


@bp.post("/api-keys/<key_id>/revoke")
def revoke_api_key(key_id: str) -> Response:
    return jsonify(api_key_dict(api_keys.revoke_api_key(api_keys.get_api_key(key_id), actor=actor())))
