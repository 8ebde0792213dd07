"""The one place grants and endpoints are registered with Authlib."""

from __future__ import annotations

from flask import Flask

from app.oauth.endpoints import EndSessionEndpoint, IntrospectionEndpoint, RevocationEndpoint
from app.oauth.grants import AuthorizationCodeGrant, ClientCredentialsGrant, RefreshTokenGrant, S256CodeChallenge
from app.oauth.oidc import OpenIDCode
from app.oauth.registration import ClientConfigurationEndpoint, ClientRegistrationEndpoint
from app.oauth.server import AuthorizationServer

# Grants and endpoints are stateless classes: registered once, shared by every app instance.
authorization = AuthorizationServer()
authorization.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True), OpenIDCode(require_nonce=False)])
authorization.register_grant(RefreshTokenGrant)
authorization.register_grant(ClientCredentialsGrant)
authorization.register_endpoint(RevocationEndpoint)
authorization.register_endpoint(IntrospectionEndpoint)
authorization.register_endpoint(EndSessionEndpoint)
authorization.register_endpoint(ClientRegistrationEndpoint)
authorization.register_endpoint(ClientConfigurationEndpoint)


def config_oauth(app: Flask) -> None:
    # Tokens come from AuthorizationServer.generate_token, whatever generator init_app registers.
    authorization.init_app(app)
