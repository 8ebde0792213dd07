"""Our AuthorizationServer: client lookup and authentication, the token generator, error shape, RFC 9207 `iss`."""

from __future__ import annotations

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from authlib.oauth2 import OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import EndpointRequest
from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_post as authlib_client_secret_post
from authlib.oauth2.rfc6749.authenticate_client import authenticate_none as authlib_none
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError, UnsupportedResponseTypeError
from flask import Request, Response, current_app
from werkzeug.http import parse_options_header

from app import metrics
from app.oauth import client_lockout
from app.oauth.errors import client_safe
from app.oauth.grants import AuthorizationCodeGrant
from app.oauth.requests import ClientRequest
from app.oauth.tokens import IssuedToken, generate_token
from app.services import api_keys, metadata_documents
from app.services.clients import get_active_client

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# RFC 7009 §2.1 and RFC 7662 §2.1: revocation and introspection are form posts, like the token request.
FORM_POST_ENDPOINTS = frozenset({"revocation", "introspection"})

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
        self.register_client_auth_method("client_secret_post", authenticate_client_secret_post)
        self.register_client_auth_method("none", authenticate_none)

    def query_client(self, client_id: str):
        if any(ord(c) < 32 or ord(c) == 127 for c in client_id or ""):
            return None  # no registered id has one, and PostgreSQL refuses NUL in a query parameter
        if metadata_documents.accepts(client_id):
            return document_client(client_id)
        return get_active_client(client_id)  # a disabled client is refused as an unregistered one

    def create_oauth2_request(self, request: Request | OAuth2Request | None) -> OAuth2Request:
        """The HTTP request a view hands in, as a ClientRequest; without one (the authorization and end-session
        endpoints, which authenticate no client), Authlib's own Flask request."""
        if isinstance(request, OAuth2Request):
            return request
        return ClientRequest(request) if request is not None else super().create_oauth2_request(None)

    def authenticate_client(self, request: OAuth2Request, methods: list[str], endpoint: str = "token"):
        """Token, revocation and introspection: failures are limited per address (client_lockout)."""
        if not isinstance(request, ClientRequest):
            raise TypeError("client authentication needs the client's address: hand the view's request over")
        return client_lockout.counted(
            lambda: super(AuthorizationServer, self).authenticate_client(request, methods, endpoint), request, endpoint
        )

    def create_token_response(self, request: Request | None = None) -> Response:
        """RFC 6749 §3.2 and §5.2: refuse malformed requests before any grant looks at them."""
        oauth2_request = self.create_oauth2_request(request)
        try:
            check_token_request(oauth2_request)
        except OAuth2Error as error:
            return self.handle_error_response(oauth2_request, error)
        response = super().create_token_response(oauth2_request)
        if response.status_code == 200:
            # Only a registered grant answers 200, so the label set stays as small as the grant list.
            metrics.token_issued(oauth2_request.payload.grant_type)
        return response

    def create_endpoint_response(self, name: str, request: Request | EndpointRequest | None = None) -> Response | None:
        """RFC 7009 §2.1, RFC 7662 §2.1: refuse a body that is not a form before anything reads it."""
        if name in FORM_POST_ENDPOINTS:
            request = self.create_oauth2_request(request)
            try:
                check_form_post(request)
            except OAuth2Error as error:
                return self.handle_error_response(request, error)
        return super().create_endpoint_response(name, request)

    def handle_error_response(self, request, error: OAuth2Error) -> Response:
        if not error.description:
            error.description = DEFAULT_DESCRIPTIONS.get(error.error, "the request was refused")
        return super().handle_error_response(request, error)

    def generate_token(self, grant_type: str, client, user=None, scope: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = True,
                       audience: str | None = None) -> IssuedToken:
        """The one token generator, for every grant: RFC 9068 JWT access tokens, `aud` the RFC 8707 resource the
        grant resolved. Authlib's registry of generators (init_app puts its opaque-token one there) is not read."""
        return generate_token(grant_type, client, user=user, scope=scope, expires_in=expires_in,
                              include_refresh_token=include_refresh_token, audience=audience)

    def save_token(self, token: IssuedToken, request) -> None:
        """Each grant stores what it issued itself (save_token on the grant, through services.token_families)."""
        raise NotImplementedError(f"{request.payload.grant_type} grant: save_token belongs on the grant")

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


def document_client(client_id: str):
    """A Client ID Metadata Document client; one that cannot be used is invalid_client, with the reason."""
    try:
        return metadata_documents.resolve(client_id)
    except metadata_documents.DocumentRefused as refused:
        raise InvalidClientError(status_code=401, description=client_safe(str(refused))) from None


def with_issuer(response: Response) -> Response:
    """RFC 9207: every authorization response redirect carries `iss`."""
    if response.status_code == 302 and response.location:
        response.location = add_params_to_uri(response.location, [("iss", current_app.config["ISSUER"])])
    return response


def check_form_post(request: OAuth2Request) -> None:
    """RFC 6749 §3.2: parameters only in an application/x-www-form-urlencoded body (Flask would parse multipart too)."""
    if parse_options_header(request.headers.get("Content-Type", ""))[0].lower() != FORM_CONTENT_TYPE:
        raise InvalidRequestError(f"the request body must be {FORM_CONTENT_TYPE}")
    if request.args:
        raise InvalidRequestError("request parameters belong in the request body")


def check_token_request(request: OAuth2Request) -> None:
    """RFC 6749 §3.2: a form POST with grant_type; §2.3: one client authentication method per request."""
    check_form_post(request)
    form = request.form
    if not form.get("grant_type"):
        raise InvalidRequestError("grant_type is required")
    if "Authorization" in request.headers and "client_secret" in form:
        raise InvalidRequestError("use one client authentication method, not two")


def authenticate_client_secret_basic(query_client, request: ClientRequest):
    """RFC 6749 §2.3.1 client_secret_basic; a failed Authorization header never falls back to another method."""
    scheme = request.headers.get("Authorization", "").partition(" ")[0]
    if scheme.lower() != "basic":
        return None
    credentials = request.basic_credentials
    if credentials and not credentials[1]:
        return None  # "client_id:" with no secret: a public client, left to the "none" method
    client = client_with_secret(request.remembering(query_client), *credentials) if credentials else None
    if client is None:
        raise InvalidClientError(status_code=401, description="client authentication failed")
    return client


def authenticate_client_secret_post(query_client, request: ClientRequest):
    """RFC 6749 §2.3.1 in the body: an API key that fails is refused at once; a client as Authlib does it."""
    client_id, client_secret = request.form.get("client_id"), request.form.get("client_secret")
    key = presented_key(client_id, client_secret) if client_id and client_secret else None
    if key is not None:
        api_key = api_keys.authenticate(client_secret, key)
        if api_key is None:
            raise InvalidClientError(status_code=401, description="client authentication failed")
        return api_key
    return authlib_client_secret_post(request.remembering(query_client), request)


def authenticate_none(query_client, request: ClientRequest):
    """RFC 6749 §2.1 public clients, as Authlib authenticates them."""
    return authlib_none(request.remembering(query_client), request)


def client_with_secret(query_client, client_id: str, client_secret: str):
    """The client these credentials prove: registered, or an API key (client_id = key id, client_secret = the key)."""
    key = presented_key(client_id, client_secret)
    if key is not None:
        return api_keys.authenticate(client_secret, key)
    client = query_client(client_id)
    return client if client is not None and client.check_client_secret(client_secret) else None


def presented_key(client_id: str, client_secret: str) -> tuple[str, str] | None:
    """An API key as client credentials: client_id is its key id, client_secret the whole key; the key, parsed."""
    parsed = api_keys.parse(client_secret)
    return parsed if parsed is not None and parsed[0] == client_id else None
