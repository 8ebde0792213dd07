"""Verify our own access tokens the way a resource server would: signature, typ, iss, exp, revocation."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, NoReturn

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import MissingAuthorizationError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Response, abort, current_app, json

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


class JWTAccessTokenValidator(BearerTokenValidator):
    """RFC 6750 Bearer validation for our own endpoints (userinfo): tokens whose audience is the issuer."""

    def authenticate_token(self, token_string: str) -> AccessToken | None:
        try:
            # RFC 8707 §2 / RFC 9068 §4: a token minted for another resource server is not for us.
            return verify_access_token(token_string, audience=current_app.config["ISSUER"])
        except InvalidJWT:
            return None


def _quoted(value: str) -> str:
    # RFC 6750 §3: error and error_description exclude '"' and '\\'.
    return "".join(c for c in value if 0x20 <= ord(c) <= 0x7E and c not in '"\\')


def bearer_error_response(error: OAuth2Error, scope: str | None = None) -> Response:
    """RFC 6750 §3: a WWW-Authenticate challenge; no error code when no Bearer credentials came at all."""
    if isinstance(error, (MissingAuthorizationError, UnsupportedTokenTypeError)):
        response = Response(status=401)
        response.headers["WWW-Authenticate"] = "Bearer"
    else:
        description = _quoted(error.get_error_description() or "")
        challenge = f'Bearer error="{_quoted(error.error)}", error_description="{description}"'
        if scope:
            challenge += f', scope="{_quoted(scope)}"'
        body = {"error": error.error, "error_description": description}
        response = Response(json.dumps(body), status=error.status_code, mimetype="application/json")
        response.headers["WWW-Authenticate"] = challenge
    response.headers["Cache-Control"] = "no-store"
    return response


class BearerProtector(ResourceProtector):
    """Authlib's protector, with errors rendered here so no generic HTTP error handler can rewrite them."""

    def raise_error_response(self, error: OAuth2Error) -> NoReturn:
        abort(bearer_error_response(error))


require_oauth = BearerProtector()
require_oauth.register_token_validator(JWTAccessTokenValidator())
