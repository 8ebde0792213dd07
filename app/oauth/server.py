"""Our AuthorizationServer: client lookup and authentication, token persistence, error shape, RFC 9207 `iss`."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError, UnsupportedResponseTypeError
from flask import Response, current_app, request as http_request

from app.extensions import db
from app.models import RefreshToken
from app.oauth.grants import AuthorizationCodeGrant
from app.oauth.tokens import IssuedToken
from app.security.secrets import digest
from app.services import grants as storage
from app.services.clients import get_client


# Authlib leaves error_description empty for some errors; RFC 6749 §5.2 clients get one sentence each.
DEFAULT_DESCRIPTIONS = {
    "invalid_grant": "the grant is invalid, expired, revoked or was issued to another client",
    "invalid_client": "client authentication failed",
    "unsupported_grant_type": "grant_type is not supported",
    "unauthorized_client": "the client is not allowed to use this grant type",
}


class AuthorizationServer(FlaskAuthorizationServer):
    def __init__(self) -> None:
        super().__init__()
        self.register_client_auth_method("client_secret_basic", authenticate_client_secret_basic)

    def query_client(self, client_id: str):
        return get_client(client_id)

    def create_token_response(self, request=None) -> Response:
        """RFC 6749 §3.2 and §5.2: refuse malformed requests before any grant looks at them."""
        try:
            check_token_request()
        except OAuth2Error as error:
            return self.handle_error_response(None, error)
        return super().create_token_response(request)

    def handle_error_response(self, request, error: OAuth2Error) -> Response:
        if not error.description:
            error.description = DEFAULT_DESCRIPTIONS.get(error.error, "the request was refused")
        return super().handle_error_response(request, error)

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

    def get_authorization_grant(self, request):
        """RFC 6749 §4.1.2.1: a missing response_type is invalid_request, an unknown one is not echoed back."""
        response_type = request.payload.response_type
        if response_type in AuthorizationCodeGrant.RESPONSE_TYPES:
            return super().get_authorization_grant(request)
        redirect_uri = self._verified_redirect_uri(request)
        if not response_type:
            raise InvalidRequestError("response_type is required", redirect_uri=redirect_uri)
        raise UnsupportedResponseTypeError(
            response_type, "only response_type=code is supported", redirect_uri=redirect_uri
        )

    def _verified_redirect_uri(self, request) -> str | None:
        """The redirect_uri an error may be sent to: registered for an existing client, else None."""
        client = self.query_client(request.payload.client_id)
        redirect_uri = request.payload.redirect_uri
        return redirect_uri if client is not None and redirect_uri and client.check_redirect_uri(redirect_uri) else None

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


def check_token_request() -> None:
    """RFC 6749 §3.2: a form POST with grant_type; §2.3: one client authentication method per request."""
    form = http_request.form
    if http_request.args:
        raise InvalidRequestError("token request parameters belong in the request body")
    if not form.get("grant_type"):
        raise InvalidRequestError("grant_type is required")
    if "Authorization" in http_request.headers and "client_secret" in form:
        raise InvalidRequestError("use one client authentication method, not two")


def authenticate_client_secret_basic(query_client, request):
    """RFC 6749 §2.3.1 client_secret_basic; a failed Authorization header never falls back to another method."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    credentials = basic_credentials(encoded.strip())
    if credentials and not credentials[1]:
        return None  # "client_id:" with no secret: a public client, left to the "none" method
    client = query_client(credentials[0]) if credentials else None
    if client is None or not client.check_client_secret(credentials[1]):
        raise InvalidClientError(status_code=401, description="client authentication failed")
    return client


def basic_credentials(encoded: str) -> tuple[str, str] | None:
    """(client_id, client_secret), each form-urlencoded inside Basic; Authlib decodes with unquote, not unquote_plus."""
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None
    return unquote_plus(client_id), unquote_plus(secret)
