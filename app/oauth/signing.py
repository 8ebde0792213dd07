"""Sign and verify our own JWTs with the keyring; RS256 only, algorithm pinned."""

from __future__ import annotations

from typing import Any

from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jws import JWSRegistry, extract_compact

from app.security.keyring import KeyRing
from app.security.keys import SIGNING_ALG

_REGISTRY = JWSRegistry(algorithms=[SIGNING_ALG])


def keyring() -> KeyRing:
    return current_app.extensions["ostiary.keyring"]


def sign(claims: dict[str, Any], typ: str | None = None) -> str:
    """RFC 7515 compact JWS with the current key; its kid names the published key that verifies it."""
    current = keyring().current
    header = {"alg": SIGNING_ALG, "kid": current.kid}
    if typ:
        header["typ"] = typ
    return jwt.encode(header, claims, current.key, algorithms=[SIGNING_ALG])


class InvalidJWT(Exception):
    """Not a JWT we issued, or one that fails verification."""


def verify(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Signature check against our own keys only: (header, claims). Claims are not validated here."""
    if not token or len(token) > 8192 or token.count(".") != 2:
        raise InvalidJWT("malformed")
    try:
        header = extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError) as exc:
        raise InvalidJWT("malformed") from exc
    if header.get("alg") != SIGNING_ALG:
        raise InvalidJWT("algorithm not allowed")
    if "jku" in header or "jwk" in header or "x5u" in header or "crit" in header:
        raise InvalidJWT("header parameter not allowed")
    kid = header.get("kid")
    key = keyring().find(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidJWT("unknown key")
    try:
        decoded = jwt.decode(token, key, algorithms=[SIGNING_ALG], registry=_REGISTRY)
    except (JoseError, ValueError) as exc:
        raise InvalidJWT("bad signature") from exc
    return dict(decoded.header), dict(decoded.claims)
