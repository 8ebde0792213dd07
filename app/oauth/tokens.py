"""RFC 9068 JWT access tokens and opaque refresh tokens."""

from __future__ import annotations

import time
from typing import Any

from flask import current_app

from app.oauth.oidc import released_roles
from app.oauth.signing import sign
from app.security.secrets import generate_secret

ACCESS_TOKEN_TYP = "at+jwt"


class IssuedToken(dict):
    """The RFC 6749 §5.1 response body, plus what storage needs to know about it."""

    jti: str
    issued_at: int
    expires_at: int


def default_audience(client: Any, scope: str | None) -> str | list[str]:
    """`aud` without an RFC 8707 resource: the client's, else the server's; plus the issuer if it may call userinfo.

    Userinfo accepts only tokens naming the issuer, so a resource server cannot replay the tokens it receives
    there; a token for the client's own API that carries `openid` keeps working at userinfo (RFC 7519 §4.1.3
    allows several audiences, and a verifier of either one accepts it).
    """
    config = current_app.config
    audience = client.audience or config["DEFAULT_AUDIENCE"] or config["ISSUER"]
    if audience != config["ISSUER"] and "openid" in (scope or "").split():
        return [audience, config["ISSUER"]]
    return audience


def family_ends_at(auth_time: int) -> int:
    """A refresh token family ends REFRESH_FAMILY_MAX_SECONDS after the sign-in it came from (auth_time)."""
    return auth_time + current_app.config["REFRESH_FAMILY_MAX_SECONDS"]


def live_families_signed_in_after(moment: int) -> int:
    """The families alive at `moment` are those whose sign-in (auth_time) is later than this: family_ends_at."""
    return moment - current_app.config["REFRESH_FAMILY_MAX_SECONDS"]


def refresh_token_expires_at(issued_at: int, auth_time: int) -> int:
    """Each rotation starts a new REFRESH_TOKEN_TTL_SECONDS, but no token outlives its family."""
    return min(issued_at + current_app.config["REFRESH_TOKEN_TTL_SECONDS"], family_ends_at(auth_time))


def generate_token(
    grant_type: str,
    client: Any,
    user: Any = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
    audience: str | None = None,
) -> IssuedToken:
    """The token generator for every grant type; `audience` is the RFC 8707 resource the request named."""
    config = current_app.config
    issued_at = int(time.time())
    lifetime = expires_in or config["ACCESS_TOKEN_TTL_SECONDS"]
    jti = generate_secret(16)
    claims: dict[str, Any] = {
        "iss": config["ISSUER"],
        "sub": user.sub if user is not None else client.client_id,
        "aud": audience or default_audience(client, scope),
        "exp": issued_at + lifetime,
        "iat": issued_at,
        "jti": jti,
        "client_id": client.client_id,
    }
    if scope:
        claims["scope"] = scope
    roles = released_roles(user, scope)
    if roles is not None:
        claims["roles"] = roles
    token = IssuedToken(
        access_token=sign(claims, typ=ACCESS_TOKEN_TYP),
        token_type="Bearer",
        expires_in=lifetime,
    )
    if scope:
        token["scope"] = scope
    if include_refresh_token:
        token["refresh_token"] = generate_secret(32)
    token.jti = jti
    token.issued_at = issued_at
    token.expires_at = claims["exp"]
    return token
