"""/admin/api/clients: OAuth clients (RFC 7591 metadata names)."""

from __future__ import annotations

from flask import Response, jsonify, url_for

from app.services import clients
from app.services.representations import client_dict
from app.web.admin_api import actor, bp, created, no_content, page_response
from app.web.admin_api.bodies import json_body, query_limit, query_string


@bp.get("/clients")
def list_clients() -> Response:
    return page_response(clients.client_page(query_limit(), query_string("cursor")), client_dict)


@bp.post("/clients")
def create_client() -> Response:
    body = json_body("ClientCreate")
    registration = clients.create_client(
        body["name"], public=body.get("public", False), redirect_uris=body.get("redirect_uris"),
        post_logout_redirect_uris=body.get("post_logout_redirect_uris"), grant_types=body.get("grant_types"),
        scope=body.get("scope"), audience=body.get("audience"), resources=body.get("resources"),
        introspect_resources=body.get("introspect_resources"), introspect_all=body.get("introspect_all", False),
        links={field: body.get(field) for field in clients.LINK_FIELDS}, require_mfa=body.get("require_mfa", False),
        actor=actor(),
    )
    payload = {**client_dict(registration.client), "client_secret": registration.client_secret}
    return created(payload, url_for(".get_client", client_id=registration.client.client_id))


@bp.get("/clients/<client_id>")
def get_client(client_id: str) -> Response:
    return jsonify(client_dict(clients.require(client_id)))


@bp.patch("/clients/<client_id>")
def update_client(client_id: str) -> Response:
    client = clients.require(client_id)
    return jsonify(client_dict(clients.update_client(client, json_body("ClientUpdate"), actor=actor())))


@bp.delete("/clients/<client_id>")
def delete_client(client_id: str) -> Response:
    clients.delete_client(clients.require(client_id), actor=actor())
    return no_content()


@bp.post("/clients/<client_id>/disable")
def disable_client(client_id: str) -> Response:
    return jsonify(client_dict(clients.disable_client(clients.require(client_id), actor=actor())))


@bp.post("/clients/<client_id>/enable")
def enable_client(client_id: str) -> Response:
    return jsonify(client_dict(clients.enable_client(clients.require(client_id), actor=actor())))


@bp.post("/clients/<client_id>/secret")
def rotate_secret(client_id: str) -> Response:
    client = clients.require(client_id)
    return jsonify(client_id=client.client_id, client_secret=clients.rotate_secret(client, actor=actor()))
