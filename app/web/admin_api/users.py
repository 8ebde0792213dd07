"""/admin/api/users: people (service accounts have their own collection)."""

from __future__ import annotations

from flask import Response, jsonify, url_for

from app.errors import ConflictError
from app.models import User
from app.scopes import ADMIN_ROLE
from app.services import invitations, second_factors, users
from app.services.representations import user_dict
from app.web.admin_api import actor, bp, created, no_content, page_response
from app.web.admin_api.bodies import json_body, query_limit, query_string


@bp.get("/users")
def list_users() -> Response:
    page = users.user_page(query_string("q"), query_limit(), query_string("cursor"))
    return page_response(page, user_dict)


@bp.post("/users")
def create_user() -> Response:
    body = json_body("UserCreate")
    user = users.create_user(body["email"], body.get("password"), name=body.get("name"), username=body.get("username"),
                  roles=body.get("roles"), scope=body.get("scope", ""),
                  email_verified=body.get("email_verified", False), actor=actor())
    return created(user_dict(user), url_for(".get_user", sub=user.sub))


@bp.post("/users/invitations")
def invite_user() -> Response:
    body = json_body("InvitationCreate")
    invitation = invitations.invite(body["email"], name=body.get("name"), actor=actor())
    response = jsonify({"email": invitation.email, "name": invitation.name})
    response.status_code = 202  # the mail is queued, not yet sent
    return response


@bp.get("/users/<sub>")
def get_user(sub: str) -> Response:
    return jsonify(user_dict(users.get_person(sub)))


@bp.patch("/users/<sub>")
def update_user(sub: str) -> Response:
    user = users.get_person(sub)
    changes = json_body("UserUpdate")
    if "roles" in changes and ADMIN_ROLE not in changes["roles"]:
        not_yourself(user)
    return jsonify(user_dict(users.update_user(user, changes, actor=actor())))


@bp.delete("/users/<sub>")
def delete_user(sub: str) -> Response:
    users.delete_user(not_yourself(users.get_person(sub)), actor=actor())
    return no_content()


@bp.post("/users/<sub>/disable")
def disable_user(sub: str) -> Response:
    return jsonify(user_dict(users.disable_user(not_yourself(users.get_person(sub)), actor=actor())))


@bp.post("/users/<sub>/enable")
def enable_user(sub: str) -> Response:
    return jsonify(user_dict(users.enable_user(users.get_person(sub), actor=actor())))


@bp.put("/users/<sub>/password")
def set_password(sub: str) -> Response:
    user = users.get_person(sub)
    body = json_body("PasswordSet")
    users.set_password(user, body["password"], actor=actor(), revoke_api_keys=body.get("revoke_api_keys", False))
    return no_content()


@bp.delete("/users/<sub>/second-factors")
def remove_second_factors(sub: str) -> Response:
    """For a person who lost their authenticator app and passkeys and their recovery codes."""
    second_factors.remove_all(users.get_person(sub), actor=actor())
    return no_content()


def not_yourself(user: User) -> User:
    """An administrator cannot lock themselves out through the API."""
    if user.sub == actor():
        raise ConflictError("administrators cannot disable, delete or demote themselves", field="sub")
    return user
