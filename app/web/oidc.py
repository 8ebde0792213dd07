"""OpenID Connect endpoints: userinfo (a machine API) and RP-initiated logout (a page)."""

from __future__ import annotations

from urllib.parse import urlencode

from authlib.integrations.flask_oauth2 import current_token
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6750 import InsufficientScopeError, InvalidTokenError
from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue

from app.extensions import csrf
from app.oauth import authorization
from app.oauth.bearer import require_oauth
from app.oauth.endpoints import ignored_post_logout_redirect
from app.oauth.oidc import userinfo_claims
from app.services import authentication
from app.services.users import get_by_sub
from app.web.error_pages import APP_REQUEST
from app.web.errors import error_response
from app.web.login_session import cookie_name, current_login_session, forget_session
from app.web.parameters import malformed_parameter, request_parameters
from app.web.view_options import api, cors, no_store

bp = Blueprint("oidc", __name__)


@bp.route("/oauth/userinfo", methods=["GET", "POST"])
@api
@cors
@no_store  # personal data
@require_oauth()
def userinfo() -> Response:
    """OpenID Connect Core §5.3: claims of the token's subject, filtered by its scope."""
    user = get_by_sub(current_token.claims["sub"])
    if user is None or not user.is_active:
        # A client_credentials token, or a disabled or deleted user: no end-user to describe.
        abort(require_oauth.challenge(InvalidTokenError(description="the token has no active end-user")))
    if "openid" not in current_token.get_scope().split():
        abort(require_oauth.challenge(InsufficientScopeError(description="the token lacks the openid scope")))
    return jsonify(userinfo_claims(user, current_token.get_scope()))


@bp.route("/oauth/logout", methods=["GET", "POST"])
@csrf.exempt  # the RP's request carries no CSRF token; our confirmation form is checked below
def end_session() -> ResponseReturnValue:
    """OpenID Connect RP-Initiated Logout 1.0."""
    problem = malformed_parameter()
    if problem:
        return error_response(400, "invalid_request", problem, APP_REQUEST)
    if request.method == "POST" and "confirm" not in request.form and cookie_name() not in request.cookies:
        # A relying party's cross-site POST carries no SameSite=Lax cookie, so it cannot tell which session
        # to end: RFC 9110 §15.4.4, the browser repeats it as a top-level GET, which does carry the cookie.
        return redirect(f"{request.path}?{urlencode(_logout_params())}", 303)
    try:
        end_request = authorization.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return error_response(400, error.error, error.description or "The logout request is invalid.", APP_REQUEST)
    confirmed = request.method == "POST" and request.form.get("confirm") == "yes"
    login_session = current_login_session()
    user = login_session.user if login_session else None
    # §6: ask before acting on a request without a hint, or with a hint about someone else.
    hinted_sub = (end_request.id_token_claims or {}).get("sub")
    if confirmed:
        csrf.protect()
    elif user is not None and hinted_sub != user.sub:
        return render_template("logout.html", user=user, params=_logout_params(), client=end_request.client)
    response = authorization.create_endpoint_response("end_session", end_request)
    if response is None:
        response = Response(render_template("logged_out.html",
                                            ignored_redirect=ignored_post_logout_redirect(end_request)))
    authentication.sign_out(login_session, client_id=end_request.client.client_id if end_request.client else None)
    return forget_session(response)


def _logout_params() -> list[tuple[str, str]]:
    """The RP's request parameters, without the fields of our own confirmation form."""
    return request_parameters(without={"csrf_token", "confirm"})
