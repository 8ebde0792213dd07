"""Fetch one client_credentials token from an issuer and check it as a resource server would.

usage: verify_token.py ISSUER CLIENT_ID CLIENT_SECRET SCOPE

Discovery gives the token endpoint and the JWKS; the token must be an RS256 JWT that verifies
against that JWKS, with typ at+jwt (RFC 9068 §2.1), our issuer, the client's id, the requested
scope and an expiry in the future. Prints the token endpoint on success; exits 1 on any failure.
Works for any issuer (Ostiary and the peer alike), so both are held to the same check.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import urllib.parse
import urllib.request
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet

TIMEOUT_SECONDS = 10


def fetch_json(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        return json.load(response)


def basic_auth(client_id: str, client_secret: str) -> str:
    # RFC 6749 §2.3.1: form-encode id and secret before Base64.
    pair = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def check(issuer: str, client_id: str, client_secret: str, scope: str) -> tuple[str, dict[str, Any]]:
    meta = fetch_json(f"{issuer}/.well-known/openid-configuration")
    if meta.get("issuer") != issuer:
        raise ValueError(f"discovery issuer {meta.get('issuer')!r} is not {issuer!r}")
    token_endpoint = meta["token_endpoint"]
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": scope}).encode()
    reply = fetch_json(token_endpoint, body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
        "Authorization": basic_auth(client_id, client_secret),
    })
    if reply.get("token_type", "").lower() != "bearer":
        raise ValueError(f"token_type is {reply.get('token_type')!r}")
    keys = KeySet.import_key_set(fetch_json(meta["jwks_uri"]))
    token = jwt.decode(reply["access_token"], keys, algorithms=["RS256"])
    header, claims = token.header, token.claims
    if str(header.get("typ", "")).lower() not in {"at+jwt", "application/at+jwt"}:
        raise ValueError(f"typ is {header.get('typ')!r}")
    if claims.get("iss") != issuer:
        raise ValueError(f"iss is {claims.get('iss')!r}")
    if claims.get("client_id") != client_id:
        raise ValueError(f"client_id is {claims.get('client_id')!r}")
    if scope not in str(claims.get("scope", "")).split():
        raise ValueError(f"scope is {claims.get('scope')!r}")
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= time.time():
        raise ValueError(f"exp is {claims.get('exp')!r}")
    return token_endpoint, {"kid": header.get("kid"), "expires_in": claims["exp"] - claims.get("iat", 0),
                            "aud": claims.get("aud"), "bytes": len(reply["access_token"])}


def main(argv: list[str]) -> int:
    if len(argv) != 5:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    issuer, client_id, client_secret, scope = argv[1:]
    try:
        token_endpoint, summary = check(issuer, client_id, client_secret, scope)
    except Exception as exc:  # noqa: BLE001  any failure is reported the same way: the benchmark must not start
        print(f"verify {issuer}: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"verify {issuer}: ok RS256 at+jwt {summary}", file=sys.stderr)
    print(token_endpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
