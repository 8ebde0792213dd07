"""Revocation (RFC 7009), introspection (RFC 7662) and RP-initiated logout."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSessionEndpoint
from flask import current_app, g

from app.models import RefreshToken
from app.oauth.bearer import AccessToken, verify_access_token
from app.oauth.signing import InvalidJWT, keyring
from app.security.keys import SIGNING_ALG
from app.services import grants as storage


def query_token(token_string: str, token_type_hint: str | None) -> RefreshToken | AccessToken | None:
    """The hint only orders the look-ups (RFC 7009 §2.1): a wrong hint still finds the token."""
    lookups = [_access_token, _refresh_token]
    if token_type_hint == "refresh_token":
        lookups.reverse()
    for lookup in lookups:
        found = lookup(token_string)
        if found is not None:
            return found
    return None


def _access_token(token_string: str) -> AccessToken | None:
    try:
        return verify_access_token(token_string)
    except InvalidJWT:
        return None


def _refresh_token(token_string: str) -> RefreshToken | None:
    return storage.find_refresh_token(token_string)


class RevocationEndpoint(_RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string: str, token_type_hint: str | None):
        return query_token(token_string, token_type_hint)

    def revoke_token(self, token, request) -> None:
        """RFC 7009 §2.1: a refresh token takes its whole family (and its access tokens) with it."""
        if isinstance(token, RefreshToken):
            storage.revoke_family(token.family_id)
        else:
            storage.revoke_access_token(token.jti, token.claims["client_id"], token.claims["exp"])


class IntrospectionEndpoint(_IntrospectionEndpoint):
    # Only authenticated (confidential) clients may introspect.
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string: str, token_type_hint: str | None):
        return query_token(token_string, token_type_hint)

    def check_permission(self, token, client, request) -> bool:
        return True

    def create_introspection_payload(self, token) -> dict[str, Any]:
        if isinstance(token, RefreshToken) and not token.user.is_active:
            return {"active": False}
        return super().create_introspection_payload(token)

    def introspect_token(self, token) -> dict[str, Any]:
        if isinstance(token, AccessToken):
            return {"active": True, "token_type": "Bearer", **token.claims}
        return {
            "active": True,
            "scope": token.scope,
            "client_id": token.client_id,
            "sub": token.user.sub,
            "iss": current_app.config["ISSUER"],
            "exp": token.expires_at,
            "iat": token.issued_at,
        }


class EndSessionEndpoint(_EndSessionEndpoint):
    """OpenID Connect RP-Initiated Logout 1.0 §2-3."""

    def get_server_jwks(self):
        return keyring().key_set

    def get_algorithms(self) -> list[str]:
        return [SIGNING_ALG]

    def end_session(self, end_session_request) -> None:
        # The view owns the browser cookie; it ends the session it finds on g.
        g.end_session = True
