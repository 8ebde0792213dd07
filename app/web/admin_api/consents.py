"""/admin/api/consents: what people have allowed which clients; revoking one takes back its tokens too."""

from __future__ import annotations

from flask import Response

from app.services import clients, consents, users
from app.services.pagination import Page
from app.services.representations import consent_dict
from app.web.admin_api import actor, bp, no_content, page_response
from app.web.admin_api.bodies import query_limit, query_string


@bp.get("/consents")
def list_consents() -> Response:
    limit, cursor, user_sub, client_id = query_limit(), query_string("cursor"), query_string("user"), \
        query_string("client_id")
    user = users.get_by_sub(user_sub) if user_sub else None
    if user_sub and user is None:
        return page_response(Page([], None), consent_dict)  # nobody's consents
    return page_response(consents.consent_page(user, client_id, limit, cursor), consent_dict)


@bp.delete("/users/<sub>/consents/<client_id>")
def revoke_consent(sub: str, client_id: str) -> Response:
    consents.remove(users.get_person(sub), clients.require(client_id).client_id, actor=actor())
    return no_content()
