"""The admin API is a resource server: Ostiary access tokens for its audience, with the admin scope, from an admin."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6750 import InsufficientScopeError
from flask import Response

from app.models import User
from app.oauth.bearer import BearerProtector
from app.scopes import ADMIN_SCOPE
from app.services.resources import admin_audience
from app.services.users import get_by_sub

# RFC 9068 §4 as any downstream service does it: signature, typ, iss, aud, exp; plus our revocation ledger.
protector = BearerProtector(audience=admin_audience, scope=ADMIN_SCOPE)


def authenticate_admin() -> User:
    """The active administrator (a person, or a service account with the admin role) the token speaks for."""
    token = protector.acquire_token([ADMIN_SCOPE])
    principal = get_by_sub(token.claims["sub"])
    if principal is None or not principal.is_active or not principal.is_admin:
        raise InsufficientScopeError(description="the token's subject is not an active administrator")
    return principal


def admin_error_response(error: OAuth2Error) -> Response:
    """RFC 6750 §3: the challenge every bearer-protected endpoint answers with (app.oauth.bearer)."""
    return protector.challenge(error)
