"""The one place grants and endpoints are registered with Authlib."""

from __future__ import annotations

from flask import Flask

from app.oauth.endpoints import EndSessionEndpoint, IntrospectionEndpoint, RevocationEndpoint
from app.oauth.grants import AuthorizationCodeGrant, ClientCredentialsGrant, RefreshTokenGrant, S256CodeChallenge
from app.oauth.oidc import OpenIDCode
from app.oauth.server import AuthorizationServer
from app.oauth.tokens import generate_token

# Grants and endpoints are stateless classes: registered once, shared by every app instance.
authorization = AuthorizationServer()
authorization.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True), OpenIDCode(require_nonce=False)])
authorization.register_grant(RefreshTokenGrant)
authorization.register_grant(ClientCredentialsGrant)
authorization.register_endpoint(RevocationEndpoint)
authorization.register_endpoint(IntrospectionEndpoint)
authorization.register_endpoint(EndSessionEndpoint)


def config_oauth(app: Flask) -> None:
    authorization.init_app(app)
    # init_app installs Authlib's opaque-token generator; ours issues RFC 9068 JWTs.
    authorization.register_token_generator("default", generate_token)
