"""RFC 8707 resource indicators: which resource (the access token's `aud`) a request may name."""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidScopeError

from app.oauth.errors import InvalidTargetError
from app.scopes import STANDARD_SCOPES
from app.services.resources import ResourceServer, find_resource
from app.uris import is_resource_identifier


def requested_resource(request: OAuth2Request) -> str | None:
    return request.payload.data.get("resource") or None


def resolve_resource(client: Any, identifier: str | None, scope: str | None) -> ResourceServer | None:
    """The resource a request may name with this scope; None means the default audience."""
    if identifier is None:
        return None
    if not is_resource_identifier(identifier):
        raise InvalidTargetError("resource must be an absolute URI without a fragment")
    found = find_resource(identifier)
    if found is None or not client.allows_resource(found.identifier, list(found.scopes)):
        raise InvalidTargetError("the client may not request this resource")
    for token in (scope or "").split():
        # OpenID Connect scopes concern Ostiary itself (ID token, userinfo) and may come along.
        if token not in found.scopes and token not in STANDARD_SCOPES:
            raise InvalidScopeError(f"scope '{token}' is not a scope of the requested resource")
    return found


def bound_resource(requested: str | None, bound: str | None) -> str | None:
    """RFC 8707 §2.2: a token request may repeat the resource its grant was bound to, not name another."""
    if requested and bound and requested != bound:
        raise InvalidTargetError("the resource differs from the one this grant was issued for")
    return requested or bound
