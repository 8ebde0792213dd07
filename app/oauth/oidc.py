"""OpenID Connect: the ID token extension and the claims userinfo returns."""

from __future__ import annotations

import time
from typing import Any

from authlib.oidc.core.grants import OpenIDCode as _OpenIDCode
from authlib.oidc.core.util import create_half_hash
from flask import current_app

from app.models import User
from app.oauth.signing import sign


class OpenIDCode(_OpenIDCode):
    """ID tokens (OpenID Connect Core §2) signed RS256 with the current key."""

    def exists_nonce(self, nonce: str, request) -> bool:
        # Codes are single use and bound to their nonce; the RP checks nonce freshness.
        return False

    def encode_id_token(self, token: dict[str, Any], request) -> str:
        config = current_app.config
        code = request.authorization_code
        issued_at = int(time.time())
        claims: dict[str, Any] = {
            "iss": config["ISSUER"],
            "sub": request.user.sub,
            "aud": request.client.client_id,
            "exp": issued_at + config["ID_TOKEN_TTL_SECONDS"],
            "iat": issued_at,
            "auth_time": code.auth_time,
            "amr": code.get_amr(),
            "acr": code.get_acr(),
            "at_hash": create_half_hash(token["access_token"], "RS256").decode("ascii"),
        }
        if code.nonce:
            claims["nonce"] = code.nonce
        if code.idp:
            claims["idp"] = code.idp  # the upstream provider of a federated sign-in (README "Federation")
        roles = released_roles(request.user, code.get_scope())
        if roles is not None:
            claims["roles"] = roles
        return sign(claims)


def userinfo_claims(user: User, scope: str) -> dict[str, Any]:
    """OpenID Connect Core §5.4: claims released per granted scope."""
    scopes = set(scope.split())
    claims: dict[str, Any] = {"sub": user.sub}
    if "profile" in scopes:
        claims["name"] = user.name
        claims["preferred_username"] = user.username or user.email
        claims["updated_at"] = user.updated_at
    if "email" in scopes:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    claims["roles"] = released_roles(user, scope)
    return {k: v for k, v in claims.items() if v is not None}


def released_roles(user: User | None, scope: str | None) -> list[str] | None:
    """The `roles` claim of an ID token, userinfo or access token: the end-user's roles, with the `roles` scope only."""
    if user is None or "roles" not in (scope or "").split():
        return None
    return list(user.roles or [])
