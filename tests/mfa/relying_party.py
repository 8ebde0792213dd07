"""A relying party for the step-up tests: a confidential client with Authlib's OAuth2Session, verifying the ID
token offline with PyJWT against the JWKS."""

from __future__ import annotations

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.flows import Browser, query_of


class RelyingParty:
    """A confidential client with Authlib's OAuth2Session, verifying ID tokens with PyJWT against the JWKS."""

    def __init__(self, base_url: str, registered) -> None:
        self.base_url = base_url
        self.registered = registered
        self.metadata = requests.get(f"{base_url}/.well-known/openid-configuration").json()
        self.session = OAuth2Session(registered.client_id, registered.client_secret, scope="openid email",
                                     redirect_uri=registered.redirect_uri, code_challenge_method="S256")
        self.verifier = "v" * 43

    def authorization_url(self, **params: str) -> str:
        url, _ = self.session.create_authorization_url(self.metadata["authorization_endpoint"],
                                                       code_verifier=self.verifier, nonce="n-1", **params)
        return url

    def id_token(self, callback: str) -> dict:
        token = self.session.fetch_token(self.metadata["token_endpoint"], authorization_response=callback,
                                         code_verifier=self.verifier)
        jwks = jwt.PyJWKClient(self.metadata["jwks_uri"])
        return jwt.decode(token["id_token"], jwks.get_signing_key_from_jwt(token["id_token"]).key,
                          algorithms=["RS256"], audience=self.registered.client_id, issuer=self.base_url)


def authorize(browser: Browser, url: str) -> requests.Response:
    return browser.authorize(query_of(url))
