"""/admin/api/service-accounts: non-human owners of API keys."""

from __future__ import annotations

from flask import Response, jsonify, url_for

from app.services import service_accounts
from app.services.representations import service_account_dict
from app.web.admin_api import actor, bp, created, no_content, page_response
from app.web.admin_api.bodies import json_body, query_limit, query_string


@bp.get("/service-accounts")
def list_service_accounts() -> Response:
    page = service_accounts.service_account_page(query_limit(), query_string("cursor"))
    return page_response(page, service_account_dict)


@bp.post("/service-accounts")
def create_service_account() -> Response:
    body = json_body("ServiceAccountCreate")
    account = service_accounts.create_service_account(body["name"], roles=body.get("roles"),
                                                      scope=body.get("scope", ""), actor=actor())
    return created(service_account_dict(account), url_for(".get_service_account", sub=account.sub))


@bp.get("/service-accounts/<sub>")
def get_service_account(sub: str) -> Response:
    return jsonify(service_account_dict(service_accounts.get_service_account(sub)))


@bp.patch("/service-accounts/<sub>")
def update_service_account(sub: str) -> Response:
    account = service_accounts.get_service_account(sub)
    body = json_body("ServiceAccountUpdate")
    return jsonify(service_account_dict(service_accounts.update_service_account(account, body, actor=actor())))


@bp.delete("/service-accounts/<sub>")
def delete_service_account(sub: str) -> Response:
    service_accounts.delete_service_account(service_accounts.get_service_account(sub), actor=actor())
    return no_content()
