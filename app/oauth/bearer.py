"""Verify our own access tokens the way a resource server would: signature, typ, iss, exp, revocation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, MissingAuthorizationError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6750 import BearerTokenValidator, InsufficientScopeError, InvalidTokenError
from flask import Response, abort, current_app, json
from flask import request as http_request

from app.oauth.errors import client_safe
from app.oauth.signing import InvalidJWT, verify
from app.oauth.tokens import ACCESS_TOKEN_TYP
from app.services import token_families

# Tolerated clock difference for iat/nbf of tokens we verify.
CLOCK_SKEW_SECONDS = 30


@dataclass
class AccessToken:
    """A verified JWT access token, shaped as Authlib's TokenMixin."""

    claims: dict[str, Any]

    @property
    def jti(self) -> str:
        return self.claims["jti"]

    @property
    def audiences(self) -> list[str]:
        return audiences(self.claims.get("aud"))

    def get_scope(self) -> str:
        return self.claims.get("scope", "")

    def check_client(self, client) -> bool:
        return self.claims.get("client_id") == client.get_client_id()

    def get_expires_in(self) -> int:
        return self.claims["exp"] - self.claims["iat"]

    def is_expired(self) -> bool:
        return self.claims["exp"] <= time.time()

    def is_revoked(self) -> bool:
        return token_families.is_access_token_revoked(self.jti)


def is_access_token_typ(typ: Any) -> bool:
    # RFC 9068 §4: "at+jwt" or "application/at+jwt", compared case-insensitively.
    return isinstance(typ, str) and typ.lower() in {ACCESS_TOKEN_TYP, "application/" + ACCESS_TOKEN_TYP}


def verify_access_token(token: str, audience: str | None = None) -> AccessToken:
    """An access token we issued (for `audience`, if given), or InvalidJWT. Expiry and revocation are the caller's."""
    header, claims = verify(token)
    if not is_access_token_typ(header.get("typ")):
        raise InvalidJWT("not an access token")
    if claims.get("iss") != current_app.config["ISSUER"]:
        raise InvalidJWT("wrong issuer")
    for name in ("exp", "iat"):
        if not isinstance(claims.get(name), int):
            raise InvalidJWT(f"missing {name}")
    for name in ("jti", "client_id", "sub"):
        if not isinstance(claims.get(name), str):
            raise InvalidJWT(f"missing {name}")
    if not isinstance(claims.get("scope", ""), str):
        raise InvalidJWT("malformed scope")
    if audience is not None and audience not in audiences(claims.get("aud")):
        raise InvalidJWT("wrong audience")
    if claims["iat"] > time.time() + CLOCK_SKEW_SECONDS or claims.get("nbf", 0) > time.time() + CLOCK_SKEW_SECONDS:
        raise InvalidJWT("not yet valid")
    return AccessToken(claims)


def audiences(aud: Any) -> list[str]:
    """RFC 7519 §4.1.3: `aud` is one string or an array of them."""
    if isinstance(aud, str):
        return [aud]
    return [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []


class AudienceTokenValidator(BearerTokenValidator):
    """RFC 6750 Bearer validation of our own access tokens for one audience (RFC 8707 §2, RFC 9068 §4)."""

    def __init__(self, audience: Callable[[], str]) -> None:
        super().__init__()
        self.audience = audience

    def authenticate_token(self, token_string: str) -> AccessToken | None:
        try:
            # A token minted for another resource server is not for us.
            return verify_access_token(token_string, audience=self.audience())
        except InvalidJWT:
            return None


# RFC 6750 §3: error and error_description exclude '"' and '\\'.
_quoted = client_safe


def description(error: OAuth2Error) -> str:
    return error.get_error_description() or ""


def bearer_error_response(error: OAuth2Error, scope: str | None = None) -> Response:
    """RFC 6750 §3: 401 or 403 with a WWW-Authenticate challenge, and the {"error", "error_description"} body of every
    OAuth error. §3.1: a request without Bearer credentials gets a challenge naming no error; insufficient_scope
    names the `scope` the resource requires."""
    if isinstance(error, (MissingAuthorizationError, UnsupportedTokenTypeError)):
        # No Authorization header, another scheme, or "Bearer" alone: the client did not know to authenticate.
        error = InvalidTokenError(description="a Bearer access token is required")
        challenge = "Bearer"
    else:
        challenge = f'Bearer error="{_quoted(error.error)}", error_description="{_quoted(description(error))}"'
        if scope and isinstance(error, InsufficientScopeError):
            challenge += f', scope="{_quoted(scope)}"'
    body = {"error": error.error, "error_description": _quoted(description(error))}
    response = Response(json.dumps(body), status=error.status_code, mimetype="application/json")
    response.headers["WWW-Authenticate"] = challenge
    response.headers["Cache-Control"] = "no-store"
    return response


class BearerProtector(ResourceProtector):
    """The resource servers Ostiary is itself (userinfo, the admin API): our access tokens for one audience, and one
    RFC 6750 challenge for every refusal, rendered here so that no generic HTTP error handler can rewrite it."""

    def __init__(self, audience: Callable[[], str], scope: str | None = None, *, form_body: bool = False) -> None:
        super().__init__()
        self.scope = scope  # what the resource requires, named in an insufficient_scope challenge
        self.form_body = form_body  # RFC 6750 §2.2 accepted besides the Authorization header
        self.register_token_validator(AudienceTokenValidator(audience))

    def parse_request_authorization(self, request: Any) -> tuple[Any, str]:
        """RFC 6750 §2.1, and where accepted §2.2 (the form-encoded body); §2: a client uses one method, never two."""
        in_body = self._form_body_token()
        if in_body is None:
            return super().parse_request_authorization(request)
        if request.headers.get("Authorization"):
            raise InvalidRequestError("the access token is in both the Authorization header and the body")
        return self.get_token_validator(BearerTokenValidator.TOKEN_TYPE), in_body

    def _form_body_token(self) -> str | None:
        """§2.2: only in a single-part application/x-www-form-urlencoded body of a request that is not a GET."""
        if (not self.form_body or http_request.method == "GET"
                or http_request.mimetype != "application/x-www-form-urlencoded"):
            return None
        presented = http_request.form.getlist("access_token")
        if len(presented) > 1:
            raise InvalidRequestError("parameter 'access_token' is repeated")
        return presented[0] if presented else None

    def challenge(self, error: OAuth2Error) -> Response:
        return bearer_error_response(error, self.scope)

    def raise_error_response(self, error: OAuth2Error) -> NoReturn:
        abort(self.challenge(error))


def issuer() -> str:
    return current_app.config["ISSUER"]


# Userinfo: OpenID Connect Core §5.3, for tokens naming the issuer among their audiences; §5.3.1 allows the
# token in a POST body, which relying-party libraries (pyoidc) send by default.
require_oauth = BearerProtector(audience=issuer, scope="openid", form_body=True)
