"""One token generator: every grant, even one that calls Authlib's BaseGrant.generate_token, gets our JWTs."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Request
from authlib.oauth2.rfc6749.grants import BaseGrant
from flask import current_app

from app.oauth import authorization
from app.oauth.bearer import verify_access_token
from app.services.clients import get_client


def test_authlibs_own_generator_path_issues_our_jwt(ctx, make):
    """init_app registers Authlib's opaque-token generator (ten-day tokens for some grants); it is never reached."""
    request = OAuth2Request("POST", "https://127.0.0.1/oauth/token")
    request.client = get_client(make.machine().client_id)
    grant = BaseGrant(request, authorization)

    token = grant.generate_token(scope="api:read", grant_type="client_credentials", include_refresh_token=False)

    claims = verify_access_token(token["access_token"]).claims
    assert (claims["client_id"], claims["scope"]) == (request.client.client_id, "api:read")
    assert token["expires_in"] == current_app.config["ACCESS_TOKEN_TTL_SECONDS"]
    assert "refresh_token" not in token
