"""/admin/api/providers: upstream identity providers (README "Federation"), the CLI's `ostiary providers`."""

from __future__ import annotations

from flask import Response, jsonify, url_for

from app.services import providers
from app.services.providers import provider_dict
from app.web.admin_api import actor, bp, created, no_content, page_response
from app.web.admin_api.bodies import json_body, query_limit, query_string


@bp.get("/providers")
def list_providers() -> Response:
    return page_response(providers.provider_page(query_limit(), query_string("cursor")), provider_dict)


@bp.post("/providers")
def create_provider() -> Response:
    body = json_body("ProviderCreate")
    fixed = {name: body.pop(name, None) for name in ("name", "client_id", "client_secret", "preset", "kind",
                                                      "issuer", "tenant")}
    provider = providers.create_provider(
        fixed["name"], client_id=fixed["client_id"], client_secret=fixed["client_secret"], preset=fixed["preset"],
        kind=fixed["kind"], issuer=fixed["issuer"], tenant=fixed["tenant"], actor=actor(), **body)
    return created(provider_dict(provider), url_for(".get_provider", name=provider.name))


@bp.get("/providers/<name>")
def get_provider(name: str) -> Response:
    return jsonify(provider_dict(providers.get_provider(name)))


@bp.patch("/providers/<name>")
def update_provider(name: str) -> Response:
    provider = providers.get_provider(name)
    body = json_body("ProviderUpdate")
    secret = body.pop("client_secret", None)
    return jsonify(provider_dict(providers.update_provider(provider, body, client_secret=secret, actor=actor())))


@bp.delete("/providers/<name>")
def delete_provider(name: str) -> Response:
    providers.delete_provider(providers.get_provider(name), actor=actor())
    return no_content()
