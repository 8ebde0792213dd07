"""RFC 7591 §2 client metadata as a client presents it (registration body, metadata document) and as we answer it.

This only translates names and JSON types; the rules themselves are services.clients.apply_metadata's, the same
for every client whoever registers it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.errors import ValidationError
from app.models import Client
from app.models.client import CONFIDENTIAL_AUTH_METHODS
from app.services.clients import LINK_FIELDS

PUBLIC_AUTH_METHOD = "none"
STRING_FIELDS = ("client_name", "scope", "token_endpoint_auth_method", "software_id", "software_version",
                 *LINK_FIELDS)
LIST_FIELDS = ("redirect_uris", "post_logout_redirect_uris", "grant_types", "response_types", "contacts")
# Defined by RFC 7591 or OpenID Connect Dynamic Client Registration, but nothing here would honour them: a client
# that relies on one is told so rather than registered with it silently dropped.
UNSUPPORTED_FIELDS = ("jwks", "jwks_uri", "software_statement", "request_uris", "sector_identifier_uri",
                      "initiate_login_uri", "id_token_signed_response_alg", "id_token_encrypted_response_alg",
                      "userinfo_signed_response_alg", "request_object_signing_alg", "frontchannel_logout_uri",
                      "backchannel_logout_uri", "tls_client_auth_subject_dn", "token_endpoint_auth_signing_alg")
MAX_LIST_ITEMS = 20
DEFAULT_NAME = "Unnamed client"


@dataclass(frozen=True)
class PresentedMetadata:
    """What a client asked for, in our names, ready for services.clients.apply_metadata."""

    public: bool
    changes: dict[str, Any]


def presented_metadata(document: Mapping[str, Any], *, default_auth_method: str) -> PresentedMetadata:
    """RFC 7591 §2 names and types; unknown names are ignored (§2: "MUST ignore"), unsupported ones refused."""
    for field in UNSUPPORTED_FIELDS:
        if document.get(field) not in (None, "", []):
            raise ValidationError(f"{field} is not supported", field=field)
    values = {field: _string(document, field) for field in STRING_FIELDS}
    lists = {field: _strings(document, field) for field in LIST_FIELDS}
    method = values["token_endpoint_auth_method"] or default_auth_method
    if method not in (PUBLIC_AUTH_METHOD, *CONFIDENTIAL_AUTH_METHODS):
        raise ValidationError(f"token_endpoint_auth_method {method!r} is not supported",
                              field="token_endpoint_auth_method")
    grants = lists["grant_types"] if lists["grant_types"] is not None else ["authorization_code"]
    response_types = lists["response_types"] if lists["response_types"] is not None else ["code"]
    # §2.1: response_types and grant_types must agree; "code" is the one response type served.
    if set(response_types) - {"code"}:
        raise ValidationError("response_types may only be code", field="response_types")
    if ("code" in response_types) != ("authorization_code" in grants):
        raise ValidationError("response_type code and grant type authorization_code go together", field="grant_types")
    changes: dict[str, Any] = {
        "name": values["client_name"] or DEFAULT_NAME,
        "redirect_uris": lists["redirect_uris"] or [],
        "post_logout_redirect_uris": lists["post_logout_redirect_uris"] or [],
        "grant_types": grants,
        "scope": values["scope"],
        **{field: values[field] for field in LINK_FIELDS},
    }
    return PresentedMetadata(public=method == PUBLIC_AUTH_METHOD, changes=changes)


def registered_metadata(client: Client) -> dict[str, Any]:
    """RFC 7591 §3.2.1: the client's metadata as registered, in RFC 7591 names."""
    body: dict[str, Any] = {
        "client_id": client.client_id,
        "client_id_issued_at": client.created_at,
        "client_name": client.name,
        "redirect_uris": list(client.redirect_uris or []),
        "grant_types": list(client.grant_types or []),
        "response_types": ["code"] if "authorization_code" in (client.grant_types or []) else [],
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "scope": client.scope,
    }
    if client.post_logout_redirect_uris:
        body["post_logout_redirect_uris"] = list(client.post_logout_redirect_uris)
    body.update({field: getattr(client, field) for field in LINK_FIELDS if getattr(client, field)})
    if not client.is_public:
        body["client_secret_expires_at"] = 0  # §3.2.1: the secret does not expire
    return body


def _string(document: Mapping[str, Any], field: str) -> str | None:
    value = document.get(field)
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", field=field)
    return value


def _strings(document: Mapping[str, Any], field: str) -> list[str] | None:
    value = document.get(field)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(f"{field} must be an array of strings", field=field)
    if len(value) > MAX_LIST_ITEMS:
        raise ValidationError(f"{field} may hold at most {MAX_LIST_ITEMS} values", field=field)
    return list(dict.fromkeys(value))
