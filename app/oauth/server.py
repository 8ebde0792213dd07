"""Our AuthorizationServer: client lookup, token persistence, and the RFC 9207 `iss` parameter."""

from __future__ import annotations

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from flask import Response, current_app

from app.extensions import db
from app.models import RefreshToken
from app.oauth.tokens import IssuedToken
from app.security.secrets import digest
from app.services import grants as storage
from app.services.clients import get_client


class AuthorizationServer(FlaskAuthorizationServer):
    def query_client(self, client_id: str):
        return get_client(client_id)

    def save_token(self, token: IssuedToken, request) -> None:
        """Persist what outlives the response: the refresh token digest and the family's access jti."""
        family_id = getattr(request, "family_id", None)
        if family_id is None:
            return  # client_credentials: nothing to store on the hot path
        storage.record_access_token(token.jti, family_id, request.client.client_id, token.expires_at)
        refresh_token = token.get("refresh_token")
        if refresh_token:
            scope = getattr(request, "refresh_scope", None) or token.get("scope", "")
            db.session.add(
                RefreshToken(
                    token_hash=digest(refresh_token),
                    family_id=family_id,
                    client_id=request.client.client_id,
                    user_id=request.user.id,
                    scope=scope,
                    auth_time=request.auth_time,
                    amr=request.amr,
                    expires_at=token.expires_at
                    - token["expires_in"]
                    + current_app.config["REFRESH_TOKEN_TTL_SECONDS"],
                )
            )

    def create_authorization_response(self, request=None, grant_user=None, grant=None) -> Response:
        return with_issuer(super().create_authorization_response(request, grant_user=grant_user, grant=grant))

    def authorization_error_response(self, error) -> Response:
        """RFC 6749 §4.1.2.1: an error redirected to the client's validated redirect_uri."""
        return with_issuer(self.handle_error_response(None, error))


def with_issuer(response: Response) -> Response:
    """RFC 9207: every authorization response redirect carries `iss`."""
    if response.status_code == 302 and response.location:
        response.location = add_params_to_uri(response.location, [("iss", current_app.config["ISSUER"])])
    return response
