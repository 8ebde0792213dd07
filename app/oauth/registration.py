"""RFC 7591 registration and RFC 7592 management endpoints: Authlib's classes, our storage and our rules."""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import JsonRequest, OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749.requests import JsonPayload
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint as AuthlibRegistrationEndpoint
from authlib.oauth2.rfc7591 import InvalidClientMetadataError, InvalidRedirectURIError
from authlib.oauth2.rfc7592 import ClientConfigurationEndpoint as AuthlibConfigurationEndpoint
from flask import current_app, request, url_for

from app.egress import InvalidJSON, json_object, media_type
from app.errors import ValidationError
from app.models.client import REGISTERED_OPENLY, REGISTERED_WITH_TOKEN
from app.oauth.errors import SlowDownError, client_safe
from app.security.throttle import Counter, Throttled, network_of, throttle
from app.services import client_registration, clients
from app.services.client_metadata import registered_metadata

NO_STORE_HEADERS = [("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache")]
REDIRECT_FIELDS = frozenset({"redirect_uris", "post_logout_redirect_uris"})
MAX_BODY_DEPTH = 4


class BodyPayload(JsonPayload):
    """The request body as one strict JSON object (I-JSON), parsed when first read, inside the endpoint's error
    handling: a body that is not one is an RFC 7591 §3.2.2 error, never Flask's HTML 400/415."""

    def __init__(self) -> None:
        self._data: dict[str, Any] | None = None

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            if media_type(request.content_type) != "application/json":
                raise InvalidRequestError("the request body must be application/json")
            try:
                self._data = json_object(request.get_data(cache=True), max_depth=MAX_BODY_DEPTH)
            except InvalidJSON as exc:
                raise InvalidClientMetadataError(exc.description) from None
        return self._data


def registration_request() -> JsonRequest:
    json_request = JsonRequest(request.method, request.url, request.headers)
    json_request.payload = BodyPayload()
    return json_request


def metadata_error(error: ValidationError) -> OAuth2Error:
    """RFC 7591 §3.2.2: a refused redirect URI is invalid_redirect_uri, any other field invalid_client_metadata."""
    description = client_safe(error.description)
    if error.field in REDIRECT_FIELDS:
        return InvalidRedirectURIError(description)
    return InvalidClientMetadataError(description)


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def registration_info(client_id: str, token: str) -> dict[str, str]:
    """RFC 7592 §3: where the client manages its registration, and with which token."""
    uri = current_app.config["ISSUER"] + url_for("registration.configure", client_id=client_id)
    return {"registration_client_uri": uri, "registration_access_token": token}


def count_registration() -> None:
    """Every registration attempt from an address counts, successful or not: a flood of clients is refused."""
    config = current_app.config
    counter = Counter("registration_ip", network_of(request.remote_addr), config["REGISTRATIONS_PER_IP_PER_HOUR"], 3600)
    try:
        throttle().count_failure(counter)
    except Throttled as refused:
        error = SlowDownError(refused.retry_after_seconds)
        error.description = "too many client registrations from this address, retry later"
        raise error from None


class ClientRegistrationEndpoint(AuthlibRegistrationEndpoint):
    """RFC 7591 §3 at /oauth/register, under OSTIARY_REGISTRATION ("token": an initial access token from
    `ostiary clients initial-token`, used up by the registration; "open": anyone)."""

    def create_endpoint_request(self, _request: object) -> JsonRequest:
        return registration_request()

    def authenticate_token(self, json_request: JsonRequest) -> str:
        if client_registration.policy() == "open":
            return REGISTERED_OPENLY
        token = bearer_token()
        if token is None:
            raise InvalidTokenError(description="an initial access token is required")
        return token

    def create_registration_response(self, json_request: JsonRequest) -> tuple[int, dict[str, Any], list]:
        count_registration()
        credential = self.authenticate_token(json_request)
        document = json_request.payload.data
        try:
            if credential == REGISTERED_OPENLY:
                registered: client_registration.Registered | None = client_registration.register(
                    document, via=REGISTERED_OPENLY)
            else:
                registered = client_registration.register_with_initial_token(
                    document, credential, via=REGISTERED_WITH_TOKEN)
        except ValidationError as error:
            raise metadata_error(error) from None
        if registered is None:
            raise InvalidTokenError(description="the initial access token is invalid, expired or used")
        body = registered_metadata(registered.client)
        if registered.client_secret:
            body["client_secret"] = registered.client_secret
        body.update(registration_info(registered.client.client_id, registered.registration_access_token))
        return 201, body, NO_STORE_HEADERS


class ManagedClient:
    """The registration access token a request presented, already checked against the client it names."""

    def __init__(self, token: str) -> None:
        self.token = token

    def check_client(self, client: Any) -> bool:
        return True


class ClientConfigurationEndpoint(AuthlibConfigurationEndpoint):
    """RFC 7592 §2 at /oauth/register/<client_id>: read (GET), replace (PUT) and delete (DELETE) a registration
    with its registration access token."""

    def create_endpoint_request(self, _request: object) -> JsonRequest:
        return registration_request()

    def authenticate_token(self, json_request: JsonRequest) -> ManagedClient:
        token = bearer_token()
        if token is None:
            raise InvalidTokenError(description="a registration access token is required")
        return ManagedClient(token)

    def authenticate_client(self, json_request: JsonRequest) -> Any:
        # §2: an unknown client and a wrong token are answered alike, so neither tells which client_ids exist.
        client_id = (request.view_args or {}).get("client_id", "")
        client = client_registration.authenticate(client_id, json_request.credential.token)
        if client is None:
            raise InvalidTokenError(description="the registration access token is invalid")
        return client

    def check_permission(self, client: Any, json_request: JsonRequest) -> bool:
        return True

    def introspect_client(self, client: Any) -> dict[str, Any]:
        return registered_metadata(client)

    def generate_client_registration_info(self, client: Any, json_request: JsonRequest) -> dict[str, str]:
        return registration_info(client.client_id, json_request.credential.token)

    def extract_client_metadata(self, json_request: JsonRequest) -> dict[str, Any]:
        return json_request.payload.data  # validated by update_client, by the rules every client follows

    def update_client(self, client: Any, client_metadata: dict[str, Any], json_request: JsonRequest) -> Any:
        try:
            return client_registration.update_registration(client, client_metadata)
        except ValidationError as error:
            raise metadata_error(error) from None

    def delete_client(self, client: Any, json_request: JsonRequest) -> None:
        clients.delete_client(client, actor=None)

    def create_delete_client_response(self, client: Any, json_request: JsonRequest) -> tuple[int, str, list]:
        self.delete_client(client, json_request)
        return 204, "", NO_STORE_HEADERS[1:]

    def get_server_metadata(self) -> dict[str, Any]:
        return {}
