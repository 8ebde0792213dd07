"""The admin API is a resource server: Ostiary access tokens for its audience, with the admin scope, from an admin."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import MissingAuthorizationError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6750 import BearerTokenValidator, InsufficientScopeError
from flask import Response, jsonify

from app.models import User
from app.oauth.bearer import AccessToken, bearer_error_response, verify_access_token
from app.oauth.signing import InvalidJWT
from app.scopes import ADMIN_SCOPE
from app.services.resources import admin_audience
from app.services.users import get_by_sub


class AdminTokenValidator(BearerTokenValidator):
    """RFC 9068 §4 as any downstream service does it: signature, typ, iss, aud, exp; plus our revocation ledger."""

    def authenticate_token(self, token_string: str) -> AccessToken | None:
        try:
            return verify_access_token(token_string, audience=admin_audience())
        except InvalidJWT:
            return None


protector = ResourceProtector()
protector.register_token_validator(AdminTokenValidator())


def authenticate_admin() -> User:
    """The active administrator (a person, or a service account with the admin role) the token speaks for."""
    token = protector.acquire_token([ADMIN_SCOPE])
    principal = get_by_sub(token.claims["sub"])
    if principal is None or not principal.is_active or not principal.is_admin:
        raise InsufficientScopeError(description="the token's subject is not an active administrator")
    return principal


def admin_error_response(error: OAuth2Error) -> Response:
    """RFC 6750 §3 challenges, each with the {"error", "error_description"} body every admin API error has."""
    if isinstance(error, (MissingAuthorizationError, UnsupportedTokenTypeError)):
        response = jsonify(error="invalid_token", error_description="a Bearer access token is required")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = "Bearer"
        response.headers["Cache-Control"] = "no-store"
        return response
    return bearer_error_response(error, ADMIN_SCOPE if isinstance(error, InsufficientScopeError) else None)
