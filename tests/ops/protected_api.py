"""An example downstream service: a Flask API that accepts Ostiary access tokens, verified offline with PyJWT."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import jwt
from flask import Flask, g, jsonify, request


class AccessTokenVerifier:
    """RFC 9068 access tokens from one issuer, for one audience, checked against the issuer's JWKS."""

    def __init__(self, issuer: str, audience: str, cache_seconds: float = 300, refetch_seconds: float = 30) -> None:
        self.issuer, self.audience = issuer, audience
        # The key set is cached for cache_seconds. A token with an unknown kid refetches it, but at most once
        # every refetch_seconds, so a flood of made-up kids cannot turn into a flood of requests to the issuer.
        self.jwks = jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json", lifespan=cache_seconds,
                                    cooldown_duration=refetch_seconds, timeout=5)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or jwt.InvalidTokenError / jwt.PyJWKClientError."""
        key = self.jwks.get_signing_key_from_jwt(token)
        decoded = jwt.decode_complete(
            token, key, algorithms=["RS256"], issuer=self.issuer, audience=self.audience,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "client_id", "jti"]},
        )
        if str(decoded["header"].get("typ", "")).lower() not in {"at+jwt", "application/at+jwt"}:
            raise jwt.InvalidTokenError("not an access token")  # e.g. an ID token: RFC 9068 §4
        return decoded["payload"]


def metadata_url(resource: str) -> str:
    """RFC 9728 §3.1: the well-known path goes between the host and the resource identifier's path."""
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{parts.path.rstrip('/')}"


def _refuse(status: int, error: str | None, description: str, scope: str | None = None):
    """RFC 6750 §3: the WWW-Authenticate challenge, and the same error as JSON; RFC 9728 §5.1: where the
    resource's metadata is, so a client can find the authorization server from a 401 alone."""
    challenge = f'Bearer realm="api", resource_metadata="{metadata_url(g.resource)}"'
    if error:
        challenge += f', error="{error}", error_description="{description}"'
    if scope:
        challenge += f', scope="{scope}"'
    response = jsonify(error=error or "invalid_request", error_description=description)
    response.status_code, response.headers["WWW-Authenticate"] = status, challenge
    return response


def require_token(verifier: AccessTokenVerifier, *scopes: str, roles: tuple[str, ...] = ()) -> Callable:
    """A valid access token with every scope listed and, if roles are listed, every one of them in its `roles` claim."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return _refuse(401, None, "a bearer token is required")
            try:
                claims = verifier.verify(token.strip())
            except jwt.PyJWKClientConnectionError:
                return _refuse(503, "temporarily_unavailable", "the issuer's keys cannot be fetched")
            except (jwt.InvalidTokenError, jwt.PyJWKClientError):
                return _refuse(401, "invalid_token", "the access token is invalid or expired")
            missing = set(scopes) - set(str(claims.get("scope", "")).split())
            if missing:
                return _refuse(403, "insufficient_scope", "the token lacks a required scope", " ".join(scopes))
            if not set(roles) <= set(claims.get("roles") or ()):
                return _refuse(403, "insufficient_scope", "the token lacks a required role")
            g.token = claims
            return view(*args, **kwargs)

        return wrapper

    return decorator


def create_api(issuer: str, audience: str, scopes: tuple[str, ...] = ("orders:read", "orders:write")) -> Flask:
    """`audience` is the resource identifier registered in Ostiary (`ostiary resources create --identifier`)."""
    api = Flask(__name__)
    verifier = AccessTokenVerifier(issuer, audience)
    api.extensions["token_verifier"] = verifier
    api.before_request(lambda: setattr(g, "resource", audience))

    # RFC 9728 §3: what `ostiary resources metadata <identifier>` prints, served where clients look for it.
    @api.get(urlsplit(metadata_url(audience)).path)
    def protected_resource_metadata():
        return jsonify(resource=audience, authorization_servers=[issuer], scopes_supported=list(scopes),
                       bearer_methods_supported=["header"])

    @api.get("/orders")
    @require_token(verifier, "orders:read")
    def list_orders():
        return jsonify(orders=[], subject=g.token["sub"])

    @api.delete("/orders/<int:order_id>")
    @require_token(verifier, "orders:write", roles=("support",))
    def cancel_order(order_id: int):
        return jsonify(cancelled=order_id, by=g.token["sub"])

    return api
