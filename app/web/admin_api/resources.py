"""/admin/api/resources: resource servers (RFC 8707) and their scopes."""

from __future__ import annotations

from flask import Response, jsonify, url_for

from app.services import resources
from app.services.representations import resource_dict
from app.web.admin_api import actor, bp, created, no_content, page_response
from app.web.admin_api.bodies import json_body, query_limit, query_string


@bp.get("/resources")
def list_resources() -> Response:
    return page_response(resources.resource_page(query_limit(), query_string("cursor")), resource_dict)


@bp.post("/resources")
def create_resource() -> Response:
    body = json_body("ResourceCreate")
    resource = resources.create_resource(body["identifier"], body["name"], body.get("scope", ""), actor=actor())
    return created(resource_dict(resource), url_for(".get_resource", resource_id=resource.id))


@bp.get("/resources/<int:resource_id>")
def get_resource(resource_id: int) -> Response:
    return jsonify(resource_dict(resources.get_resource(resource_id)))


@bp.patch("/resources/<int:resource_id>")
def update_resource(resource_id: int) -> Response:
    resource = resources.get_resource(resource_id)
    return jsonify(resource_dict(resources.update_resource(resource, json_body("ResourceUpdate"), actor=actor())))


@bp.delete("/resources/<int:resource_id>")
def delete_resource(resource_id: int) -> Response:
    resources.delete_resource(resources.get_resource(resource_id), actor=actor())
    return no_content()
