"""RFC 7591 client registration and RFC 7592 client configuration: machine APIs, answered by app.oauth.registration."""

from __future__ import annotations

from flask import Blueprint, abort
from flask.typing import ResponseReturnValue

from app.oauth import authorization
from app.services import client_registration
from app.web.view_options import api, no_store

bp = Blueprint("registration", __name__)


@bp.post("/oauth/register")
@api
@no_store  # RFC 7591 §3.2.1: the answer holds the client's secrets
def register() -> ResponseReturnValue:
    if client_registration.policy() == "off":
        abort(404)  # not advertised in the metadata either (discovery.metadata)
    return _response("client_registration")


@bp.route("/oauth/register/<client_id>", methods=["GET", "PUT", "DELETE"])
@api
@no_store  # RFC 7592 §3: the answer holds the registration access token
def configure(client_id: str) -> ResponseReturnValue:
    return _response("client_configuration")


def _response(name: str) -> ResponseReturnValue:
    response = authorization.create_endpoint_response(name)
    assert response is not None  # both endpoints always answer
    return response
